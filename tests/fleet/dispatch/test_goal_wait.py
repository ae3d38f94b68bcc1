"""A stalled vehicle that waits only for a goal held for good by others is planned again when the goal frees, not
every 5 s (docs/simulation.md, "Speed": 93 % of the replans of 200 AGVs in ``target_2030`` found every goal taken
for good and changed nothing). Each wake rule: the vehicle is left alone while nothing it waits for changes (but
for the safety net, every ``GOAL_WAIT_RECHECK_S``), and sets off in the tick after its goal frees."""

from __future__ import annotations

from fleet.dispatch.goal_wait import GOAL_WAIT_RECHECK_S
from fleet.orders import OrderState
from planner.corridor import NodeKind
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
