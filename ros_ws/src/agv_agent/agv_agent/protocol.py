"""The vehicle protocol (DESIGN.md §5, VDA 5050 semantics) as plain dataclasses: no ROS imports.

Both the agent and the fleet's ROS bridge use these types; ``agv_agent.convert`` is the only place that
knows the ``agv_interfaces`` messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActionType(StrEnum):
    PAUSE = "startPause"
    RESUME = "stopPause"
    CANCEL_ORDER = "cancelOrder"
    EMERGENCY_STOP = "emergencyStop"
    RELEASE_EMERGENCY_STOP = "releaseEmergencyStop"
    HEARTBEAT = "heartbeat"


CHARGE_ACTION = "startCharging"


@dataclass(frozen=True)
class OrderNode:
    node_id: str
    sequence_id: int
    released: bool
    x: float
    y: float
    theta: float = 0.0
    allowed_deviation_xy: float = 0.5
    actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderEdge:
    edge_id: str
    sequence_id: int
    released: bool
    start_node_id: str
    end_node_id: str
    max_speed: float = 0.0  # m/s, 0 = none given


@dataclass(frozen=True)
class Order:
    order_id: str
    order_update_id: int
    nodes: tuple[OrderNode, ...]
    edges: tuple[OrderEdge, ...] = ()


@dataclass(frozen=True)
class InstantAction:
    action_id: str
    action_type: str


@dataclass(frozen=True)
class ActionState:
    action_id: str
    action_type: str
    status: str  # WAITING | RUNNING | FINISHED | FAILED
    result: str = ""


@dataclass(frozen=True)
class AgvError:
    error_type: str
    level: str  # WARNING | FATAL
    description: str


@dataclass(frozen=True)
class Pose:
    x: float
    y: float
    theta: float


@dataclass(frozen=True)
class VehicleState:
    vehicle_id: str
    order_id: str
    order_update_id: int
    last_node_id: str
    last_node_sequence_id: int
    node_states: tuple[OrderNode, ...]
    edge_states: tuple[OrderEdge, ...]
    pose: Pose
    velocity: tuple[float, float]  # (linear m/s, angular rad/s)
    driving: bool
    paused: bool
    link_lost: bool
    battery_charge: float  # percent
    charging: bool
    loads: tuple[str, ...] = ()
    action_states: tuple[ActionState, ...] = ()
    errors: tuple[AgvError, ...] = ()
    e_stop: str = "NONE"
    stamp: float = 0.0  # seconds since the epoch, when the vehicle sent it

    @property
    def released_remaining(self) -> tuple[OrderNode, ...]:
        return tuple(n for n in self.node_states if n.released)
