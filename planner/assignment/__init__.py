"""Order-to-vehicle assignment for the dispatch loop: ``assign_online`` (CP-SAT, exact, one trip per vehicle
now). A whole day's orders are planned by :mod:`planner.dayplan`."""

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
from planner.assignment.online import assign_online, chargers_only
from planner.assignment.travel import TravelTimes

__all__ = [
    "Assignment", "EnergyModel", "Reason", "Stop", "TransportOrder", "TravelTimes", "Trip", "VehicleStatus",
    "Weights", "assign_online", "chargers_only", "send_to_chargers", "validate_request",
]
