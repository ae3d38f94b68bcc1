"""The small interface the rest of the fleet uses to command vehicles and read their state."""

from __future__ import annotations

from typing import NamedTuple, Protocol

from agv_agent.protocol import InstantAction, Order, VehicleState


class VehicleSnapshot(NamedTuple):
    """What the fleet knows of a vehicle at one instant, read at once."""

    state: VehicleState | None
    age_s: float | None  # seconds since that state arrived
    connection: str | None


class VehicleLink(Protocol):
    def add_vehicle(self, vehicle_id: str) -> None:
        """Start talking to a vehicle (subscribe its state, prepare its order topic)."""

    def send_order(self, vehicle_id: str, order: Order) -> None:
        """Send an order or an order update (same order_id, higher order_update_id)."""

    def send_actions(self, vehicle_id: str, actions: list[InstantAction]) -> None:
        """Send instant actions (pause, resume, cancel, emergency stop, heartbeat)."""

    def state(self, vehicle_id: str) -> VehicleState | None:
        """The latest state received, or None."""

    def state_age(self, vehicle_id: str) -> float | None:
        """Seconds since the latest state arrived (the fleet's freshness watch), or None."""

    def connection(self, vehicle_id: str) -> str | None:
        """ONLINE or OFFLINE as the vehicle last said, or CONNECTIONBROKEN when it vanished without saying OFFLINE."""

    def snapshot(self, vehicle_id: str) -> VehicleSnapshot:
        """State, its age and the connection, read together (the dispatch loop's one read per vehicle)."""
