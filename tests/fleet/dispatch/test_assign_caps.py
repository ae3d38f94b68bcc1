"""One assignment round looks at the most urgent waiting orders only (its work grows with their square)."""

from __future__ import annotations

import dataclasses

from fleet.orders import Move, OrderCreate, OrderState
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet


def test_waiting_orders_most_urgent_first(customs, corridor):
    fleet = make_fleet(customs, corridor, 1)
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    now = customs.clock()

    def order(n: int, **extra) -> str:
        created, _ = fleet.orders.create(OrderCreate(consignments=[f"VN-W0000000{n}"], pickup=vn[n % 4],
                                                     drop=cn[n % 4], **extra), "test")
        return created.id

    plain, late_due, early_due, urgent = (order(1), order(2, latest_delivery=now + 7200),
                                          order(3, latest_delivery=now + 3600), order(4, priority=5))
    assert [o.id for o in fleet.orders.waiting(10)] == [urgent, early_due, late_due, plain]
    assert [o.id for o in fleet.orders.waiting(2)] == [urgent, early_due]


def test_the_waiting_orders_follow_every_write(customs, corridor):
    """``waiting`` keeps what it read until an order is written: each write shows in the next read."""
    fleet = make_fleet(customs, corridor, 1)
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    first, _ = fleet.orders.create(OrderCreate(consignments=["VN-W00000001"], pickup=vn[0], drop=cn[0]), "test")
    assert [o.id for o in fleet.orders.waiting(10)] == [first.id]
    second, _ = fleet.orders.create(OrderCreate(consignments=["VN-W00000002"], pickup=vn[1], drop=cn[1],
                                                priority=5), "test")
    assert [o.id for o in fleet.orders.waiting(10)] == [second.id, first.id]
    fleet.orders.transition(second.id, OrderState.CANCELLED, "test", {"kind": "test"})
    assert [o.id for o in fleet.orders.waiting(10)] == [first.id]
    fleet.orders.transition(first.id, OrderState.ASSIGNED, "test", {"kind": "test"}, vehicle_id="agv_001")
    assert fleet.orders.waiting(10) == []
    fleet.orders.transition(first.id, OrderState.CREATED, "test", {"kind": "test"})
    assert [o.id for o in fleet.orders.waiting(10)] == [first.id]


def test_the_waiting_orders_are_not_read_again_after_a_write_that_leaves_them(customs, corridor, monkeypatch):
    """A transition between two states other than ``created`` (a vehicle's progress: most of a day's writes) leaves
    the waiting orders as they were: ``waiting`` answers without a query, and the same as a fresh read."""
    fleet = make_fleet(customs, corridor, 1)
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    given, _ = fleet.orders.create(OrderCreate(consignments=["VN-W00000011"], pickup=vn[0], drop=cn[0]), "test")
    left, _ = fleet.orders.create(OrderCreate(consignments=["VN-W00000012"], pickup=vn[1], drop=cn[1]), "test")
    fleet.orders.transition(given.id, OrderState.ASSIGNED, "test", {"kind": "test"}, vehicle_id="agv_001")
    assert [o.id for o in fleet.orders.waiting(10)] == [left.id]
    reads = []
    reading = fleet.orders.store.reading
    monkeypatch.setattr(fleet.orders.store, "reading", lambda: reads.append(1) or reading())

    def waiting_read_alone() -> tuple[list[str], int]:
        reads.clear()
        return [o.id for o in fleet.orders.waiting(10)], len(reads)

    fleet.orders.commit_transitions([Move(given.id, OrderState.TO_PICKUP, "test", {"kind": "test"})])
    assert waiting_read_alone() == ([left.id], 0)
    fleet.orders.commit_transitions([Move(left.id, OrderState.CANCELLED, "test", {"kind": "test"})])
    assert waiting_read_alone() == ([], 1)


def test_a_capped_round_assigns_the_most_urgent_order(customs, corridor):
    fleet = make_fleet(customs, corridor, 2)
    fleet.dispatcher.settings = fleet.dispatcher.settings.model_copy(update={"assign_max_orders": 1,
                                                                             "assign_max_vehicles": 1})
    fleet.authorize("agv_001", "agv_002")
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    first = fleet.order(["VN-300000000001"], vn[0], cn[0])
    second = fleet.orders.create(OrderCreate(consignments=["VN-300000000002"], pickup=vn[1], drop=cn[1],
                                             priority=3), "test")[0].id
    assert fleet.run(60, until=lambda: fleet.state_of(second) != OrderState.CREATED)
    assert fleet.state_of(first) == OrderState.CREATED  # one order a round: the urgent one went first
    assert fleet.run(60, until=lambda: fleet.state_of(first) != OrderState.CREATED)  # and the other next
    assert {fleet.orders.get(o).direction for o in (first, second)} == {VN_CN}


def test_no_more_orders_go_out_than_the_gate_lanes_of_their_side_can_take(customs, corridor):
    """Through operation (finding 15): a side may have at most ``loads_per_gate_lane`` orders for each of its
    outbound gate lanes given out and not yet past them. Here one a lane, two for Vietnam's two: of three VN->CN
    orders whose clearance does not come, two are given out and the third waits for a vehicle although a VN
    vehicle is free, while a CN->VN order still goes out (China's lanes are free). Once one of the two is cleared
    at its gate, the third goes out. Before, every free vehicle was given an order, and on target_2030
    (200 AGVs) the loaded vehicles waiting for the gate lanes filled the yards until nothing moved."""
    fleet = make_fleet(customs, corridor, 6)
    dispatcher = fleet.dispatcher
    dispatcher.settings = dispatcher.settings.model_copy(update={"loads_per_gate_lane": 1})
    fleet.authorize(*dispatcher.tracks)
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    held = [fleet.order([f"VN-40000000000{i}"], vn[i], cn[i]) for i in range(3)]
    back = fleet.order(["CN-400000000009"], cn[4], vn[4])
    assert fleet.run(300, until=lambda: fleet.state_of(back) != OrderState.CREATED)
    assert fleet.run(120)
    assert sorted(fleet.state_of(o) == OrderState.CREATED for o in held) == [False, False, True]
    assert any(track.job is None and track.record.home == "VN" for track in dispatcher.tracks.values())
    first = next(o for o in held if fleet.state_of(o) != OrderState.CREATED)
    fleet.release(fleet.orders.get(first).consignments[0], VN_CN)
    assert fleet.run(1200, until=lambda: all(fleet.state_of(o) != OrderState.CREATED for o in held))
    cleared = dispatcher.tracks[fleet.orders.get(first).vehicle_id].job
    assert cleared is not None and cleared.cleared


def test_a_round_with_no_trip_to_give_out_looks_for_chargers_only_when_a_free_vehicle_is_low(customs, corridor,
                                                                                             monkeypatch):
    """With the gate lanes full (no trip to give out) a round only sends low vehicles to chargers: with none low
    it ends at once; a low one is still sent (``chargers_only`` answers as the assignment would)."""
    from fleet.dispatch import loop

    fleet = make_fleet(customs, corridor, 3)
    fleet.authorize("agv_001", "agv_002", "agv_003")
    fleet.run(10)
    monkeypatch.setattr(loop, "within_gate_capacity", lambda waiting, left: [])  # the lanes are full
    asked = []
    monkeypatch.setattr(loop, "chargers_only", lambda *args: asked.append(args) or {})
    fleet.order(["VN-300000000009"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    dispatcher = fleet.dispatcher
    dispatcher._assign(dispatcher.now())
    assert asked == []
    track = dispatcher.tracks["agv_002"]
    track.state = dataclasses.replace(track.state, battery_charge=dispatcher.settings.low_battery_percent - 1)
    dispatcher._orders_news = True
    dispatcher._assign(dispatcher.now())
    assert [[status.id for status in args[2] if status.battery < args[4].low] for args in asked] == \
        [["agv_002"]]


def test_with_no_room_before_the_gates_customs_is_asked_about_the_orders_the_round_takes_only(customs, corridor,
                                                                                            monkeypatch):
    """Every side's gate lanes full: no trip goes out whatever waits, so the round asks customs about no more
    waiting orders than it takes (``assign_max_orders``), not about all it read; the low vehicle is still sent to
    charge with those orders in view, the first of the waiting as before."""
    from fleet.dispatch import loop, yards

    fleet = make_fleet(customs, corridor, 2)
    dispatcher = fleet.dispatcher
    dispatcher.settings = dispatcher.settings.model_copy(update={"assign_max_orders": 2})
    fleet.authorize("agv_001", "agv_002")
    fleet.run(10)
    monkeypatch.setattr(yards, "loads_before_the_gates", lambda tracks: {"VN": 99, "CN": 99})
    asked, seen = [], []
    kept = dispatcher._kept_by_customs
    monkeypatch.setattr(dispatcher, "_kept_by_customs", lambda order: asked.append(order.id) or kept(order))
    monkeypatch.setattr(loop, "chargers_only", lambda graph, transport, *rest: seen.append(transport) or {})
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    orders = [fleet.order([f"VN-50000000000{i}"], vn[i], cn[i]) for i in range(5)]
    track = dispatcher.tracks["agv_002"]
    track.state = dataclasses.replace(track.state, battery_charge=dispatcher.settings.low_battery_percent - 1)
    most_urgent = [o.id for o in fleet.orders.waiting(10)][:2]
    dispatcher._orders_news = True
    dispatcher._assign(dispatcher.now())
    assert asked == most_urgent
    assert [[order.id for order in transport] for transport in seen] == [most_urgent]
    assert all(fleet.state_of(o) == OrderState.CREATED for o in orders)


def test_a_longer_read_of_the_waiting_orders_answers_a_shorter_one(customs, corridor, monkeypatch):
    """A longer read of the waiting orders answers a shorter ask: the most urgent few are the start of the longer
    list (the order is total). A shorter read answers a longer ask only when it held every waiting order."""
    fleet = make_fleet(customs, corridor, 1)
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    for n in range(4):
        fleet.orders.create(OrderCreate(consignments=[f"VN-W0000002{n}"], pickup=vn[n], drop=cn[n], priority=n + 1),
                            "test")
    reads = []
    reading = fleet.orders.store.reading
    monkeypatch.setattr(fleet.orders.store, "reading", lambda: reads.append(1) or reading())

    def read(limit: int) -> tuple[list[str], int]:
        reads.clear()
        return [o.id for o in fleet.orders.waiting(limit)], len(reads)

    every, _ = read(100)
    assert read(2) == (every[:2], 0)
    assert read(100) == (every, 0)
    assert read(10) == (every, 0)  # the read of 100 held all four
    assert read(3) == (every[:3], 0)
    monkeypatch.setattr(fleet.orders, "_waiting", {})
    assert read(2) == (every[:2], 1)
    assert read(3) == (every[:3], 1)  # two of four: the third must be read
