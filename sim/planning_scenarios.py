"""Random but well-formed planning scenarios on any corridor: a busy moment of the fleet, some vehicles
parked or at docks, some on the roads, each with somewhere to go. Used by the planner's tests and benchmark.

Goals never form a cycle (A to B's spot while B goes to A's): each vehicle's goal is a free place or the
spot of a vehicle later in a random order, which is what a dispatcher's stream of orders produces too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import networkx as nx

from planner.corridor import TERMINAL_KINDS, Corridor, NodeKind
from planner.routing import VehicleProfile, restricted_view
from planner.schedule import PlanRequest

__all__ = ["RelayTrip", "random_requests", "relay_trips"]


def random_requests(corridor: Corridor, count: int, seed: int, moving_share: float = 0.3, idle_share: float = 0.0,
                    unauthorized_share: float = 0.0, relay: bool = False) -> list[PlanRequest]:
    """``count`` requests: a ``moving_share`` of vehicles start on the roads (a waypoint), the rest at
    terminals (docks, parking, chargers), an ``idle_share`` of which stay where they are (and so do parked
    vehicles for which no place is left); goals are terminals. Of the vehicles that can reach their goal
    without crossing the border, an ``unauthorized_share`` is not authorized to cross. With ``relay``
    (a relay corridor) every vehicle stays on the side it starts on (``VehicleProfile(home=...)``).

    Raises
    ------
    ValueError : more vehicles than the corridor has places for.
    """
    rng = random.Random(seed)
    graph = corridor.graph
    terminals = sorted(n for n, kind in graph.nodes(data="kind") if kind in TERMINAL_KINDS)
    roads = sorted(n for n, kind in graph.nodes(data="kind") if kind == NodeKind.WAYPOINT)
    moving = min(round(count * moving_share), len(roads) // 3)
    if count - moving > len(terminals):
        raise ValueError(f"{count} vehicles do not fit on {corridor.name}: {len(terminals)} terminal places")
    # vehicles on the road choose first (they must go somewhere), then the parked ones in a random order
    starts = _spread(rng, roads, moving, graph) + rng.sample(terminals, count - moving)
    free = [n for n in terminals if n not in starts]
    claimed: set[str] = set()
    goals: list[str] = []
    for index, start in enumerate(starts):
        later = [n for n in starts[index + 1:] if graph.nodes[n]["kind"] in TERMINAL_KINDS]
        spare = [n for n in free if n not in claimed]
        vacated = [n for n in later if n not in claimed]
        if relay:
            reachable = _reachable_at_home(graph, start)
            spare, vacated = [n for n in spare if n in reachable], [n for n in vacated if n in reachable]
        # keep free places for the vehicles still to come, who can only take free or later-vacated spots
        choices = spare + vacated if len(spare) > count - index or not vacated else vacated
        may_stay = graph.nodes[start]["kind"] in TERMINAL_KINDS and start not in claimed
        if may_stay and (not choices or rng.random() < idle_share):
            goals.append(start)  # idle: it stays where it is
            claimed.add(start)
            continue
        if not choices:
            raise ValueError(f"no place left to send vehicle {index} of {count} on {corridor.name}")
        goals.append(rng.choice(choices))
        claimed.add(goals[-1])
    requests = []
    for index, (start, goal) in enumerate(zip(starts, goals, strict=True)):
        if relay:
            home = VehicleProfile(cross_border=False, home=graph.nodes[start]["jurisdiction"])
            requests.append(PlanRequest(f"agv_{index:03d}", start, (goal,), profile=home))
            continue
        home_only = VehicleProfile(cross_border=False)
        may_stay_home = goal in nx.descendants(restricted_view(graph, home_only), start) | {start}
        profile = home_only if may_stay_home and rng.random() < unauthorized_share else VehicleProfile()
        requests.append(PlanRequest(f"agv_{index:03d}", start, (goal,), profile=profile))
    return requests


@dataclass(frozen=True)
class RelayTrip:
    """A container handed over at the pad: ``deliverer`` brings it from its side, ``receiver`` takes it on."""

    deliverer: PlanRequest
    receiver: PlanRequest


def relay_trips(corridor: Corridor, requests: list[PlanRequest], seed: int, share: float = 0.5
                ) -> tuple[list[PlanRequest], list[RelayTrip]]:
    """Pair a ``share`` of the parked vehicles of a relay moment (:func:`random_requests` with ``relay``)
    across the border: one of each side, meeting at the handoff pad on the way to their own goals. Returns
    the other requests, with each paired vehicle staying where it is until its relay is planned
    (:func:`planner.schedule.handoff.plan_relay`), and the trips."""
    rng = random.Random(seed)
    graph = corridor.graph
    a, b = corridor.jurisdictions
    # a paired vehicle stays where it is until its relay is planned: nobody may be heading for its spot
    wanted = {goal for r in requests for goal in r.goals}
    parked = {side: [r for r in requests if graph.nodes[r.start]["kind"] in TERMINAL_KINDS and r.start not in wanted
                     and r.profile.home == side] for side in (a, b)}
    pairs = min(len(parked[a]), len(parked[b]), round(len(requests) * share / 2))
    trips = []
    for first, second in zip(rng.sample(parked[a], pairs), rng.sample(parked[b], pairs), strict=True):
        trips.append(RelayTrip(first, second) if rng.random() < 0.5 else RelayTrip(second, first))
    paired = {r.vehicle_id for trip in trips for r in (trip.deliverer, trip.receiver)}
    others = [replace(r, goals=(r.start,)) if r.vehicle_id in paired else r for r in requests]
    return others, trips


def _reachable_at_home(graph: nx.DiGraph, start: str) -> set[str]:
    view = restricted_view(graph, VehicleProfile(cross_border=False, home=graph.nodes[start]["jurisdiction"]))
    return nx.descendants(view, start) | {start}


def _spread(rng: random.Random, roads: list[str], count: int, graph) -> list[str]:
    """``count`` road nodes no two of which are joined by a lane (vehicles a lane apart, not bumper to bumper)."""
    chosen: list[str] = []
    for node in rng.sample(roads, len(roads)):
        if len(chosen) == count:
            break
        if not any(graph.has_edge(node, other) or graph.has_edge(other, node) for other in chosen):
            chosen.append(node)
    return chosen
