"""The day planner: a day's containers over a fleet, pickup-and-delivery with hard and soft windows at
both ends, capacity, the return to a parking or charging area, a cost per vehicle, battery range and
each vehicle's cross-border authorization, solved by PyVRP or OR-Tools routing behind one interface
(:func:`plan_day`); on a corridor map, :mod:`planner.dayplan.corridor` (and the capacity study's
:func:`fleet_needed`)."""

from planner.dayplan.corridor import FleetSizing, corridor_problem, fleet_needed, nearest_homes, shipment_of
from planner.dayplan.model import Costs, DayProblem, Shipment, TravelMatrix, Vehicle, Window
from planner.dayplan.result import Action, Backend, Clock, DayPlan, Route, SolverAnswer, Visit
from planner.dayplan.solve import plan_day

__all__ = ["Action", "Backend", "Clock", "Costs", "DayPlan", "DayProblem", "FleetSizing", "Route", "Shipment",
           "SolverAnswer", "TravelMatrix", "Vehicle", "Visit", "Window", "corridor_problem", "fleet_needed",
           "nearest_homes", "plan_day", "shipment_of"]
