"""The capacity study's other answer: how many AGVs a scenario's day of demand needs by the day planner
(:func:`planner.dayplan.fleet_needed`), beside what the simulated sweep measures.

The day planner sees the orders, the docks, the lanes, the vehicles' capacity and battery, and each order's
deadline; it does not see customs (an order waits at the gate as long as its clearance takes) or traffic at
the gates. So its answer is a lower bound: the fleet the demand needs if every consignment were cleared on
arrival at the gate. The simulated sweep (``xborder sim sweep``) measures the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.assignment import EnergyModel
from planner.corridor import Corridor, NodeKind
from planner.dayplan import Backend, Shipment, Window
from planner.dayplan.corridor import FleetSizing, fleet_needed
from planner.routing import VehicleProfile
from sim.fast.runner import demand_of
from sim.scenario import OperatingModel, Scenario

__all__ = ["CapacityError", "DayPlanFleet", "day_plan_fleet"]


class CapacityError(ValueError):
    """The scenario cannot be posed to the day planner (say, relay operation)."""


@dataclass(frozen=True)
class DayPlanFleet:
    """The day planner's answer for a scenario: the fewest AGVs serving every order by its deadline (``None``
    if even the scenario's fleet could not), out of how many, for how many orders."""

    scenario: str
    orders: int
    offered: int
    needed: int | None
    sizing: FleetSizing


def day_plan_fleet(scenario: Scenario, corridor: Corridor, deadline_h: float = 8.0, time_limit_s: float = 10.0,
                   backend: Backend = Backend.ORTOOLS) -> DayPlanFleet:
    """Every order of the scenario's demand, picked up once booked and delivered within ``deadline_h``
    hours (hard), by up to the scenario's fleet of cross-border AGVs starting from and returning to one
    parking area by the end of the run.

    OR-Tools routing by default, by measurement: on ``baseline_2026``'s day (298 orders, 40 AGVs, 60 s) it
    found a plan with 17 AGVs, where PyVRP (the stronger on Li & Lim's 100 tasks) still left vehicles over
    their capacity."""
    if scenario.operating_model != OperatingModel.THROUGH:
        raise CapacityError(f"{scenario.name}: the day planner sizes through operation only, not "
                            f"{scenario.operating_model.value}")
    parking = sorted(n.id for n in corridor.nodes_of(NodeKind.PARKING))
    if not parking:
        raise CapacityError(f"{scenario.name}: the map has no parking area for the vehicles to start from")
    battery = scenario.fleet.battery
    energy = EnergyModel(fraction_per_km=battery.consumption_kwh_per_km / battery.capacity_kwh)
    deadline_s = deadline_h * 3600.0
    shipments = [Shipment(f"order{o.index:05d}", o.pickup, o.drop, len(o.consignments),
                          Window(earliest=o.ready_s), Window(latest=o.ready_s + deadline_s))
                 for o in demand_of(scenario, corridor)]
    sizing = fleet_needed(corridor.graph, shipments, parking[0], scenario.fleet.size, energy,
                          VehicleProfile(cross_border=True), battery=battery.initial_percent[1] / 100.0,
                          end_s=scenario.duration_s + deadline_s, backend=backend, time_limit_s=time_limit_s)
    return DayPlanFleet(scenario.name, len(shipments), scenario.fleet.size, sizing.needed, sizing)
