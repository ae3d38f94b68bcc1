"""The fast mode's event-driven vehicle arrives where and when the agent stepped at its 20 Hz control rate does.

Both run the agent's own :class:`AgentLogic`: one on a :class:`UnicycleBase` stepped every 50 ms
(``InProcessLink``), the other moved by the closed-form motion of ``sim.fast.motion`` (``EventLink``). Stated
tolerance: every node reached within 1.5 s of the stepped model, on a 1.7 km trip yard to yard across the
bridge (about 25 minutes, 55 nodes, 90-degree corners, lanes from 5 to 25 km/h), and the vehicle stops within
0.3 m of where the stepped one does.
"""

from __future__ import annotations

import itertools
import math

import pytest
from agv_agent.protocol import Order, OrderEdge, OrderNode

from fleet.vehicles.inprocess import InProcessLink
from planner.corridor import NodeKind
from planner.routing import fastest_route
from sim.fast.motion import plan_motion
from sim.fast.vehicles import EventLink

TOLERANCE_S = 1.5
STEP_S = 0.05  # the agent's control period (20 Hz)


def _route(corridor) -> list[str]:
    park = sorted(n.id for n in corridor.nodes_of(NodeKind.PARKING, jurisdiction="VN"))[5]
    dock = sorted(n.id for n in corridor.nodes_of(NodeKind.DOCK, jurisdiction="CN"))[2]
    return list(fastest_route(corridor.graph, park, dock).nodes)


def _order(corridor, route: list[str], released: int, update: int) -> Order:
    nodes = tuple(OrderNode(n, 2 * k, k <= released, corridor.nodes[n].x, corridor.nodes[n].y)
                  for k, n in enumerate(route))
    lanes = [corridor.lane_between(a, b) for a, b in itertools.pairwise(route)]
    edges = tuple(OrderEdge(lane.id, 2 * k + 1, k + 1 <= released, lane.source, lane.target, lane.max_speed)
                  for k, lane in enumerate(lanes))
    return Order("trip", update, nodes, edges)


def _releases(route: list[str]) -> list[tuple[float, int]]:
    """(time, last released index): a third at once, more while it drives, the rest after it stood a while."""
    return [(0.0, len(route) // 3), (120.0, 2 * len(route) // 3), (1200.0, len(route) - 1)]


def _drive(link, corridor, route: list[str], advance) -> tuple[dict[str, float], tuple[float, float]]:
    clock = link.clock
    node = corridor.nodes[route[0]]
    link.spawn("agv_001", node.x, node.y, corridor.heading_into(node.id), node.id)
    arrivals: dict[str, float] = {}
    pending = _releases(route)
    update = 0
    last = None
    while clock.t < 3000:
        while pending and pending[0][0] <= clock.t:
            _, released = pending.pop(0)
            first = 0 if update == 0 else _releases(route)[update - 1][1]
            order = _order(corridor, route, released, update)
            if update:
                order = Order(order.order_id, update, order.nodes[first:], order.edges[first:])
            link.send_order("agv_001", order)
            update += 1
        advance(pending[0][0] if pending else 3000.0)
        state = link.state("agv_001")
        if state.last_node_id != last:
            last = state.last_node_id
            arrivals.setdefault(last, state.stamp)
        if not pending and not state.node_states and not state.driving:
            break
    state = link.state("agv_001")
    assert state.errors == (), state.errors
    return arrivals, (state.pose.x, state.pose.y)


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _stepped(corridor, route):
    clock = _Clock()
    link = InProcessLink(clock)

    def advance(until: float) -> None:
        clock.t += STEP_S
        link.heartbeat()  # the fleet is alive (the dispatch loop sends these)
        link.advance(STEP_S, substep=STEP_S)

    return _drive(link, corridor, route, advance)


def _event_driven(corridor, route):
    clock = _Clock()
    link = EventLink(clock, clear_m=17.0)

    def advance(until: float) -> None:
        due = link.next_event()
        clock.t = min(due if due is not None else math.inf, until)
        link.advance_to(clock.t)

    return _drive(link, corridor, route, advance)


@pytest.mark.slow
def test_event_driven_vehicle_arrives_where_and_when_the_stepped_one_does(bac_luan_ii) -> None:
    route = _route(bac_luan_ii)
    stepped, stepped_end = _stepped(bac_luan_ii, route)
    event, event_end = _event_driven(bac_luan_ii, route)
    assert list(event) == list(stepped) == route  # every node, in order
    worst = max(abs(event[n] - stepped[n]) for n in route[1:])
    assert worst <= TOLERANCE_S, {n: round(event[n] - stepped[n], 2) for n in route[1:]}
    assert math.dist(event_end, stepped_end) <= 0.3
    assert stepped[route[-1]] > 1000  # a real trip, with the stops it was made to wait at


def test_an_update_that_leaves_the_way_as_it_was_does_not_solve_the_motion_again(bac_luan_ii, monkeypatch) -> None:
    """A full plan of the fleet sends most vehicles the base they have: each drives on as it did (solving its
    motion again from mid-way was a third of the simulated vehicles' cost); a further release is solved."""
    import sim.fast.vehicles as vehicles

    solved = []
    monkeypatch.setattr(vehicles, "plan_motion", lambda *a, **k: solved.append(a[0]) or plan_motion(*a, **k))
    route = _route(bac_luan_ii)
    released = len(route) // 3

    def trip(repeats: bool) -> list[tuple[str, float]]:
        clock = _Clock()
        link = EventLink(clock, clear_m=17.0)
        node = bac_luan_ii.nodes[route[0]]
        link.spawn("agv_001", node.x, node.y, bac_luan_ii.heading_into(node.id), node.id)
        link.send_order("agv_001", _order(bac_luan_ii, route, released, 0))
        seen, update = [], 0
        while (due := link.next_event()) is not None and clock.t < 600:
            clock.t = due
            link.advance_to(due)
            state = link.state("agv_001")
            if not seen or seen[-1][0] != state.last_node_id:
                seen.append((state.last_node_id, clock.t))
            if repeats and state.driving and update < 3:  # the same base again, from its end, while it drives
                update += 1
                whole = _order(bac_luan_ii, route, released, update)
                link.send_order("agv_001", Order(whole.order_id, update, whole.nodes[released:],
                                                 whole.edges[released:]))
        assert update == (3 if repeats else 0)
        assert link.state("agv_001").errors == ()
        return seen

    alone = trip(repeats=False)
    solves_alone = len(solved)
    assert trip(repeats=True) == alone  # the same nodes at the same times, to the bit
    assert len(solved) - solves_alone == solves_alone  # and no motion solved for the repeats
