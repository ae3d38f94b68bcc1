"""What the console's header and KPI strip show: the caller's role and what it may do, and the fleet's key
figures (crossings per hour each way, the average gate wait, vehicles and orders by state, open alarms, the
two customs links' health), each read from where it is kept so that it is right after a restart."""

from __future__ import annotations

from collections import Counter, defaultdict

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel

from fleet.api.deps import CallerDep, Reader, Role, ServicesDep, may
from fleet.api.metrics import vehicles_by_state
from fleet.orders import OrderState
from fleet.orders.model import seconds_held_at_gate
from fleet.orders.service import overdue_at
from fleet.services import Services
from fleet.store.schema import alarms, order_transitions, orders

router = APIRouter(tags=["summary"])

#: The window of the per-hour figures (seconds).
WINDOW_S = 3600.0


class Permissions(BaseModel):
    """Which controls the caller's role may use (the API checks every request anyway)."""

    orders: bool  # create and cancel orders
    vehicle_actions: bool  # pause, resume, cancel a vehicle
    emergency_stop: bool  # e-stop a vehicle or the fleet, release it; take a vehicle out of service
    gates: bool  # hold and release gates
    alarms: bool  # acknowledge alarms


class Session(BaseModel):
    role: str
    permissions: Permissions


class CustomsLink(BaseModel):
    authority: str
    side: str
    up: bool
    last_heard_s: float | None  # seconds since its latest valid event or heartbeat; None: never heard
    missing_seqs: int  # events of its stream known to be missing


class Summary(BaseModel):
    at: float
    window_s: float
    crossings: dict[str, int]  # direction -> vehicles that entered the crossing lanes within the window
    gate_wait_avg_s: float | None  # time awaiting clearance (gate -> cleared), over the window's crossings; None: none
    vehicles: dict[str, int]  # state -> count (as the metrics and the console count them: vehicles_by_state)
    orders: dict[str, int]  # state -> count
    orders_overdue: int  # orders not yet delivered (nor cancelled, nor failed) past their latest delivery
    open_alarms: int
    customs_links: list[CustomsLink]
    vehicle_link_trouble: str | None  # what is wrong with the fleet's link to its vehicles now; None: it works


@router.get("/session", response_model=Session)
def session(caller: CallerDep) -> Session:
    """The caller's role and what it may do: how the console decides which controls to show."""
    staff = may(caller, Role.VIEWER, Role.DISPATCHER, Role.OPERATOR)
    return Session(role=caller.role, permissions=Permissions(
        orders=staff and may(caller, Role.DISPATCHER), vehicle_actions=staff and may(caller, Role.DISPATCHER),
        emergency_stop=staff and may(caller, Role.OPERATOR), gates=staff and may(caller, Role.OPERATOR),
        alarms=staff and may(caller, Role.OPERATOR)))


@router.get("/summary", response_model=Summary)
def summary(services: ServicesDep, _: Reader) -> Summary:
    """Key figures: crossings per direction and the average gate wait over the last hour, vehicles and orders by
    state, the orders past their latest delivery, the open alarms, each customs link (up while heard from
    within ``customs.link_timeout_s``) and what is wrong with the vehicle link, if anything."""
    now = services.clock()
    crossings, wait = _crossings(services, now - WINDOW_S)
    gate = services.gate
    health = gate.link_health()
    links = [CustomsLink(authority=name, side=authority.side, last_heard_s=health[name]["last_heard_s"],
                         up=health[name]["last_heard_s"] is not None
                         and health[name]["last_heard_s"] <= gate.link_timeout_s,
                         missing_seqs=sum(hi - lo + 1 for lo, hi in health[name]["missing_seqs"]))
             for name, authority in gate.authorities.items()]
    with services.store.reading() as conn:
        by_state: dict[str, int] = dict(conn.execute(  # type: ignore[arg-type]
            sa.select(orders.c.state, sa.func.count()).group_by(orders.c.state)).all())
        overdue = conn.execute(sa.select(sa.func.count()).select_from(orders).where(*overdue_at(now))).scalar_one()
        open_alarms = conn.execute(sa.select(sa.func.count()).select_from(alarms)
                                   .where(alarms.c.acknowledged_at.is_(None))).scalar_one()
    return Summary(at=now, window_s=WINDOW_S, crossings=crossings, gate_wait_avg_s=wait,
                   vehicles=dict(vehicles_by_state(services.dispatcher.snapshot())),
                   orders={str(s): int(by_state.get(s, 0)) for s in OrderState}, orders_overdue=int(overdue),
                   open_alarms=int(open_alarms), customs_links=links, vehicle_link_trouble=services.link.trouble())


def _crossings(services: Services, since: float) -> tuple[dict[str, int], float | None]:
    """Per direction, the orders that entered the crossing lanes since ``since``; and the average time the gate
    held them (:func:`seconds_held_at_gate`: 0 for a vehicle whose clearance was there when it came)."""
    t = order_transitions
    with services.store.reading() as conn:
        crossed = conn.execute(sa.select(t.c.order_id, t.c.at, orders.c.direction)
                               .join(orders, orders.c.id == t.c.order_id)
                               .where(t.c.to_state == OrderState.CROSSING, t.c.at >= since)).all()
        ids = [row.order_id for row in crossed]
        timelines: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for row in conn.execute(sa.select(t.c.order_id, t.c.at, t.c.to_state).where(t.c.order_id.in_(ids))
                                .order_by(t.c.id)) if ids else ():
            timelines[row.order_id].append((row.at, row.to_state))
    counts = Counter({direction: 0 for direction in services.gate.directions})
    counts.update(row.direction for row in crossed)
    waits = [seconds_held_at_gate(timelines[row.order_id]) for row in crossed]
    return dict(counts), (sum(waits) / len(waits) if waits else None)
