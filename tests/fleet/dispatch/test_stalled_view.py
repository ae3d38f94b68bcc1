"""A dispatcher sees why a vehicle with somewhere to go stands still: the planner's reason, on its view."""

from __future__ import annotations

from fleet.orders import OrderState
from planner.corridor import NodeKind
from tests.fleet.dispatch.conftest import VN_CN, make_fleet


def test_a_stalled_vehicle_shows_why_until_its_way_frees(customs, corridor):
    vn_spot = sorted(n.id for n in corridor.nodes_of(NodeKind.PARKING, jurisdiction="VN"))[0]
    vn_dock = sorted(n.id for n in corridor.nodes_of(NodeKind.DOCK, jurisdiction="VN"))[0]
    cn_dock = sorted(n.id for n in corridor.nodes_of(NodeKind.DOCK, jurisdiction="CN"))[0]
    fleet = make_fleet(customs, corridor, 2, starts=[vn_spot, cn_dock])
    fleet.authorize("agv_001")
    dispatcher = fleet.dispatcher
    # out of service where it stands: its place, the order's drop dock, stays reserved
    dispatcher.set_in_service("agv_002", False, "operator", "a flat tyre")
    order = fleet.order(["VN-100000000007"], vn_dock, cn_dock)
    fleet.release("VN-100000000007", VN_CN)
    assert fleet.run(1800, until=lambda: dispatcher.vehicle("agv_001").stalled_because is not None)
    why = dispatcher.vehicle("agv_001").stalled_because
    assert cn_dock in why and "taken" in why, why
    assert dispatcher.vehicle("agv_002").stalled_because is None
    dispatcher.set_in_service("agv_002", True, "operator", "tyre changed")  # it goes to park
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.DELIVERED)
    assert dispatcher.vehicle("agv_001").stalled_because is None
