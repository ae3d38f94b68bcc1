"""The planner's own rule for timing a vehicle's stop sequence, in floating point on the problem's
matrices, whatever solver proposed the sequence: leave the start when available, drive, wait for a stop's
earliest, serve, go on; back to the end. Every hard rule the sequence breaks is named, never hidden."""

from __future__ import annotations

import math
from collections.abc import Sequence

from planner.dayplan.model import DayProblem, Vehicle
from planner.dayplan.result import Action, Route, Visit

__all__ = ["time_route"]

EPS = 1e-6


def time_route(problem: DayProblem, vehicle: Vehicle, stops: Sequence[tuple[int, Action]]) -> Route:
    """Time ``stops`` (shipment index, pickup or drop) driven by ``vehicle``, starting as soon as it is
    available (the earliest schedule: no later start keeps a window that this one breaks)."""
    durations = problem.travel.durations[vehicle.profile]
    distances = problem.travel.distances[vehicle.profile]
    here, t, load, metres, driving = problem.at(vehicle.start), vehicle.available_s, 0, 0.0, 0.0
    breaks: list[str] = []
    visits: list[Visit] = []
    aboard: set[int] = set()
    done: set[int] = set()
    for k, action in stops:
        s = problem.shipments[k]
        up = action == Action.PICKUP
        where, window = (s.pickup, s.pickup_window) if up else (s.drop, s.drop_window)
        target = problem.at(where)
        leg = durations[here, target]
        if not math.isfinite(leg):
            breaks.append(f"{vehicle.id}: has no route from {problem.travel.locations[here]} to {where} "
                          "(its profile forbids it, e.g. no cross-border authorization)")
        arrive = t + leg
        metres += distances[here, target]
        driving += leg
        start = max(arrive, window.earliest)
        broken = max(0.0, start - window.latest)
        if broken > EPS:
            breaks.append(f"{vehicle.id}: {action} of {s.id} at {where} starts at {start:.1f} s, {broken:.1f} s "
                          f"after its window closes ({window.latest:.1f} s)")
        if up:
            if k in aboard or k in done:
                breaks.append(f"{vehicle.id}: picks up {s.id} twice")
            aboard.add(k)
            load += s.size
            if load > vehicle.capacity:
                breaks.append(f"{vehicle.id}: carries {load} units after picking up {s.id}, over its capacity "
                              f"{vehicle.capacity}")
        else:
            if k not in aboard:
                breaks.append(f"{vehicle.id}: drops {s.id} without having picked it up")
            aboard.discard(k)
            done.add(k)
            load -= s.size
        depart = start + (s.pickup_service_s if up else s.drop_service_s)
        visits.append(Visit(s.id, action, where, arrive, start, depart, load, max(0.0, start - window.due), broken))
        here, t = target, depart
    end = problem.at(vehicle.end)
    back = t + durations[here, end]
    metres += distances[here, end]
    driving += durations[here, end]
    if aboard:
        breaks.append(f"{vehicle.id}: ends its day with {', '.join(problem.shipments[k].id for k in sorted(aboard))} "
                      "still on board")
    if back > vehicle.return_by_s + EPS:
        breaks.append(f"{vehicle.id}: back at {vehicle.end} at {back:.1f} s, {back - vehicle.return_by_s:.1f} s after "
                      f"{vehicle.return_by_s:.1f} s")
    if metres > vehicle.range_m + EPS:
        breaks.append(f"{vehicle.id}: drives {metres:.0f} m, beyond the {vehicle.range_m:.0f} m its battery allows "
                      "above the reserve")
    return Route(vehicle.id, tuple(visits), vehicle.available_s, back, metres, driving, tuple(breaks))
