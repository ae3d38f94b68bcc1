"""Transport orders: create (idempotent with an ``Idempotency-Key``), list, read with the timeline, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status

from fleet.api.deps import MAX_ID, Dispatching, OrderReadsDep, Reader, ServicesDep
from fleet.api.models import Reasoned, json_answer
from fleet.customs.envelope import CONSIGNMENT_PATTERN, DIRECTION_PATTERN, VEHICLE_PATTERN
from fleet.orders import OrderCreate, OrderPublic, OrderState
from fleet.orders.reads import MAX_PAGE, OrderPage, PageQuery

router = APIRouter(tags=["orders"])


@router.post("/orders", response_model=OrderPublic, status_code=status.HTTP_201_CREATED,
             responses={200: {"model": OrderPublic, "description": "a retried create: the order it made before"},
                        409: {"description": "a consignment already on an active order, or a reused key"},
                        422: {"description": "refused; ``field`` names what is wrong and nothing is stored"}})
def create_order(body: OrderCreate, request: Request, response: Response, services: ServicesDep, caller: Dispatching,
                 idempotency_key: Annotated[str | None, Header(min_length=1, max_length=128)] = None) -> OrderPublic:
    """201 with the new order and its Location; with an Idempotency-Key already used for the same request, 200
    with the order it made (never a second order)."""
    order, created = services.orders.create(body, created_by=caller.role, idempotency_key=idempotency_key)
    response.headers["Location"] = str(request.url_for("get_order", order_id=order.id))
    if created:
        services.staff.record(role=caller.role, action="create_order", target=f"order:{order.id}",
                              reason="created", detail=body.model_dump(mode="json"))
    else:
        response.status_code = status.HTTP_200_OK
    return order


@router.get("/orders", response_model=OrderPage)
async def list_orders(reads: OrderReadsDep, _: Reader, state: OrderState | None = None,
                      direction: Annotated[str | None, Query(pattern=DIRECTION_PATTERN)] = None,
                      vehicle_id: Annotated[str | None, Query(pattern=VEHICLE_PATTERN)] = None,
                      consignment: Annotated[str | None, Query(pattern=CONSIGNMENT_PATTERN,
                                                               description="only orders that carry it")] = None,
                      overdue: Annotated[bool, Query(description="only orders past their latest delivery and not "
                                                                 "finished")] = False,
                      limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
                      offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> Response:
    """Newest first, without timelines (read one order for its timeline)."""
    query = PageQuery(state=state, direction=direction, vehicle_id=vehicle_id, consignment=consignment,
                      overdue=overdue, limit=limit, offset=offset)
    return await json_answer(reads.kept_page(query), lambda: reads.page_json(query))


@router.get("/orders/{order_id}", response_model=OrderPublic)
async def get_order(order_id: str, reads: OrderReadsDep, _: Reader) -> Response:
    return await json_answer(reads.kept_one(order_id), lambda: reads.one_json(order_id))


@router.post("/orders/{order_id}/cancel", response_model=OrderPublic,
             responses={409: {"description": "already finished, or on the crossing lanes (it finishes first)"}})
def cancel_order(order_id: str, body: Reasoned, services: ServicesDep, caller: Dispatching) -> OrderPublic:
    return services.dispatcher.cancel_order(order_id, body.reason, caller.role)
