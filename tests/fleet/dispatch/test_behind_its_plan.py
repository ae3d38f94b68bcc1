"""``vehicle_stuck`` for a vehicle behind its plan: reaching a node of its plan more than ``stuck_after_s`` later
than the plan said. A plan made while the vehicle drives starts where its released way ends, timed as if it stood
there already: the drive there is no delay (``Track.approach_s``), however long its released way is."""

from __future__ import annotations

from fleet.alarms import AlarmKind
from fleet.dispatch.tracks import Job, JobKind
from fleet.dispatch.views import VehicleAction
from tests.fleet.dispatch.conftest import make_fleet
from tests.fleet.dispatch.test_alarm_causes_ended import alarms_of

HOME = "vn_parking_1"
ELSEWHERE = "vn_insp_1"  # 230 s from HOME, 430 s back: a long way round to HOME


def _sent(fleet, goal: str) -> None:
    track = fleet.dispatcher.tracks["agv_001"]
    track.job, track.needs_plan = Job(JobKind.PARK, (goal,)), True
    assert fleet.run(10, until=lambda: track.plan is not None and track.plan.end == goal
                     and track.released == len(track.plan.steps) - 1)


def _on_a_long_way_home(customs, corridor):
    """One vehicle sent from HOME to ELSEWHERE, then on from there back HOME while it drives (the relay day's
    vehicles waiting for a partner, sent on from one waiting place to the next), and planned once more on its way:
    that plan starts HOME, the end of its released way, which the vehicle reaches after the whole way round."""
    fleet = make_fleet(customs, corridor, 1, starts=[HOME])
    fleet.run(5)
    _sent(fleet, ELSEWHERE)
    fleet.run(20)
    _sent(fleet, HOME)
    track = fleet.dispatcher.tracks["agv_001"]
    track.needs_plan = True
    fleet.run(1)
    assert track.plan.steps[0].node == HOME and track.reached == -1, track.plan.steps
    return fleet


def _home(fleet) -> bool:
    state = fleet.link.state("agv_001")
    return state.last_node_id == HOME and not state.driving


def test_a_vehicle_driving_a_long_released_way_to_where_its_plan_starts_is_not_called_stuck(customs, corridor):
    """The relay day (kim_thanh): "agv_013 is 357 s behind its plan at vn_charger_2", and at 17.1 h "agv_018 is
    1787 s behind its plan at cn_gate_out_2", of vehicles that had driven on without a stop. Each plan started
    where the released way ended, and the drive there was counted as the fastest route from where the vehicle
    stood, while its released way went a long way round first (through the inspection yard, or twice round the
    ring road): the rest was called a delay."""
    fleet = _on_a_long_way_home(customs, corridor)
    assert fleet.run(1200, until=lambda: _home(fleet))
    assert alarms_of(fleet, AlarmKind.VEHICLE_STUCK) == []


def test_a_vehicle_held_up_on_a_long_released_way_is_called_stuck(customs, corridor):
    """The other side: the same way, held up on it for ten minutes, is that late HOME."""
    fleet = _on_a_long_way_home(customs, corridor)
    fleet.run(30)
    fleet.dispatcher.act("agv_001", VehicleAction.PAUSE, "operator", "test: held up")
    fleet.run(600)
    fleet.dispatcher.act("agv_001", VehicleAction.RESUME, "operator", "test: on again")
    assert fleet.run(1200, until=lambda: _home(fleet))
    [alarm] = alarms_of(fleet, AlarmKind.VEHICLE_STUCK)
    assert "behind its plan at " + HOME in alarm.message, alarm.message
