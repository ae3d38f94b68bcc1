"""Order-to-vehicle assignment: ``assign_online`` for the dispatch loop (CP-SAT, exact, one trip per
vehicle now) and ``assign_batch`` for a day's orders (OR-Tools routing, trips in sequence)."""

from planner.assignment.batch import assign_batch
from planner.assignment.chargers import send_to_chargers
from planner.assignment.model import (
    Assignment,
    EnergyModel,
    Reason,
    Stop,
    TransportOrder,
    Trip,
    VehicleStatus,
    Weights,
    validate_request,
)
from planner.assignment.online import assign_online
from planner.assignment.travel import TravelTimes

__all__ = [
    "Assignment", "EnergyModel", "Reason", "Stop", "TransportOrder", "TravelTimes", "Trip", "VehicleStatus",
    "Weights", "assign_batch", "assign_online", "send_to_chargers", "validate_request",
]
