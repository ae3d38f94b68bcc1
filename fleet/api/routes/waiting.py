"""Why orders wait: the orders still waiting for a vehicle, each with what holds it back now.

Only the dispatch loop knows (its vehicles, the gate lanes, the last assignment round), so this route is the
leader's alone: read workers pass it on, a standby refuses it with the leader's name (docs/operations.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from fleet.api.deps import Reader, ServicesDep
from fleet.dispatch.waiting import WaitingOrder
from fleet.orders.reads import MAX_PAGE

router = APIRouter(tags=["orders"])


@router.get("/waiting", response_model=list[WaitingOrder])
def waiting_orders(services: ServicesDep, _: Reader,
                   limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
                   order_id: Annotated[list[str] | None, Query(max_length=MAX_PAGE)] = None) -> list[WaitingOrder]:
    """The orders waiting for a vehicle (`created`), the most urgent first as the assignment takes them, each with
    the first thing that holds it back: customs keeping a consignment, no vehicle reporting,
    none authorized to cross by both authorities, none free, its side's gate lanes full, or the last assignment
    round's verdict. ``order_id`` (repeatable): only those of these orders that wait, wherever they rank (the
    console asks about the page of orders it lists)."""
    return services.dispatcher.waiting_orders(limit, order_id)
