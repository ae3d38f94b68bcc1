"""Orders: create (checked against the corridor, idempotent), read, cancel, and move along the lifecycle.

Every transition is stored with its time, reason and cause in the same transaction as the order's new
state, then published on the bus. The dispatcher and the API share one instance (thread-safe through the
store's transactions).
"""

from __future__ import annotations

import builtins
import functools
import math
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fleet.events import EventBus, Topic
from fleet.orders.model import (
    ACROSS,
    ACTIVE_STATES,
    TRANSITIONS,
    OrderCreate,
    OrderPublic,
    OrderState,
    Transition,
)
from fleet.store import Store
from fleet.store.fixed import FixedStatement
from fleet.store.schema import order_consignments, order_transitions, orders, vehicles
from planner.corridor import Corridor, NodeKind

#: statements of every transition, compiled once and run on the driver's cursor (building them for each of a
#: day's transitions cost about what running them does, SQLAlchemy's execute as much again)
_STATE_AND_VEHICLE = FixedStatement(sa.select(orders.c.state, orders.c.vehicle_id)
                                    .where(orders.c.id == sa.bindparam("order_id")))
_TRANSITION = FixedStatement(order_transitions.insert(),
                             ["order_id", "at", "from_state", "to_state", "reason", "cause"])
_RELEASE_CONSIGNMENTS = FixedStatement(order_consignments.delete()
                                       .where(order_consignments.c.order_id == sa.bindparam("order_id")))


@functools.lru_cache(maxsize=16)
def _update_order(columns: tuple[str, ...]) -> FixedStatement:
    """The UPDATE of an order's ``columns`` (each from the parameter of its name), by ``order_id``."""
    return FixedStatement(orders.update().where(orders.c.id == sa.bindparam("order_id")), columns)


def overdue_at(now: float | sa.BindParameter[float]) -> list[sa.ColumnElement[bool]]:
    """The condition on ``orders`` of an order past its latest delivery at ``now`` and not finished. (The active
    states are bound one by one, not as a list SQLAlchemy expands as it runs: a FixedStatement can hold them.)"""
    active: list[sa.BindParameter[str]] = [sa.bindparam(f"active_{number}", str(state))
                                           for number, state in enumerate(sorted(ACTIVE_STATES))]
    return [orders.c.state.in_(active), orders.c.latest_delivery < now]


#: what the dispatcher asks every tick, built once (building them cost about what running them does): the
#: overdue orders (at ``now``; ``since``: due at or after it), and the waiting ones (the ``limit`` most urgent)
_OVERDUE = sa.select(orders).where(*overdue_at(sa.bindparam("now"))).order_by(orders.c.latest_delivery, orders.c.id)
_OVERDUE_SINCE = _OVERDUE.where(orders.c.latest_delivery >= sa.bindparam("since"))
#: is any order in ``_OVERDUE_SINCE``? Asked first, on the driver: the watcher looks every 30 s, mostly finding none,
#: and running the whole query through SQLAlchemy for that was 1.2 % of a day of ``target_2030``
_ANY_OVERDUE_SINCE = FixedStatement(_OVERDUE_SINCE.with_only_columns(orders.c.id).order_by(None).limit(1))
INF = math.inf
_WAITING = sa.select(orders).where(orders.c.state == OrderState.CREATED) \
    .order_by(orders.c.priority.desc(), orders.c.latest_delivery.is_(None), orders.c.latest_delivery,
              orders.c.created_at, orders.c.id).limit(sa.bindparam("limit"))
#: the waiting orders whose earliest start has come by ``ready_by`` (or that name none), and when the next of the
#: others' comes: what an assignment round may give out stays the same until then or until an order moves
_READY = _WAITING.where(sa.or_(orders.c.earliest_start.is_(None), orders.c.earliest_start <= sa.bindparam("ready_by")))
_NEXT_READY = sa.select(sa.func.min(orders.c.earliest_start)) \
    .where(orders.c.state == OrderState.CREATED, orders.c.earliest_start > sa.bindparam("ready_by"))


class _WaitingRead(NamedTuple):
    """A read of the waiting orders: true while no order moved into or out of ``created`` (``version``) and,
    for the orders ready by a time, until the next earliest start (``until``)."""

    version: int
    limit: int
    until: float
    orders: list[OrderPublic]


class Move(NamedTuple):
    """One transition asked for: the order, its new state, why and what caused it; ``vehicle_id`` when the
    order is assigned (or handed to another vehicle); an audit record (kind, body) stored with it."""

    order_id: str
    to: OrderState
    reason: str
    cause: dict[str, Any]
    vehicle_id: str | None = None
    audit: tuple[str, dict[str, Any]] | None = None


class OrderError(ValueError):
    """A request about orders that cannot be done; ``field`` names what is wrong, ``status`` the HTTP code."""

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.field, self.status = field, status


def _carries(consignment: str) -> sa.ColumnElement[bool]:
    """The order lists ``consignment`` (an id of CONSIGNMENT_PATTERN: no character LIKE reads as a wildcard). The
    list is stored as JSON text: the id in quotes matches it alone, not an id it begins."""
    return sa.cast(orders.c.consignments, sa.Text).like(f'%"{consignment}"%')


def _unknown_direction(_consignment_id: str) -> str | None:
    return None


class OrderService:
    """Orders: created (checked against the map and, through ``customs_direction``, what customs declared),
    read, and moved from state to state.

    ``customs_direction``: the direction customs declared a consignment for (``"CN->VN"``), None if unknown yet.
    """

    def __init__(self, store: Store, corridor: Corridor, bus: EventBus, clock: Callable[[], float],
                 customs_direction: Callable[[str], str | None] = _unknown_direction) -> None:
        self.store, self.corridor, self.bus, self.clock = store, corridor, bus, clock
        self.customs_direction = customs_direction
        #: bumped after every write that creates an order or moves one into or out of ``created`` (every write
        #: of an order goes through this service): what ``waiting`` read stays true until it changes
        self._version = 0
        #: the last read of ``waiting``, all of them (key None) and those ready (key True): what it holds
        self._waiting: dict[bool | None, _WaitingRead] = {}

    # --- create ---------------------------------------------------------------------------------------------

    def create(self, request: OrderCreate, created_by: str, idempotency_key: str | None = None
               ) -> tuple[OrderPublic, bool]:
        """The new order and True; or, for a retried ``idempotency_key``, the order it made and False."""
        with self.store.reading() as conn:
            made = _made_with(conn, idempotency_key)
        order_id, created = (made, False) if made is not None else self._insert(request, created_by, idempotency_key)
        if not created:
            return self._retried(order_id, request, idempotency_key), False
        return self.get(order_id), True

    def _insert(self, request: OrderCreate, created_by: str, idempotency_key: str | None) -> tuple[str, bool]:
        """Store the new order, its consignments and its first transition: its id and True; refused (409) if a
        consignment is on an active order, crossed with an earlier one, or is still aboard a vehicle. The id of an
        order made with ``idempotency_key`` meanwhile and False: the key is looked for again in the write
        transaction, since a retry sent while the first request was still being answered (a script's timeout) found
        none before, and was refused as a second order for the same consignment (409) or, with other content,
        failed on the key's unique index (500)."""
        direction = self._check(request)
        now = self.clock()
        order_id = f"ord-{uuid.uuid4().hex[:12]}"
        with self.store.transaction() as conn:
            made = _made_with(conn, idempotency_key)
            if made is not None:
                return made, False
            _refuse_taken(conn, request.consignments)
            _refuse_held(conn, request.consignments)
            conn.execute(orders.insert().values(
                id=order_id, state=OrderState.CREATED, direction=direction, pickup=request.pickup, drop=request.drop,
                consignments=request.consignments, priority=request.priority, earliest_start=request.earliest_start,
                latest_delivery=request.latest_delivery, created_at=now, updated_at=now, created_by=created_by,
                idempotency_key=idempotency_key))
            conn.execute(order_consignments.insert(), [{"consignment_id": c, "order_id": order_id}
                                                       for c in request.consignments])
            self._record(conn, order_id, None, OrderState.CREATED, "created", {"kind": "dispatcher",
                                                                             "by": created_by}, now)
        self._version += 1
        self._publish(order_id, None, OrderState.CREATED, None, now, "created")
        return order_id, True

    def _retried(self, order_id: str, request: OrderCreate, idempotency_key: str | None) -> OrderPublic:
        """The order an ``idempotency_key`` made, asked for again: the same request gets it, another is refused."""
        known = self.get(order_id)
        if not _same_request(known, request):
            raise OrderError(f"Idempotency-Key {idempotency_key!r} was used for order {known.id} with other content",
                             field="Idempotency-Key", status=409)
        return known

    def _check(self, request: OrderCreate) -> str:
        """Refuse what cannot be carried, naming the field; return the direction."""
        docks = {"pickup": request.pickup, "drop": request.drop}
        for field, node_id in docks.items():
            node = self.corridor.nodes.get(node_id)
            if node is None or node.kind != NodeKind.DOCK:
                raise OrderError(f"{field}: {node_id!r} is not a dock of {self.corridor.name}", field=field)
        if request.pickup == request.drop:
            raise OrderError("drop: the same dock as pickup", field="drop")
        if len(set(request.consignments)) != len(request.consignments):
            raise OrderError("consignments: the same consignment twice", field="consignments")
        here, there = (self.corridor.nodes[request.pickup].jurisdiction, self.corridor.nodes[request.drop].jurisdiction)
        if here == there and request.direction is None:
            raise OrderError(f"drop: {request.drop} is on the same side ({here}) as the pickup; an order takes its "
                             "containers across the border", field="drop")
        direction = request.direction or f"{here}->{there}"
        if direction not in self.corridor.directions:
            raise OrderError(f"direction: {direction} is not one of {list(self.corridor.directions)}",
                             field="direction")
        source, target = direction.split("->")
        if here != source:
            raise OrderError(f"pickup: {request.pickup} is in {here}, the order goes {direction}", field="pickup")
        if there != target:
            raise OrderError(f"drop: {request.drop} is in {there}, the order goes {direction}", field="drop")
        for consignment in request.consignments:  # else its vehicle would wait at the gate for good, holding a lane
            declared = self.customs_direction(consignment)
            if declared is not None and declared != direction:
                raise OrderError(f"consignments: customs declared {consignment} for {declared}; this order goes "
                                 f"{direction}", field="consignments", status=409)
        now = self.clock()
        if request.latest_delivery is not None and request.latest_delivery <= now:
            raise OrderError("latest_delivery: already past", field="latest_delivery")
        if request.earliest_start is not None and request.latest_delivery is not None \
                and request.earliest_start >= request.latest_delivery:
            raise OrderError("latest_delivery: not after earliest_start", field="latest_delivery")
        return direction

    # --- read -------------------------------------------------------------------------------------------------

    def get(self, order_id: str) -> OrderPublic:
        with self.store.reading() as conn:
            row = conn.execute(sa.select(orders).where(orders.c.id == order_id)).first()
            if row is None:
                raise OrderError(f"no order {order_id!r}", field="id", status=404)
            timeline = conn.execute(sa.select(order_transitions).where(order_transitions.c.order_id == order_id)
                                    .order_by(order_transitions.c.id)).all()
        return _public(row, timeline)

    def list(self, *, state: OrderState | None = None, direction: str | None = None, vehicle_id: str | None = None,
             consignment: str | None = None, overdue: bool = False, limit: int = 50,
             offset: int = 0) -> tuple[list[OrderPublic], int]:
        """A page of orders, newest first, and how many match in all; ``consignment``: only those that carry it
        (finished ones too); ``overdue``: only those past their latest delivery and not finished."""
        where = [c for c in (orders.c.state == state if state else None,
                             orders.c.direction == direction if direction else None,
                             orders.c.vehicle_id == vehicle_id if vehicle_id else None,
                             _carries(consignment) if consignment else None) if c is not None]
        if overdue:
            where += overdue_at(self.clock())
        with self.store.reading() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(orders).where(*where)).scalar_one()
            rows = conn.execute(sa.select(orders).where(*where).order_by(orders.c.created_at.desc(), orders.c.id)
                                .limit(limit).offset(offset)).all()
        return [_public(r, []) for r in rows], total

    def active(self) -> builtins.list[OrderPublic]:
        with self.store.reading() as conn:
            rows = conn.execute(sa.select(orders).where(orders.c.state.in_(list(ACTIVE_STATES)))
                                .order_by(orders.c.created_at, orders.c.id)).all()
        return [_public(r, []) for r in rows]

    def overdue(self, now: float, since: float | None = None) -> Sequence[OrderPublic]:
        """The orders past their latest delivery at ``now`` and not finished, the first due first; ``since``: only
        those due at or after it (a watcher asking again reads only the orders that became overdue meanwhile, not
        the hundreds still late from before)."""
        with self.store.reading() as conn:
            if since is not None and not _ANY_OVERDUE_SINCE.rows(conn, {"now": now, "since": since}):
                return []
            rows = conn.execute(_OVERDUE if since is None else _OVERDUE_SINCE, {"now": now, "since": since}).all()
        return [_public(r, []) for r in rows]

    def waiting(self, limit: int, ready_by: float | None = None) -> builtins.list[OrderPublic]:
        """At most ``limit`` orders waiting for a vehicle (``created``), the most urgent first: higher priority,
        then the earlier latest delivery (none last), then the older. ``ready_by``: only those whose earliest
        start has come by then (an assignment round's: a vehicle sent before it loaded a container not yet
        ready, an hour early). Read again only after an order was created or moved into or out of ``created``,
        or once the next earliest start has come (the dispatcher asks every few seconds, mostly with nothing
        new: a query each time was 9 % of a simulated hour's CPU; read again after every transition, 4,003
        queries in a day of ``target_2030``, most after a vehicle's progress that changed no waiting order). The
        order is total, so the start of a longer read answers a shorter ask."""
        version = self._version  # read before the query: a write committed meanwhile bumps it after
        key = None if ready_by is None else True
        last = self._waiting.get(key)
        if last is not None and last.version == version and (ready_by is None or ready_by < last.until) \
                and (limit <= last.limit or len(last.orders) < last.limit):
            return last.orders[:limit]
        with self.store.reading() as conn:
            if ready_by is None:
                rows, until = conn.execute(_WAITING, {"limit": limit}).all(), INF
            else:
                rows = conn.execute(_READY, {"limit": limit, "ready_by": ready_by}).all()
                until = conn.execute(_NEXT_READY, {"ready_by": ready_by}).scalar() or INF
        read = self._waiting[key] = _WaitingRead(version, limit, until, [_public(r, []) for r in rows])
        return read.orders[:limit]

    def waiting_among(self, order_ids: Collection[str]) -> builtins.list[OrderPublic]:
        """The orders of ``order_ids`` that wait for a vehicle (``created``), the most urgent first: what a page
        of the orders list asks about, whatever their rank among all the waiting ones."""
        with self.store.reading() as conn:
            rows = conn.execute(_WAITING.where(orders.c.id.in_(list(order_ids))), {"limit": len(order_ids)}).all()
        return [_public(r, []) for r in rows]

    # --- lifecycle --------------------------------------------------------------------------------------------

    def transition(self, order_id: str, to: OrderState, reason: str, cause: dict[str, Any],
                   vehicle_id: str | None = None, audit: tuple[str, dict[str, Any]] | None = None) -> OrderPublic:
        """Move the order to ``to`` (with ``vehicle_id`` when it is assigned), storing why, and an audit record
        in the same transaction if ``audit`` = (kind, body) is given."""
        return self.transition_many([Move(order_id, to, reason, cause, vehicle_id, audit)])[0]

    def transition_many(self, moves: Sequence[Move]) -> builtins.list[OrderPublic]:
        """Several transitions in one transaction (one assignment round's): all or none; the orders as they are
        now."""
        self.commit_transitions(moves)
        return [self.get(move.order_id) for move in moves]

    def commit_transitions(self, moves: Sequence[Move]) -> None:
        """Several transitions in one transaction, all or none, each published on the bus; nothing read back
        (the dispatch loop's batch a tick: reading every order back with its timeline was 40 % of its write)."""
        if not moves:
            return
        now = self.clock()
        with self.store.transaction() as conn:
            moved = [(move, *self._move(conn, move, now)) for move in moves]
        if any(OrderState.CREATED in (before, move.to) for move, before, _ in moved):
            self._version += 1  # the waiting orders changed; a vehicle's progress (most transitions) leaves them
        for move, before, vehicle_id in moved:
            self._publish(move.order_id, before, move.to, vehicle_id, now, move.reason)

    def _move(self, conn: Connection, move: Move, now: float) -> tuple[OrderState, str | None]:
        """Store one transition; the state before it and the order's vehicle after it."""
        rows = _STATE_AND_VEHICLE.rows(conn, {"order_id": move.order_id})
        if not rows:
            raise OrderError(f"no order {move.order_id!r}", field="id", status=404)
        state, vehicle_before = rows[0]
        before = OrderState(state)
        if move.to not in TRANSITIONS[before]:
            raise OrderError(f"order {move.order_id} is {before}: it cannot become {move.to}", field="state",
                             status=409)
        values: dict[str, Any] = {"state": move.to, "updated_at": now}
        if move.vehicle_id is not None:
            values["vehicle_id"] = move.vehicle_id
        elif move.to == OrderState.CREATED:
            values["vehicle_id"] = None
        if move.to not in ACTIVE_STATES:
            values["reason"] = move.reason
            if before not in ACROSS:  # one that crossed keeps them: each crosses once (_refuse_taken)
                _RELEASE_CONSIGNMENTS.rows(conn, {"order_id": move.order_id})
        _update_order(tuple(values)).rows(conn, {**values, "order_id": move.order_id})
        self._record(conn, move.order_id, before, move.to, move.reason, move.cause, now)
        if move.audit is not None:
            self.store.append_audit(conn, *move.audit)
        return before, values.get("vehicle_id", vehicle_before)

    def _record(self, conn: Connection, order_id: str, before: OrderState | None, to: OrderState, reason: str,
                cause: dict[str, Any], at: float) -> None:
        _TRANSITION.rows(conn, {"order_id": order_id, "at": at, "from_state": before, "to_state": to,
                                "reason": reason, "cause": cause})

    def _publish(self, order_id: str, before: OrderState | None, to: OrderState, vehicle_id: str | None, at: float,
                 reason: str) -> None:
        self.bus.publish(Topic.ORDER, {"order_id": order_id, "from": before, "to": to, "vehicle_id": vehicle_id,
                                       "at": at, "reason": reason})


def _made_with(conn: Connection, idempotency_key: str | None) -> str | None:
    """The id of the order made with ``idempotency_key``, None if none was (or no key is given)."""
    if idempotency_key is None:
        return None
    return conn.execute(sa.select(orders.c.id).where(orders.c.idempotency_key == idempotency_key)).scalar()


def _same_request(order: OrderPublic, request: OrderCreate) -> bool:
    """``request`` asks for what ``order`` is: its times too (a retry with a recomputed deadline got the first order
    and its old deadline, 200); a time written another way (ISO 8601, an offset) is the same instant."""
    return (order.consignments, order.pickup, order.drop, order.priority, order.earliest_start,
            order.latest_delivery) == (request.consignments, request.pickup, request.drop, request.priority,
                                       request.earliest_start, request.latest_delivery) and \
        (request.direction is None or request.direction == order.direction)


def _public(row: Any, timeline: Sequence[Any]) -> OrderPublic:
    return OrderPublic(
        id=row.id, state=OrderState(row.state), direction=row.direction, pickup=row.pickup, drop=row.drop,
        consignments=list(row.consignments), priority=row.priority, earliest_start=row.earliest_start,
        latest_delivery=row.latest_delivery, vehicle_id=row.vehicle_id, created_at=row.created_at,
        updated_at=row.updated_at, created_by=row.created_by, reason=row.reason,
        timeline=[Transition(at=t.at, from_state=OrderState(t.from_state) if t.from_state else None,
                             to_state=OrderState(t.to_state), reason=t.reason, cause=t.cause) for t in timeline])


def _refuse_taken(conn: Connection, consignments: Sequence[str]) -> None:
    """A consignment on an active order is not booked twice; nor is one an order took across the border, however that
    order ended: a consignment crosses once per customs declaration (the gate rule, on its own, refuses a second
    crossing on a release already used: the vehicle would wait at the gate for good). Found booking a delivered one
    again: 201."""
    taken = conn.execute(sa.select(order_consignments.c.consignment_id, orders.c.id, orders.c.state,
                                   orders.c.direction)
                         .join(orders, orders.c.id == order_consignments.c.order_id)
                         .where(order_consignments.c.consignment_id.in_(consignments))).first()
    if taken is None:
        return
    consignment, order_id, state, direction = taken
    if state in ACTIVE_STATES:
        raise OrderError(f"consignment {consignment} is already on active order {order_id}", field="consignments",
                         status=409)
    raise OrderError(f"consignment {consignment} already crossed {direction} with order {order_id} ({state}): a "
                     "consignment crosses the border once per customs declaration; book a container to cross again "
                     "under the consignment id of its new declaration", field="consignments", status=409)


def _refuse_held(conn: Connection, consignments: Sequence[str]) -> None:
    """A consignment still aboard a vehicle from an order that ended (cancelled once loaded, or its drop failed)
    is not at any dock: an order for it waits until an operator says the load was taken off."""
    held = conn.execute(sa.select(vehicles.c.id, vehicles.c.held_load).where(vehicles.c.held_load.is_not(None)))
    for vehicle_id, load in held:
        aboard = set(load["consignments"] if load else ()) & set(consignments)
        if aboard and load.get("unconfirmed"):
            raise OrderError(f"consignment {min(aboard)} may be aboard {vehicle_id}: its order was cancelled as the "
                             "vehicle might load it, and the vehicle has not said yet whether it did; book it once "
                             f"it has (GET /vehicles/{vehicle_id}: no held_load then)", field="consignments",
                             status=409)
        if aboard:
            raise OrderError(f"consignment {min(aboard)} is still aboard {vehicle_id} (its order ended with the load "
                             f"aboard): book it once the load was taken off (POST /vehicles/{vehicle_id}/load-removed)",
                             field="consignments", status=409)
