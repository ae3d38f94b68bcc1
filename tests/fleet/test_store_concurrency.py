"""Two writers on one store, each with its own engine (as two fleet manager processes would have): the audit
chain stays one chain and an order's transition is never lost or applied twice, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from fleet.events import EventBus
from fleet.orders import OrderCreate, OrderService, OrderState
from fleet.orders.service import OrderError
from fleet.store import Store, verify_chain
from fleet.store.schema import order_transitions
from planner.corridor import NodeKind

pytestmark = pytest.mark.both_backends  # the store's SQLite file and a PostgreSQL database

T0 = 1_795_000_000.0


def test_two_writers_keep_one_audit_chain(store_location):
    """Each writer's head was cached in memory: the second writer's record took the seq the first had taken."""
    first, second = Store(store_location), Store(store_location)
    per_writer = 60

    def write(store: Store, name: str) -> None:
        for i in range(per_writer):
            store.audit("test", {"writer": name, "i": i})

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(write, first, "a"), pool.submit(write, second, "b")]:
            future.result()
    records = list(Store(store_location).audit_records())
    assert [r.seq for r in records] == list(range(1, 2 * per_writer + 1))
    assert verify_chain(r.to_json() for r in records) == []
    assert {(r.body["writer"], r.body["i"]) for r in records} == {(w, i) for w in "ab" for i in range(per_writer)}
    assert first.audit_head == second.audit_head == (records[-1].seq, records[-1].hash)


def _meet_before_update(store: Store, barrier: threading.Barrier) -> None:
    """Each writer waits (briefly) for the other just before it writes an order: unserialized writers both
    get there having read the same state; serialized ones cannot (the second is still waiting for the lock)."""
    def before(_conn, _cursor, statement: str, *_args) -> None:
        if statement.lstrip().upper().startswith("UPDATE ORDERS"):
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass

    sa.event.listen(store.engine, "before_cursor_execute", before)


def test_racing_transitions_of_one_order_apply_once(store_location, bac_luan_ii):
    clock = lambda: T0  # noqa: E731
    stores = [Store(store_location), Store(store_location)]
    services = [OrderService(store, bac_luan_ii, EventBus(), clock) for store in stores]
    pickup, drop = (min(n.id for n in bac_luan_ii.nodes_of(NodeKind.DOCK, jurisdiction=side)) for side in ("VN", "CN"))
    order, _ = services[0].create(OrderCreate(consignments=["VN-RACE000001"], pickup=pickup, drop=drop), "test")
    barrier = threading.Barrier(2, timeout=1.0)
    for store in stores:
        _meet_before_update(store, barrier)

    def assign(service: OrderService, vehicle: str) -> str:
        try:
            return service.transition(order.id, OrderState.ASSIGNED, "assigned", {"kind": "dispatcher"},
                                      vehicle_id=vehicle).vehicle_id or ""
        except OrderError as exc:
            assert exc.status == 409
            return "refused"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(assign, services, ["agv_001", "agv_002"]))
    assert outcomes[1] == "refused" and outcomes[0] in ("agv_001", "agv_002")
    final = services[1].get(order.id)
    assert final.state == OrderState.ASSIGNED and final.vehicle_id == outcomes[0]
    with stores[0].reading() as conn:
        assigned = conn.execute(sa.select(sa.func.count()).select_from(order_transitions).where(
            order_transitions.c.order_id == order.id, order_transitions.c.to_state == OrderState.ASSIGNED)).scalar()
    assert assigned == 1
