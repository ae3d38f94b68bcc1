"""Transport orders: the model with its lifecycle (DESIGN.md §6) and the service that stores every transition."""

from fleet.orders.model import ACTIVE_STATES, OrderCreate, OrderPublic, OrderState, Transition
from fleet.orders.service import Move, OrderError, OrderService

__all__ = ["ACTIVE_STATES", "Move", "OrderCreate", "OrderError", "OrderPublic", "OrderService", "OrderState",
           "Transition"]
