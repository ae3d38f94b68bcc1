"""A stalled vehicle that waits only for a goal held for good by others is planned again when the goal frees, not
every 5 s (docs/simulation.md, "Speed": 93 % of the replans of 200 AGVs in ``target_2030`` found every goal taken
for good and changed nothing). Each wake rule: the vehicle is left alone while nothing it waits for changes (but
for the safety net, every ``GOAL_WAIT_RECHECK_S``), and sets off in the tick after its goal frees."""

from __future__ import annotations

from fleet.dispatch.goal_wait import GOAL_WAIT_RECHECK_S
from fleet.dispatch.tracks import Job, JobKind
from fleet.orders import OrderState
from planner.corridor import NodeKind
from planner.schedule import PlanRequest
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet
from tests.fleet.dispatch.test_waiting_places import _nodes, _standing_at, _watched

WAIT_S = 300.0


def _count_replans(fleet, vehicle: str) -> list[float]:
    """The times the dispatcher plans ``vehicle`` again on its own (``Dispatcher._replan``)."""
    dispatcher, times = fleet.dispatcher, []
    replan = dispatcher._replan

    def counted(track, t):
        if track.id == vehicle:
            times.append(t)
        replan(track, t)

    dispatcher._replan = counted
    return times


def _wake_delay(fleet, vehicle: str, goals: list[str]) -> dict[str, float]:
    """Watch, after every tick, when the first of ``goals`` is held for good by nobody but ``vehicle`` and when
    ``vehicle`` first has a plan that ends at one of them."""
    seen: dict[str, float] = {}

    def check(f) -> None:
        dispatcher = f.dispatcher
        t, table = dispatcher.now(), dispatcher.planner.table
        if "freed" not in seen and any(not table.holders_for_good(g) - {vehicle} for g in goals):
            seen["freed"] = t
        plan = dispatcher.tracks[vehicle].plan
        if "planned" not in seen and plan is not None and plan.end in goals:
            seen["planned"] = t

    fleet.checks.append(check)
    return seen


def test_a_vehicle_waiting_at_a_bay_for_its_drop_dock_goes_when_the_dock_frees(customs, corridor):
    """Cleared and across, its drop dock held by a vehicle broken down there, it waits at a holding bay: planned
    again only by the safety net while the dock stays taken (it was every 5 s), and in the tick after the
    repaired vehicle's plan leaves the dock."""
    fleet = make_fleet(customs, corridor, 2, starts=[docks(corridor, "VN")[0], "cn_dock_3"])
    fleet.authorize("agv_001", "agv_002")
    states = _watched(fleet)
    fleet.dispatcher.set_in_service("agv_002", False, "operator", "test: broken down at its dock")
    order = fleet.order(["VN-100000000031"], docks(corridor, "VN")[0], "cn_dock_3")
    fleet.release("VN-100000000031", VN_CN)
    holding = _nodes(corridor, NodeKind.HOLDING, "CN")
    assert fleet.run(2400, until=lambda: _standing_at(fleet, "agv_001", holding))
    replans = _count_replans(fleet, "agv_001")
    fleet.run(WAIT_S)
    assert WAIT_S / GOAL_WAIT_RECHECK_S - 1 <= len(replans) <= WAIT_S / GOAL_WAIT_RECHECK_S + 1, replans
    seen = _wake_delay(fleet, "agv_001", ["cn_dock_3"])
    fleet.dispatcher.set_in_service("agv_002", True, "operator", "test: repaired")  # it parks, freeing the dock
    assert fleet.run(1800, until=lambda: states[order] == OrderState.DELIVERED), fleet.orders.get(order)
    assert 0 <= seen["planned"] - seen["freed"] <= 0.5, seen


def test_a_vehicle_waiting_at_a_bay_for_a_gate_lane_goes_when_one_frees(customs, corridor):
    """Both CN outbound gate lanes are held by vehicles waiting for clearance; a third, loaded, waits for a lane
    at an inspection bay: left alone while both wait (but for the safety net), planned to the lane in the tick
    after the first of them is cleared and planned across."""
    cn_docks, vn_docks = docks(corridor, "CN"), docks(corridor, "VN")
    fleet = make_fleet(customs, corridor, 3, starts=[cn_docks[0], cn_docks[1], cn_docks[2]])
    fleet.authorize(*fleet.dispatcher.tracks)
    states = _watched(fleet)
    first = [fleet.order([f"CN-20000000003{i}"], cn_docks[i], vn_docks[i]) for i in range(2)]
    assert fleet.run(1800, until=lambda: all(states.get(o) == OrderState.AWAITING_CLEARANCE for o in first))
    third = fleet.order(["CN-200000000039"], cn_docks[2], vn_docks[2])
    inspection = _nodes(corridor, NodeKind.INSPECTION, "CN")
    assert fleet.run(1800, until=lambda: states.get(third) == OrderState.LOADED
                     and _standing_at(fleet, "agv_003", inspection))
    replans = _count_replans(fleet, "agv_003")
    fleet.run(WAIT_S)
    assert WAIT_S / GOAL_WAIT_RECHECK_S - 1 <= len(replans) <= WAIT_S / GOAL_WAIT_RECHECK_S + 1, replans
    gates = sorted(n.id for n in corridor.nodes_of(NodeKind.GATE, jurisdiction="CN") if "out" in n.id)
    seen = _wake_delay(fleet, "agv_003", gates)
    fleet.release("CN-200000000030", "CN->VN")
    assert fleet.run(600, until=lambda: states.get(third) == OrderState.AWAITING_CLEARANCE), states.get(third)
    assert 0 <= seen["planned"] - seen["freed"] <= 0.5, seen


def test_a_vehicle_whose_goals_are_out_of_reach_calls_for_no_full_replan(customs, corridor):
    """agv_002 stands on a dock, stalled long: its only goal, cn_dock_3, is held for good by agv_001 standing there,
    and no plan passes where agv_002 stands. Planning the whole fleet again cannot give it the dock (measured: most
    full replans with 200 AGVs were called for by such vehicles and left every stalled vehicle stalled), so none
    is made; it is still planned again on its own. A vehicle left on the pre-gate (a waypoint, finding 11) still
    calls for one."""
    fleet = make_fleet(customs, corridor, 2, starts=["cn_dock_3", "cn_dock_1"])
    dispatcher = fleet.dispatcher
    planner, tracks = dispatcher.planner, dispatcher.tracks
    planner.plan_all([PlanRequest("agv_001", "cn_dock_3", ("cn_dock_3",))])
    stalled = planner.replan(PlanRequest("agv_002", "cn_dock_1", ("cn_dock_3",)), now=0.0)
    assert "taken for good" in stalled.stalled["agv_002"] and planner.plans["agv_002"].end == "cn_dock_1"
    for vehicle in ("agv_001", "agv_002"):
        tracks[vehicle].plan = planner.plans[vehicle]
    waiting = tracks["agv_002"]
    waiting.job, waiting.needs_plan, waiting.stalled_since = Job(JobKind.DELIVER, ("cn_dock_3",)), True, 0.0
    full, replanned = [], []
    dispatcher._plan_everyone = full.append
    dispatcher._replan = lambda track, t: replanned.append(track.id)
    waiting.state = fleet.link.state("agv_002")  # (a vehicle is planned only once it reported)
    dispatcher._replan_pending(120.0)
    assert not full and replanned == ["agv_002"]


def test_a_vehicle_left_on_the_pre_gate_still_calls_for_a_full_replan(customs, corridor):
    """Finding 11's case (tests/fleet/dispatch/test_waiting_places.py): every goal of agv_003 is taken for good, but
    it stands on a waypoint that agv_001 is planned through: only a full replan undoes that."""
    gates = ("vn_gate_out_1", "vn_gate_out_2")
    fleet = make_fleet(customs, corridor, 3, starts=["vn_insp_junction", "vn_gate_out_2", "vn_out_pregate"])
    dispatcher = fleet.dispatcher
    planner, tracks = dispatcher.planner, dispatcher.tracks
    planner.plan_all([PlanRequest("agv_001", "vn_insp_junction", ("cn_dock_1",), hold_at=gates),
                      PlanRequest("agv_002", "vn_gate_out_2", ("cn_dock_2",), hold_at=gates)])
    planner.replan(PlanRequest("agv_003", "vn_out_pregate", ("cn_dock_3",), hold_at=gates), now=0.0)
    for vehicle in tracks:
        tracks[vehicle].plan = planner.plans[vehicle]
    assert not dispatcher._goals_out_of_reach(tracks["agv_003"], 0.0)
