"""The day planner on a corridor map: travel matrices from the lane graph (one layer per vehicle profile,
so a vehicle without cross-border authorization has no route over the border), vehicles from their
dispatch status and battery, and the capacity study's question, how many AGVs a day's demand needs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from planner.assignment.model import CAPACITY_TEU, EnergyModel, TransportOrder, VehicleStatus
from planner.assignment.prepare import travel_for
from planner.assignment.travel import TravelTimes
from planner.corridor import WAITING_KINDS, NodeKind
from planner.dayplan.model import Costs, DayProblem, Shipment, TravelMatrix, Vehicle, Window
from planner.dayplan.result import Backend, DayPlan
from planner.dayplan.solve import plan_day
from planner.exceptions import InvalidRequest
from planner.routing import VehicleProfile

__all__ = ["FleetSizing", "corridor_problem", "fleet_needed", "nearest_homes", "shipment_of"]


def shipment_of(order: TransportOrder, service_s: float = 0.0, latest_late_s: float = math.inf) -> Shipment:
    """A dispatch order as a day shipment: picked up from its ready time, due (soft) at its due time, at
    most ``latest_late_s`` after it (hard)."""
    return Shipment(order.id, order.pickup, order.drop, order.teu, Window(earliest=order.ready_s),
                    Window(latest=order.due_s + latest_late_s, due=order.due_s), service_s, service_s,
                    order.priority)


def nearest_homes(graph: nx.DiGraph, vehicles: Sequence[VehicleStatus], kind: NodeKind = NodeKind.CHARGER,
                  travel: TravelTimes | None = None) -> dict[str, str]:
    """Each vehicle's nearest node of ``kind`` (by driving time, on the routes its profile allows), as the
    place it ends its day; a vehicle that reaches none is left out."""
    travel = travel_for(graph, travel)
    places = [n for n, k in graph.nodes(data="kind") if k == kind]
    homes = {}
    for v in vehicles:
        reach = travel.from_node(v.node, v.profile)
        back = {p: reach[p][0] + travel.from_node(p, v.profile).get(v.node, (math.inf,))[0] for p in places
                if p in reach}
        if back:
            homes[v.id] = min(back, key=back.__getitem__)
    return homes


def corridor_problem(graph: nx.DiGraph, shipments: Sequence[Shipment], vehicles: Sequence[VehicleStatus],
                     homes: Mapping[str, str], energy: EnergyModel, costs: Costs = Costs(),
                     capacity: int = CAPACITY_TEU, return_by_s: float = math.inf,
                     travel: TravelTimes | None = None) -> DayProblem:
    """The day's problem on the corridor. Each vehicle starts where its status says, when it is free, and
    ends its day at ``homes[vehicle id]`` (a parking or charging node) by ``return_by_s``; its range is
    what its battery allows above ``energy.reserve``. ``capacity`` and the shipments' sizes share a unit."""
    travel = travel_for(graph, travel)
    for v in vehicles:
        if v.id not in homes:
            raise InvalidRequest(f"vehicle {v.id}: no home (parking or charging node) to end its day at")
    nodes = list(dict.fromkeys([v.node for v in vehicles] + [homes[v.id] for v in vehicles]
                               + [n for s in shipments for n in (s.pickup, s.drop)]))
    for node in nodes:
        if node not in graph:
            raise InvalidRequest(f"node {node!r} is not in the corridor")
    for v in vehicles:
        if graph.nodes[homes[v.id]]["kind"] not in WAITING_KINDS:
            raise InvalidRequest(f"vehicle {v.id}: its home {homes[v.id]} is a {graph.nodes[homes[v.id]]['kind']}, "
                                 "where a vehicle may not wait (a parking or charging node)")
    profiles: list[VehicleProfile] = list(dict.fromkeys(v.profile for v in vehicles)) or [VehicleProfile()]
    tables = [travel.matrix(nodes, p) for p in profiles]
    matrix = TravelMatrix(tuple(nodes), np.stack([t for t, _ in tables]), np.stack([m for _, m in tables]),
                          coordinates=np.array([(graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in nodes]))
    fleet = tuple(Vehicle(v.id, v.node, homes[v.id], capacity, profiles.index(v.profile), v.free_at_s,
                          max(return_by_s, v.free_at_s),
                          max(0.0, (v.battery - energy.reserve) / energy.fraction_per_km * 1000.0))
                  for v in vehicles)
    return DayProblem(matrix, tuple(shipments), fleet, costs)


@dataclass(frozen=True)
class FleetSizing:
    """How many vehicles the day needs: the fewest the planner found serving every shipment within its hard
    windows (``None`` if even all ``offered`` could not), and the plan that does it."""

    offered: int
    needed: int | None
    plan: DayPlan


def fleet_needed(graph: nx.DiGraph, shipments: Sequence[Shipment], depot: str, offered: int, energy: EnergyModel,
                 profile: VehicleProfile = VehicleProfile(), battery: float = 1.0, capacity: int = CAPACITY_TEU,
                 start_s: float = 0.0, end_s: float = math.inf, vehicle_cost: float = 1e7, costs: Costs = Costs(),
                 backend: Backend = Backend.AUTO, time_limit_s: float = 10.0,
                 travel: TravelTimes | None = None) -> FleetSizing:
    """The capacity study's question for one day of demand: up to ``offered`` identical vehicles, all from
    and back to ``depot`` (a parking or charging area) between ``start_s`` and ``end_s``, each vehicle used
    costing ``vehicle_cost`` (above any day's driving, so the fewest vehicles come first)."""
    if offered < 1:
        raise InvalidRequest(f"offered must be at least 1 vehicle, not {offered}")
    if not end_s >= start_s:
        raise InvalidRequest(f"end_s {end_s} is before start_s {start_s}")
    fleet = [VehicleStatus(f"agv{i:03d}", depot, start_s, battery, profile) for i in range(offered)]
    problem = corridor_problem(graph, shipments, fleet, {v.id: depot for v in fleet}, energy,
                               Costs(vehicle_cost, costs.per_metre, costs.late_per_s, costs.unserved), capacity,
                               end_s, travel)
    plan = plan_day(problem, backend, time_limit_s)
    return FleetSizing(offered, plan.vehicles_used if plan.feasible else None, plan)
