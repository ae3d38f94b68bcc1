"""A vehicle's own software restarted (its process killed, started again where the vehicle stands): it knows
no order, and the fleet must give it one from where it stands."""

from __future__ import annotations

import pytest

from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import VN_CN, make_fleet


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="not fixed yet: the fleet's new order starts at the vehicle's last node, which "
                   "a vehicle restarted between two nodes refuses (it stands metres past it); it stays on the bridge")
def test_a_vehicle_restarted_on_the_bridge_is_given_an_order_from_where_it_stands(customs, corridor):
    """Found live (4 AGVs over DDS, agv_002 killed with kill -9 on the bridge and started again at its pose): the
    vehicle refused every order the fleet sent ("order starts at vn_dock_2, the vehicle is at border_southbound,
    2917.0 m away", then "new order ... must have order_update_id 0, not 1") and stood on the bridge for good,
    its order ``crossing``, with no alarm and no ``stalled_because``."""
    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    docks = sorted(n for n in corridor.nodes if n.startswith("vn_dock"))
    out = fleet.order(["VN-100000000900"], docks[0], sorted(n for n in corridor.nodes if n.startswith("cn_dock"))[0])
    fleet.release("VN-100000000900", VN_CN)

    def on_the_bridge() -> bool:
        state = fleet.link.state("agv_001")
        return state is not None and fleet.state_of(out) == OrderState.CLEARED and 0.0 < state.pose.y < 150.0

    assert fleet.run(3600, until=on_the_bridge)
    state = fleet.link.state("agv_001")
    fleet.link.set_online("agv_001", False)  # the process killed
    fleet.run(30)
    fleet.link.spawn("agv_001", state.pose.x, state.pose.y, state.pose.theta, state.last_node_id)  # started again
    assert fleet.run(900, until=lambda: fleet.state_of(out) == OrderState.DELIVERED), \
        [e.description for e in fleet.link.state("agv_001").errors]
