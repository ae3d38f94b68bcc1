"""Why an order waits for a vehicle (``Dispatcher.waiting_orders``): the first thing that holds it back, named."""

from __future__ import annotations

from fleet.dispatch.waiting import WaitKind
from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet


def _why(fleet, order_id: str) -> tuple[WaitKind, str]:
    found = {w.order_id: (w.kind, w.because) for w in fleet.dispatcher.waiting_orders(50)}
    return found[order_id]


def test_an_order_waits_for_a_vehicle_authorized_to_cross_then_goes(customs, corridor):
    fleet = make_fleet(customs, corridor, 2)
    order = fleet.order(["VN-100000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000001", VN_CN)
    fleet.run(20)
    kind, because = _why(fleet, order)
    assert kind == WaitKind.NO_AUTHORIZED_VEHICLE, because
    assert because == "none of the 2 vehicles in service is authorized to cross by both customs authorities"
    fleet.authorize("agv_001")
    assert fleet.run(30, until=lambda: fleet.state_of(order) != OrderState.CREATED)
    assert fleet.dispatcher.waiting_orders(50) == []


def test_customs_keeping_a_consignment_comes_first(customs, corridor):
    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    order = fleet.order(["VN-100000000002"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    assert fleet.dispatcher.gate.ingest(customs.cn.event("hold", "VN-100000000002", direction=VN_CN),
                                        "test").acknowledged
    fleet.run(20)
    kind, because = _why(fleet, order)
    assert kind == WaitKind.CUSTOMS and "VN-100000000002 (hold, CN_CUSTOMS)" in because, because
    assert fleet.state_of(order) == OrderState.CREATED


def test_an_order_waits_for_the_one_vehicle_busy_with_another(customs, corridor):
    fleet = make_fleet(customs, corridor, 1)
    fleet.authorize("agv_001")
    first = fleet.order(["VN-100000000004"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    assert fleet.run(30, until=lambda: fleet.state_of(first) == OrderState.TO_PICKUP)
    second = fleet.order(["VN-100000000005"], docks(corridor, "VN")[1], docks(corridor, "CN")[1])
    fleet.run(5)
    assert _why(fleet, second) == (WaitKind.NO_FREE_VEHICLE,
                                   "all 1 vehicles in service have work: the next one free")


def test_an_order_waits_for_room_at_its_sides_gate_lanes(customs, corridor):
    vn_parking = sorted(n.id for n in corridor.nodes_of("parking", jurisdiction="VN"))
    fleet = make_fleet(customs, corridor, 3, starts=vn_parking[:3])
    fleet.dispatcher.settings = fleet.dispatcher.settings.model_copy(update={"loads_per_gate_lane": 1})
    fleet.authorize("agv_001", "agv_002", "agv_003")
    given = [fleet.order([f"VN-10000000001{i}"], docks(corridor, "VN")[i], docks(corridor, "CN")[i]) for i in (0, 1)]
    assert fleet.run(30, until=lambda: all(fleet.state_of(o) == OrderState.TO_PICKUP for o in given))
    third = fleet.order(["VN-100000000012"], docks(corridor, "VN")[2], docks(corridor, "CN")[2])
    fleet.run(10)
    kind, because = _why(fleet, third)
    assert kind == WaitKind.GATE_LANES_FULL, because
    assert because.startswith("the VN side's 2 outbound gate lane(s) have as many loads"), because
