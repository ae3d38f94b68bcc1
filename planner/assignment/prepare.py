"""What both assignment modes do first: check the request, send low vehicles to chargers, and score every
single-order trip for every vehicle (which also says which orders cannot be served, and why)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import networkx as nx
import numpy as np

from planner.assignment.chargers import send_to_chargers
from planner.assignment.model import EnergyModel, Reason, TransportOrder, VehicleStatus, Weights, validate_request
from planner.assignment.travel import TravelTimes
from planner.assignment.trips import Evaluated, Problem, evaluate, reasons, singles
from planner.exceptions import InvalidRequest

__all__ = ["Prepared", "prepare", "travel_for"]


@dataclass(frozen=True)
class Prepared:
    orders: list[TransportOrder]
    vehicles: list[VehicleStatus]
    able: np.ndarray  # vehicles charged enough to take orders
    to_charger: dict[str, str]
    problem: Problem
    start_s: np.ndarray  # when each vehicle can start
    single: Evaluated  # every vehicle x every order alone
    why: list[Reason]  # per order: NOT_CHOSEN if some able vehicle can serve it, else why not


def prepare(graph: nx.DiGraph, orders: Iterable[TransportOrder], vehicles: Iterable[VehicleStatus],
            chargers: Collection[str], energy: EnergyModel, weights: Weights, now_s: float,
            travel: TravelTimes | None) -> Prepared:
    orders, vehicles = list(orders), list(vehicles)
    validate_request(graph, orders, vehicles, chargers)
    travel = travel_for(graph, travel)
    able = np.array([v.battery >= energy.low for v in vehicles], dtype=bool)
    to_charger = send_to_chargers(travel, [v for v, a in zip(vehicles, able, strict=True) if not a], chargers,
                                  energy)
    problem = Problem.build(travel, orders, vehicles)
    start_s = np.array([max(now_s, v.free_at_s) for v in vehicles])
    single = evaluate(problem, weights, energy, start_s, *singles(len(orders)))
    return Prepared(orders, vehicles, able, to_charger, problem, start_s, single, reasons(problem, single, able))


def travel_for(graph: nx.DiGraph, travel: TravelTimes | None) -> TravelTimes:
    if travel is None:
        return TravelTimes(graph)
    if travel.graph is not graph:
        raise InvalidRequest("the travel times given were built for another graph")
    return travel
