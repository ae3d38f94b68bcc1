"""The read routes answer from what the loop and the order service already published: vehicles and gates from the
last tick's snapshot (built once per tick, never waiting for the loop), orders kept until an order changes."""

from __future__ import annotations

import json
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


def test_readers_asking_while_a_page_is_read_share_that_read_unless_an_order_changed(services, docks):
    """After a change, 50 consoles polling the first page cost one store read, not 50; but a reader who asks
    after a further change (its own write, say) never gets a read begun before it."""
    reads = OrderReads(services.orders, services.bus)
    services.orders.create(OrderCreate(consignments=["VN-KEPT00000004"], pickup=docks["VN"][0],
                                       drop=docks["CN"][0]), "test")
    listed, list_orders = [], services.orders.list
    reading, go_on = threading.Event(), threading.Event()

    def slow_list(**query):
        listed.append(query)
        reading.set()
        go_on.wait(10)
        return list_orders(**query)

    services.orders.list = slow_list
    answers: list[bytes] = []
    first = threading.Thread(target=lambda: answers.append(reads.page_json(PageQuery())))
    first.start()
    assert reading.wait(5)
    joined = [threading.Thread(target=lambda: answers.append(reads.page_json(PageQuery()))) for _ in range(20)]
    for thread in joined:
        thread.start()
    time.sleep(0.2)  # they wait for the read under way
    assert len(listed) == 1
    services.bus.publish(Topic.ORDER, {"order_id": "ord_x", "to": OrderState.ASSIGNED})  # a change meanwhile
    after_the_change = threading.Thread(target=lambda: answers.append(reads.page_json(PageQuery())))
    after_the_change.start()
    time.sleep(0.2)
    assert len(listed) == 2  # its own read: the one under way began before the change
    go_on.set()
    for thread in (first, *joined, after_the_change):
        thread.join(5)
    assert len(answers) == 22 and all(b'"VN-KEPT00000004"' in answer for answer in answers)
    assert len(listed) == 2
    assert reads.kept_page(PageQuery()) is not None  # the second read, begun after the change, is kept


def test_a_page_is_read_again_only_when_an_order_it_shows_changes_or_one_is_created(services, docks):
    """Pages list the newest orders first: a transition elsewhere leaves them as they are (bench_fleet: 50
    consoles polling the first page while the fleet carried older orders read it again at every transition)."""
    reads, fresh = OrderReads(services.orders, services.bus), OrderReads(services.orders, bus=None)

    def create(n: int) -> str:
        order, _ = services.orders.create(OrderCreate(consignments=[f"VN-PAGE0000000{n}"], pickup=docks["VN"][0],
                                                      drop=docks["CN"][0]), "test")
        return order.id

    created = {create(n) for n in range(3)}
    newest, waiting = PageQuery(limit=2), PageQuery(state=OrderState.CREATED)
    page = reads.page_json(newest)
    on_the_page = [order["id"] for order in json.loads(page)["orders"]]
    shown, (older,) = on_the_page[0], created - set(on_the_page)  # (the test clock: the same creation times)
    assert older.encode() in reads.page_json(waiting) and reads.kept_page(waiting) is not None
    services.orders.transition(older, OrderState.CANCELLED, "withdrawn", {"kind": "test"})
    assert reads.kept_page(newest) is page == fresh.page_json(newest)  # still the store's answer
    assert reads.kept_page(waiting) is None  # filtered by state: a transition may move an order in or out
    assert older.encode() not in reads.page_json(waiting) == fresh.page_json(waiting)
    services.orders.transition(shown, OrderState.CANCELLED, "withdrawn", {"kind": "test"})
    assert reads.kept_page(newest) is None
    page = reads.page_json(newest)
    assert b'"cancelled"' in page and page == fresh.page_json(newest)
    create(4)
    assert reads.kept_page(newest) is None  # a new order: the first page shifts
    assert reads.page_json(newest) == fresh.page_json(newest)


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
