"""The read routes answer from what the loop and the order service already published: vehicles and gates from the
last tick's snapshot (built once per tick, never waiting for the loop), orders kept until an order changes."""

from __future__ import annotations

import threading
import time

from fleet.dispatch.snapshot import JsonView, Snapshot
from fleet.events import Topic
from fleet.orders import OrderCreate, OrderState
from fleet.orders.reads import OrderReads, PageQuery
from tests.fleet.api.conftest import auth

VIEWER = auth("viewer")


def test_vehicles_and_gates_answer_while_a_tick_holds_the_loop(client, services):
    dispatcher = services.dispatcher
    deadline = time.monotonic() + 10
    while dispatcher._seen is None and time.monotonic() < deadline:  # the loop's first tick published its views
        time.sleep(0.05)
    held, done = threading.Event(), threading.Event()

    def long_tick() -> None:
        with dispatcher._lock:
            held.set()
            done.wait(10)

    threading.Thread(target=long_tick, daemon=True).start()
    assert held.wait(5)
    started = time.monotonic()
    try:
        vehicles = client.get("/api/v1/vehicles", headers=VIEWER)
        gates = client.get("/api/v1/gates", headers=VIEWER)
        one = client.get(f"/api/v1/vehicles/{vehicles.json()[0]['id']}", headers=VIEWER)
    finally:
        waited = time.monotonic() - started
        done.set()
    assert waited < 5  # (a read that waited for the loop's lock would wait for the whole 10 s "tick")
    assert vehicles.status_code == gates.status_code == one.status_code == 200
    assert len(vehicles.json()) == len(services.registry.all()) and gates.json()
    assert one.json() == vehicles.json()[0]
    assert client.get("/api/v1/vehicles/agv_999", headers=VIEWER).status_code == 404


def test_an_order_read_is_kept_until_an_order_changes(services, docks):
    reads = OrderReads(services.orders, services.bus)
    order, _ = services.orders.create(OrderCreate(consignments=["VN-KEPT00000001"], pickup=docks["VN"][0],
                                                  drop=docks["CN"][0]), "test")
    gets, get = [], services.orders.get
    services.orders.get = lambda order_id: (gets.append(order_id), get(order_id))[1]
    assert reads.kept_one(order.id) is None and reads.kept_page(PageQuery()) is None
    page = reads.page_json(PageQuery())
    assert reads.one_json(order.id) is reads.one_json(order.id) and len(gets) == 1  # one store read
    assert reads.page_json(PageQuery()) is page is reads.kept_page(PageQuery())
    assert reads.kept_one(order.id) is reads.one_json(order.id)
    services.orders.transition(order.id, OrderState.CANCELLED, "withdrawn", {"kind": "test"})
    assert reads.kept_one(order.id) is None and reads.kept_page(PageQuery()) is None
    assert b'"cancelled"' in reads.one_json(order.id)
    assert b'"cancelled"' in reads.page_json(PageQuery())


def test_an_answer_read_while_an_order_changed_is_not_kept(services, docks):
    """Read from the store before a transition's commit, kept after its publication, it would be stale for good."""
    reads = OrderReads(services.orders, services.bus)
    order, _ = services.orders.create(OrderCreate(consignments=["VN-KEPT00000002"], pickup=docks["VN"][0],
                                                  drop=docks["CN"][0]), "test")
    get = services.orders.get

    def read_then_change(order_id):
        seen = get(order_id)
        services.bus.publish(Topic.ORDER, {"order_id": order_id, "to": OrderState.ASSIGNED})  # meanwhile
        return seen

    services.orders.get = read_then_change
    reads.one_json(order.id)
    services.orders.get = get
    services.orders.transition(order.id, OrderState.CANCELLED, "withdrawn", {"kind": "test"})
    services.bus.subscribe(lambda *_: None)  # (nothing else kept it either)
    assert b'"cancelled"' in reads.one_json(order.id)


def test_a_standby_reads_the_store_every_time(services, docks):
    """A standby hears no order changes (another process writes the store): nothing is kept."""
    reads = OrderReads(services.orders, bus=None)
    order, _ = services.orders.create(OrderCreate(consignments=["VN-KEPT00000003"], pickup=docks["VN"][0],
                                                  drop=docks["CN"][0]), "test")
    assert reads.one_json(order.id) is not reads.one_json(order.id)


def test_a_snapshot_says_which_answers_are_built_without_waiting():
    snapshot = Snapshot({}, lambda tracks: [])
    assert snapshot.built_json(JsonView.VEHICLES) is None and snapshot.built_json(JsonView.GATES) is None
    built = snapshot.vehicles_json()
    assert snapshot.built_json(JsonView.VEHICLES) is built and snapshot.built_json(JsonView.GATES) is None
