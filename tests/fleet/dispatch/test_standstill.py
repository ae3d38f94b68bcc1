"""A vehicle that stops between nodes with its way released ahead (an obstacle, a drive fault or a hang it does not
report) raises ``vehicle_stuck`` once it has not moved for ``still_after_s``, marked cleared when it drives on.
Found by reading ``Dispatcher._follow``: the alarm came only with a late arrival at a node, so a vehicle that never
arrived raised nothing while those behind it waited. Not for one that waits for its release, nor one loading."""

from __future__ import annotations

import pytest
from agv_agent.kinematics import UnicycleBase
from agv_agent.protocol import Pose
from agv_agent.tracker import distance

from fleet.alarms import AlarmKind
from fleet.orders import OrderState
from fleet.vehicles.link import VehicleSnapshot
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet
from tests.fleet.dispatch.test_alarm_causes_ended import alarms_of
from tests.fleet.dispatch.test_cleared import _at_its_gate


class _Blocked(UnicycleBase):
    """A drive base that does not move whatever it is commanded (a fault the vehicle does not report)."""

    def step(self, command: tuple[float, float], dt: float) -> Pose:
        self.v = self.w = 0.0
        return self.pose


def _set_base(fleet, vehicle_id: str, blocked: bool) -> None:
    vehicle = fleet.link._vehicles[vehicle_id]
    pose = vehicle.base.pose
    vehicle.base = (_Blocked if blocked else UnicycleBase)(pose.x, pose.y, pose.theta)


def _metres_past_its_node(fleet, vehicle_id: str) -> float:
    state = fleet.link.state(vehicle_id)
    node = fleet.corridor.nodes[state.last_node_id]
    return distance(state.pose, node.x, node.y)


class _PublishedOnChange:
    """The in-process link read as the simulator's event-driven one is (``sim.fast.vehicles``): a vehicle's
    snapshot is the very object it was until its state changes in what the fleet reads, so the dispatch loop passes
    by a vehicle with a job whose last look found nothing to do (``Dispatcher._busy_quiet_key``)."""

    def __init__(self, link) -> None:
        self._link, self._seen = link, {}

    def __getattr__(self, name: str):
        return getattr(self._link, name)

    def snapshot(self, vehicle_id: str) -> VehicleSnapshot:
        state = self._link.state(vehicle_id)
        key = None if state is None else (
            round(state.pose.x, 2), round(state.pose.y, 2), state.last_node_id, state.last_node_sequence_id,
            state.driving, state.order_id, state.order_update_id, state.node_states, state.action_states,
            state.errors, state.e_stop, state.paused)
        seen = self._seen.get(vehicle_id)
        if seen is None or seen[0] != key:
            self._seen[vehicle_id] = seen = key, VehicleSnapshot(state, 0.0, self._link.connection(vehicle_id))
        return seen[1]


@pytest.mark.parametrize("published", ["at every step", "on change"])
def test_a_vehicle_stopped_between_nodes_raises_vehicle_stuck_and_has_it_cleared_when_it_drives_on(customs,
                                                                                                   corridor,
                                                                                                   published):
    """Published on change (the simulator's link), the stopped vehicle's snapshot stays the same: the looks that
    pass it by end when its standstill's clock runs out."""
    fleet = make_fleet(customs, corridor, 1)
    if published == "on change":
        fleet.dispatcher.link = _PublishedOnChange(fleet.link)
    fleet.authorize("agv_001")
    order = fleet.order(["VN-100000000071"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000071", VN_CN)
    assert fleet.run(600, until=lambda: fleet.link.state("agv_001").driving
                     and _metres_past_its_node(fleet, "agv_001") > 5.0)
    _set_base(fleet, "agv_001", blocked=True)
    stopped_at = fleet.link.state("agv_001")
    after = fleet.dispatcher.settings.still_after_s
    fleet.run(after - 5)
    assert alarms_of(fleet, AlarmKind.VEHICLE_STUCK) == []  # not yet
    assert fleet.run(15, until=lambda: alarms_of(fleet, AlarmKind.VEHICLE_STUCK) != [])
    [alarm] = alarms_of(fleet, AlarmKind.VEHICLE_STUCK)
    assert "agv_001 has not moved for" in alarm.message and stopped_at.last_node_id in alarm.message, alarm.message
    assert alarm.detail["last_node"] == stopped_at.last_node_id and alarm.detail["metres"] > 5.0
    assert alarm.detail["still_s"] > after and alarm.cleared_at is None
    fleet.run(60)
    [alarm] = alarms_of(fleet, AlarmKind.VEHICLE_STUCK)  # one alarm, standing while it stands
    assert alarm.cleared_at is None and fleet.dispatcher.tracks["agv_001"].unavailable is None
    _set_base(fleet, "agv_001", blocked=False)  # the obstacle gone: it drives on
    assert fleet.run(30, until=lambda: alarms_of(fleet, AlarmKind.VEHICLE_STUCK)[0].cleared_at is not None)
    assert fleet.run(900, until=lambda: fleet.state_of(order) == OrderState.LOADED)
    assert len(alarms_of(fleet, AlarmKind.VEHICLE_STUCK)) == 1


def test_a_vehicle_waiting_at_its_gate_for_its_release_raises_no_stuck_alarm(customs, corridor):
    fleet, _, _ = _at_its_gate(customs, corridor, "VN-100000000072")
    fleet.run(4 * fleet.dispatcher.settings.still_after_s)  # China has not released it: it waits at its gate
    assert alarms_of(fleet, AlarmKind.VEHICLE_STUCK) == []


def test_a_vehicle_loading_at_its_dock_raises_no_stuck_alarm(customs, corridor):
    fleet = make_fleet(customs, corridor, 1, handling_s=3 * 120.0)
    fleet.authorize("agv_001")
    order = fleet.order(["VN-100000000073"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000073", VN_CN)
    assert fleet.run(1200, until=lambda: fleet.state_of(order) == OrderState.LOADED)
    assert alarms_of(fleet, AlarmKind.VEHICLE_STUCK) == []
