"""The day planner: a day's containers over a fleet, pickup-and-delivery with hard and soft windows at
both ends, capacity, the return to a parking or charging area, a cost per vehicle, battery range and
each vehicle's cross-border authorization, solved by PyVRP or OR-Tools routing behind one interface."""

from planner.dayplan.model import Costs, DayProblem, Shipment, TravelMatrix, Vehicle, Window
from planner.dayplan.result import Action, Backend, Clock, DayPlan, Route, SolverAnswer, Visit
from planner.dayplan.solve import plan_day

__all__ = ["Action", "Backend", "Clock", "Costs", "DayPlan", "DayProblem", "Route", "Shipment", "SolverAnswer",
           "TravelMatrix", "Vehicle", "Visit", "Window", "plan_day"]
