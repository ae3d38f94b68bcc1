"""The order the plans impose, as a graph: what an executing fleet must wait for (after Hönig et al.,
"Persistent and robust execution of MAPF schedules in warehouses", RA-L 2019, the action dependency graph).

Vertices ``(vehicle, k, ARRIVE)`` and ``(vehicle, k, LEAVE)``: the vehicle reaches / sets off from step
``k``. Edges: each vehicle's own events in order; at every node, the next vehicle planned there may only
arrive once the one before has left; on a lane group, a vehicle going the other way may only set off
into it once the one before has come out, and likewise a vehicle on another lane through a conflict
zone; two relay partners each leave the handoff pad only once the other has come. Vehicles that keep
this order never collide whatever their delays, and every edge points from an earlier planned time to a
later one, so the graph is acyclic: no delay can deadlock the fleet, it only makes those after the late
vehicle wait.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator, Mapping

import networkx as nx

from planner.schedule.lanes import TimedGraph
from planner.schedule.plans import TimedPlan

__all__ = ["ARRIVE", "LEAVE", "Waits", "precedence_graph", "release_waits"]

ARRIVE, LEAVE = 0, 1

Event = tuple[str, int, int]  # (vehicle, step index, ARRIVE | LEAVE)


class Waits(dict[Event, dict[Event, None]]):
    """The precedence graph's orderings between vehicles as each event's predecessors (each once, in the order
    a networkx graph of the same edges lists them), for the events that have any: what the release rule reads
    (``event in``, ``predecessors``). The dispatch loop builds it after every plan change (some 19,000 times in
    a busy day); building a networkx graph of the same edges cost it as much again as finding them."""

    def predecessors(self, event: Event) -> Iterator[Event]:
        return iter(self[event])

    @property
    def edges(self) -> list[tuple[Event, Event]]:
        return [(before, event) for event, befores in self.items() for before in befores]


def precedence_graph(timed: TimedGraph, plans: Mapping[str, TimedPlan]) -> nx.DiGraph:
    """An impossible order (a vehicle planned at a node after another stays there for good) shows as a
    self-loop, so ``nx.is_directed_acyclic_graph`` is the whole check."""
    dependencies = nx.DiGraph()
    for vehicle, plan in plans.items():
        nx.add_path(dependencies, [(vehicle, k, kind) for k in range(len(plan.steps)) for kind in (ARRIVE, LEAVE)][:-1])
    dependencies.add_edges_from(_between_vehicles(timed, plans))
    return dependencies


def release_waits(timed: TimedGraph, plans: Mapping[str, TimedPlan]) -> Waits:
    """The precedence graph less each vehicle's own events in order, which the release rule
    (:func:`planner.schedule.release.releasable_until`) does not read: a chain along every plan, which a
    dispatch loop rebuilding the graph after every replan need not build."""
    waits = Waits()
    for before, event in _between_vehicles(timed, plans):
        waits.setdefault(event, {})[before] = None
    return waits


def _between_vehicles(timed: TimedGraph, plans: Mapping[str, TimedPlan]) -> list[tuple[Event, Event]]:
    """The graph's edges between events of different vehicles (and the self-loops of impossible orders)."""
    edges: list[tuple[Event, Event]] = []
    visits: dict[str, list[tuple[float, str, int]]] = defaultdict(list)
    group_uses: dict[tuple[str, str], list[tuple[float, bool | str, str, int]]] = defaultdict(list)
    lanes = timed.lanes
    for vehicle, plan in plans.items():
        # (one pass along the plan, most of them one step long: built some 19,000 times a day, for every plan)
        steps = plan.steps
        here = steps[0]
        visits[here.node].append((here.arrive, vehicle, 0))
        if len(steps) == 1:
            continue  # (a vehicle staying where it is: some 196 plans in 200 of a busy day's)
        for k in range(1, len(steps)):
            nxt = steps[k]
            visits[nxt.node].append((nxt.arrive, vehicle, k))
            lane = lanes[(here.node, nxt.node)]
            if lane.group:
                group_uses[("group", lane.group)].append((here.depart, lane.forward, vehicle, k - 1))
            for zone in lane.zones:
                group_uses[("zone", zone)].append((here.depart, lane.way, vehicle, k - 1))
            here = nxt
    for ordered in visits.values():
        if len(ordered) == 1:
            continue  # (most nodes: a parked vehicle's place)
        ordered.sort()
        for (_, before, k_before), (_, after, k_after) in itertools.pairwise(ordered):
            if before == after:
                continue
            if after in plans[before].meets:  # a relay meeting
                edges.append(((before, k_before, ARRIVE), (after, k_after, LEAVE)))
                edges.append(((after, k_after, ARRIVE), (before, k_before, LEAVE)))
            elif k_before < len(plans[before].steps) - 1:
                edges.append(((before, k_before, LEAVE), (after, k_after, ARRIVE)))
            else:
                edges.append(((after, k_after, ARRIVE), (after, k_after, ARRIVE)))
    for uses in group_uses.values():
        uses.sort()
        for index, (_, way, vehicle, k) in enumerate(uses):
            leave = (vehicle, k, LEAVE)
            edges += [((other, k_other + 1, ARRIVE), leave) for _, other_way, other, k_other in uses[:index]
                      if other_way != way and other != vehicle]
    return edges
