"""An alarm whose cause has ended is marked cleared (``cleared_at``, published) and stays open until acknowledged;
the kinds whose cause can end, each driven through the dispatch loop. Found by the last session's list: a
vehicle's fault reset, a vehicle driven back onto its way, one on its plan again after a hold-up, the vehicle link
working again, a held load taken off: each alarm stayed as raised, beside a vehicle at work. And a cause that comes
back later than ``RECURS_AFTER_S`` after its alarm was cleared is a new alarm, the cleared one kept as it was."""

from __future__ import annotations

from agv_agent.protocol import AgvError, ErrorLevel, OperatingMode

from fleet.alarms import RECURS_AFTER_S, AlarmKind
from fleet.dispatch.loop import VEHICLE_LINK_GRACE_S
from fleet.dispatch.views import VehicleAction
from fleet.events import Topic
from fleet.orders import OrderState
from planner.corridor import NodeKind
from tests.fleet.dispatch.conftest import make_fleet
from tests.fleet.dispatch.test_cleared import _on_its_way, _watched
from tests.fleet.dispatch.test_deaf_vehicle import _deafen
from tests.fleet.dispatch.test_handling import _held_at_its_bay
from tests.fleet.dispatch.test_health import silent_alarms, unreported
from tests.fleet.dispatch.test_reported_progress import claiming_the_far_side
from tests.fleet.dispatch.test_vehicle_link_trouble import REFUSED

FATAL = AgvError("driveError", ErrorLevel.FATAL, "drive motor over temperature")


def alarms_of(fleet, kind: AlarmKind, subject: str = "agv_001") -> list:
    """Every alarm of ``kind`` for ``subject``, acknowledged or not, oldest first."""
    return [a for a in reversed(fleet.dispatcher.alarms.list(limit=500)[0]) if a.kind == kind and a.subject == subject]


def test_a_fault_the_vehicle_reset_is_marked_cleared_and_back_again_it_stands_again(customs, corridor):
    fleet = make_fleet(customs, corridor, 1)
    published: list[dict] = []
    fleet.bus.subscribe(lambda _topic, message: published.append(message), topics=(Topic.ALARM,))
    fleet.run(5)
    logic = fleet.link._vehicles["agv_001"].logic
    logic.errors = [FATAL]
    fleet.run(5)
    [alarm] = alarms_of(fleet, AlarmKind.VEHICLE_FAULT)
    assert "drive motor over temperature" in alarm.message and alarm.cleared_at is None
    fleet.run(30)
    assert alarms_of(fleet, AlarmKind.VEHICLE_FAULT)[0].cleared_at is None  # it stands while the vehicle says so
    logic.errors = []  # the vehicle's people reset it
    fleet.run(2)
    [cleared] = alarms_of(fleet, AlarmKind.VEHICLE_FAULT)
    assert cleared.id == alarm.id and cleared.cleared_at is not None and cleared.acknowledged_at is None
    assert fleet.dispatcher.tracks["agv_001"].unavailable is None
    assert published[-1]["id"] == alarm.id and published[-1]["cleared_at"] == cleared.cleared_at
    logic.errors = [FATAL]  # back at once: the same line stands again
    fleet.run(2)
    [again] = alarms_of(fleet, AlarmKind.VEHICLE_FAULT)
    assert again.id == alarm.id and again.cleared_at is None


def test_a_vehicle_that_takes_its_orders_again_has_its_fault_marked_cleared(customs, corridor):
    fleet = make_fleet(customs, corridor, 1)
    fleet.authorize("agv_001")
    fleet.run(5)
    deaf = _deafen(fleet, "agv_001")
    fleet.order(["VN-100000000011"], "vn_dock_1", "cn_dock_1")
    fleet.release("VN-100000000011", "VN->CN")
    track = fleet.dispatcher.tracks["agv_001"]
    assert fleet.run(fleet.dispatcher.settings.reassign_after_s + 60,
                     until=lambda: "does not take its orders" in (track.unavailable or ""))
    [alarm] = alarms_of(fleet, AlarmKind.VEHICLE_FAULT)
    assert alarm.cleared_at is None
    deaf.clear()
    assert fleet.run(30, until=lambda: track.unavailable is None)
    fleet.run(1)
    [cleared] = alarms_of(fleet, AlarmKind.VEHICLE_FAULT)
    assert cleared.id == alarm.id and cleared.cleared_at is not None


def test_a_vehicle_reporting_a_node_it_was_not_released_to_has_its_fault_cleared_once_it_reports_true(customs,
                                                                                                        corridor):
    fleet, _, real = claiming_the_far_side(customs, corridor, "VN-100000000012")
    fleet.run(5)
    [alarm] = alarms_of(fleet, AlarmKind.VEHICLE_FAULT)
    assert "never released to" in alarm.message
    fleet.run(20)
    assert alarms_of(fleet, AlarmKind.VEHICLE_FAULT)[0].cleared_at is None  # it still says so: it stands
    fleet.link.snapshot = real
    fleet.run(2)
    [cleared] = alarms_of(fleet, AlarmKind.VEHICLE_FAULT)
    assert cleared.id == alarm.id and cleared.cleared_at is not None


def test_a_vehicle_driven_back_onto_its_way_has_its_alarm_marked_cleared(customs, corridor):
    spots = sorted(n.id for n in corridor.nodes_of(NodeKind.PARKING, jurisdiction="VN"))
    fleet = make_fleet(customs, corridor, 1, starts=[spots[0]])
    fleet.run(10)
    logic = fleet.link._vehicles["agv_001"].logic
    logic.set_operating_mode(OperatingMode.MANUAL)
    home, elsewhere = corridor.nodes[spots[0]], corridor.nodes[spots[3]]
    fleet.link.move_by_hand("agv_001", elsewhere.x + 3.0, elsewhere.y)
    logic.set_operating_mode(OperatingMode.AUTOMATIC)
    fleet.run(10)
    [alarm] = alarms_of(fleet, AlarmKind.VEHICLE_OFF_ITS_WAY)
    logic.set_operating_mode(OperatingMode.MANUAL)
    fleet.link.move_by_hand("agv_001", (home.x + elsewhere.x) / 2, (home.y + elsewhere.y) / 2)
    fleet.run(5)
    assert alarms_of(fleet, AlarmKind.VEHICLE_OFF_ITS_WAY)[0].cleared_at is None  # on its way back, by hand
    fleet.link.move_by_hand("agv_001", home.x, home.y)
    logic.set_operating_mode(OperatingMode.AUTOMATIC)
    fleet.run(2)
    [cleared] = alarms_of(fleet, AlarmKind.VEHICLE_OFF_ITS_WAY)
    assert cleared.id == alarm.id and cleared.cleared_at is not None
    assert fleet.dispatcher.tracks["agv_001"].unavailable is None


def test_a_vehicle_on_its_plan_again_after_a_hold_up_has_its_stuck_alarm_marked_cleared(customs, corridor):
    fleet, order = _on_its_way(customs, corridor, "VN-100000000013")
    seen = _watched(fleet, order)
    assert fleet.run(1800, until=lambda: seen[-1][1] == OrderState.CLEARED)
    fleet.run(20)
    fleet.dispatcher.act("agv_001", VehicleAction.PAUSE, "operator", "test: held up")
    fleet.run(600)
    fleet.dispatcher.act("agv_001", VehicleAction.RESUME, "operator", "test: on again")
    assert fleet.run(120, until=lambda: alarms_of(fleet, AlarmKind.VEHICLE_STUCK) != [])
    [alarm] = alarms_of(fleet, AlarmKind.VEHICLE_STUCK)
    assert alarm.cleared_at is None
    reached = fleet.dispatcher.tracks["agv_001"].reached
    assert fleet.run(600, until=lambda: fleet.dispatcher.tracks["agv_001"].reached > reached)
    [cleared] = alarms_of(fleet, AlarmKind.VEHICLE_STUCK)  # the next node in time: on its plan again
    assert cleared.id == alarm.id and cleared.cleared_at is not None


def test_the_vehicle_link_working_again_has_its_alarm_marked_cleared(customs, corridor):
    fleet = make_fleet(customs, corridor, 1)
    fleet.run(5)
    trouble: list[str] = [REFUSED]
    fleet.link.trouble = lambda: trouble[0] if trouble else None
    fleet.run(VEHICLE_LINK_GRACE_S + 5)
    [alarm] = alarms_of(fleet, AlarmKind.VEHICLE_LINK_TROUBLE, "vehicle link")
    trouble.clear()
    fleet.run(1)
    [cleared] = alarms_of(fleet, AlarmKind.VEHICLE_LINK_TROUBLE, "vehicle link")
    assert cleared.id == alarm.id and cleared.cleared_at is not None


def test_a_held_load_taken_off_has_its_alarm_marked_cleared(customs, corridor):
    fleet, _ = _held_at_its_bay(customs, corridor, "VN-600000000014")
    [alarm] = alarms_of(fleet, AlarmKind.LOAD_HELD)
    assert alarm.cleared_at is None
    fleet.dispatcher.load_removed("agv_001", "operator", "the yard crew took the container off")
    [cleared] = alarms_of(fleet, AlarmKind.LOAD_HELD)
    assert cleared.id == alarm.id and cleared.cleared_at is not None


def test_a_cause_back_long_after_its_alarm_was_cleared_is_a_new_alarm_and_the_cleared_one_is_kept(customs,
                                                                                                    corridor):
    """Found by trying it: agv_001 silent at 08:00, reporting again at 08:01, silent again at 14:00 showed one line
    turned red again, "raised" at 08:00, in the 08:00 words, somewhere down the list under the alarms of the six
    hours between, with no audit record of the second silence and no sign of the first one's end."""
    fleet = make_fleet(customs, corridor, 1)
    silent_after = fleet.dispatcher.settings.silent_after_s
    unreported(fleet, customs, silent_after + 5)
    [first] = silent_alarms(fleet)
    fleet.run(RECURS_AFTER_S + 60)  # it reports: cleared, and stays so
    first = fleet.dispatcher.alarms.get(first.id)
    assert first.cleared_at is not None
    fleet.dispatcher.alarms.raise_alarm(AlarmKind.LOW_BATTERY, "agv_009", "another alarm meanwhile")
    unreported(fleet, customs, silent_after + 5)
    second, kept = silent_alarms(fleet)  # newest first
    assert second.id > first.id and second.cleared_at is None and second.raised_at > first.cleared_at
    assert kept == first  # as it was: cleared, open until acknowledged
    assert fleet.dispatcher.alarms.list(open_only=True, limit=1)[0] == [second]  # on top of the list
    audited = [r.body["alarm_id"] for r in fleet.store.audit_records(kinds=["alarm"])]
    assert first.id in audited and second.id in audited
    # the old one acknowledged leaves the new one open, and not raised a third time
    fleet.dispatcher.alarms.acknowledge(first.id, "operator")
    unreported(fleet, customs, 30)
    assert [a.id for a in silent_alarms(fleet)] == [second.id]
    # back within RECURS_AFTER_S of its clearing: a link that flaps is one line, not one a flap
    for _ in range(5):
        fleet.run(5)
        unreported(fleet, customs, silent_after + 5)
    [flapping] = silent_alarms(fleet)
    assert flapping.id == second.id and flapping.cleared_at is None


def test_a_link_down_acknowledged_while_it_lasts_is_not_raised_again_until_it_came_back(customs, corridor):
    """Found by trying it: both customs links down (never heard from), the operator acknowledged both alarms, and
    the next tick raised both again; so did the vehicle link in trouble. Acknowledging them did nothing."""
    fleet = make_fleet(customs, corridor, 1)
    trouble: list[str] = [REFUSED]
    fleet.link.trouble = lambda: trouble[0] if trouble else None
    timeout = fleet.dispatcher.gate.link_timeout_s
    fleet.run(timeout + VEHICLE_LINK_GRACE_S, heartbeats=False)
    kinds = (AlarmKind.CUSTOMS_LINK_DOWN, AlarmKind.VEHICLE_LINK_TROUBLE)
    raised = [a for a in fleet.dispatcher.alarms.list(open_only=True)[0] if a.kind in kinds]
    assert sorted(a.subject for a in raised) == ["CN_CUSTOMS", "VN_CUSTOMS", "vehicle link"]
    for alarm in raised:
        fleet.dispatcher.alarms.acknowledge(alarm.id, "operator")
    fleet.run(60, heartbeats=False)
    assert [a for a in fleet.dispatcher.alarms.list(open_only=True)[0] if a.kind in kinds] == []
    fleet.run(60)  # heard from again (heartbeats); the vehicle link working again
    trouble.clear()
    fleet.run(30)
    fleet.run(timeout + 30, heartbeats=False)  # down again: a new alarm each
    again = [a for a in fleet.dispatcher.alarms.list(open_only=True)[0] if a.kind == AlarmKind.CUSTOMS_LINK_DOWN]
    assert sorted(a.subject for a in again) == ["CN_CUSTOMS", "VN_CUSTOMS"]
