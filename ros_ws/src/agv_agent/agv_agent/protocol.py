"""The vehicle protocol (DESIGN.md §5) as plain dataclasses, following VDA 5050 2.1: no ROS, no JSON.

Both the agent and the fleet's links use these types; ``agv_agent.convert`` is the only place that knows
the ``agv_interfaces`` messages, ``agv_agent.vda_json`` the only one that knows VDA 5050's JSON.
Names are VDA 5050's in snake_case (``docs/vehicle-protocol.md`` maps them field by field).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

#: The VDA 5050 version the vehicles and the fleet speak, and the MQTT topic's interface name and major version.
VDA_VERSION = "2.1.0"
VDA_MAJOR = "v2"
INTERFACE_NAME = "uagv"
#: The corridor's one map (node positions and the vehicle's pose are in its local metric frame).
MAP_ID = "corridor"


class ActionType(StrEnum):
    """The VDA 5050 predefined actions the agent performs (others are refused with an error)."""

    PAUSE = "startPause"
    RESUME = "stopPause"
    CANCEL_ORDER = "cancelOrder"
    EMERGENCY_STOP = "emergencyStop"  # not predefined by VDA 5050: the fleet's remote e-stop (documented)
    RELEASE_EMERGENCY_STOP = "releaseEmergencyStop"
    START_CHARGING = "startCharging"
    STOP_CHARGING = "stopCharging"
    PICK = "pick"
    DROP = "drop"
    FACTSHEET_REQUEST = "factsheetRequest"
    STATE_REQUEST = "stateRequest"


class BlockingType(StrEnum):
    NONE = "NONE"  # may run while driving and beside other actions
    SOFT = "SOFT"  # the vehicle stands still; other actions may run
    HARD = "HARD"  # the vehicle stands still and nothing else runs


class ActionStatus(StrEnum):
    WAITING = "WAITING"
    INITIALIZING = "INITIALIZING"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"

    @property
    def done(self) -> bool:
        return self in _DONE


#: (module constants: looking members up on an enum class costs more than the test itself, and the fleet asks
#: every vehicle's mode at every tick)
_DONE = frozenset({ActionStatus.FINISHED, ActionStatus.FAILED})


class ConnectionState(StrEnum):
    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"
    CONNECTIONBROKEN = "CONNECTIONBROKEN"


class ErrorLevel(StrEnum):
    WARNING = "WARNING"
    FATAL = "FATAL"


class OperatingMode(StrEnum):
    """Only AUTOMATIC (and SEMIAUTOMATIC) vehicles take orders from the fleet (VDA 5050 §6.10.6)."""

    AUTOMATIC = "AUTOMATIC"
    SEMIAUTOMATIC = "SEMIAUTOMATIC"
    MANUAL = "MANUAL"
    SERVICE = "SERVICE"
    TEACHIN = "TEACHIN"

    @cached_property
    def takes_orders(self) -> bool:
        # cached on the member (a member's mode never changes): the fleet asks every vehicle's at every tick,
        # 2.6 M times a day in fast mode, and hashing a StrEnum member for the set costs three times the lookup
        return self in _TAKING_ORDERS


_TAKING_ORDERS = frozenset({OperatingMode.AUTOMATIC, OperatingMode.SEMIAUTOMATIC})


class EStop(StrEnum):
    AUTOACK = "AUTOACK"
    MANUAL = "MANUAL"
    REMOTE = "REMOTE"
    NONE = "NONE"


class ErrorType(StrEnum):
    """The error types the agent reports (VDA 5050's where it names one)."""

    ORDER_VALIDATION = "validationError"
    ORDER_NOT_ACCEPTABLE = "orderError"
    ORDER_UPDATE = "orderUpdateError"
    NO_ORDER_TO_CANCEL = "noOrderToCancel"
    UNKNOWN_ACTION = "unsupportedActionType"
    ACTION_PARAMETER = "actionParameterError"
    NOT_AUTOMATIC = "notInAutomaticMode"
    LOAD_HANDLING = "loadHandlingError"
    LOCALIZATION = "localizationError"  # a pose not believed: it jumped, or left the lane (FATAL)


@dataclass(frozen=True)
class ActionParameter:
    key: str
    value: str | float | bool


@dataclass(frozen=True)
class Action:
    """A node, edge or instant action. An instant action is the same thing sent outside an order."""

    action_id: str
    action_type: str  # an :class:`ActionType`, or a vendor's own type (refused by the agent)
    blocking_type: BlockingType = BlockingType.HARD
    parameters: tuple[ActionParameter, ...] = ()
    description: str = ""

    def parameter(self, key: str, default: str | float | bool | None = None) -> str | float | bool | None:
        return next((p.value for p in self.parameters if p.key == key), default)


InstantAction = Action


@dataclass(frozen=True)
class OrderNode:
    node_id: str
    sequence_id: int
    released: bool
    x: float
    y: float
    theta: float | None = None  # heading the vehicle must have at the node (rad, ccw from east); None: any
    allowed_deviation_xy: float = 0.5
    allowed_deviation_theta: float = 0.0
    actions: tuple[Action, ...] = ()
    map_id: str = MAP_ID


@dataclass(frozen=True)
class OrderEdge:
    edge_id: str
    sequence_id: int
    released: bool
    start_node_id: str
    end_node_id: str
    max_speed: float = 0.0  # m/s, 0 = none given
    length: float = 0.0  # m, 0 = not given (the straight line between the nodes)
    rotation_allowed: bool = True
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class Header:
    """Every VDA 5050 message's header. ``header_id`` counts up per topic and sender."""

    header_id: int = 0
    timestamp: float = 0.0  # seconds since the epoch
    version: str = VDA_VERSION
    manufacturer: str = ""
    serial_number: str = ""


@dataclass(frozen=True)
class Order:
    order_id: str
    order_update_id: int
    nodes: tuple[OrderNode, ...]
    edges: tuple[OrderEdge, ...] = ()
    header: Header = field(default_factory=Header)


@dataclass(frozen=True)
class ActionState:
    action_id: str
    action_type: str
    status: ActionStatus
    result: str = ""


@dataclass(frozen=True)
class ErrorReference:
    key: str  # headerId, orderId, orderUpdateId, nodeId, edgeId, actionId, actionType, ...
    value: str


@dataclass(frozen=True)
class AgvError:
    error_type: str
    level: ErrorLevel
    description: str
    references: tuple[ErrorReference, ...] = ()


@dataclass(frozen=True)
class Information:
    info_type: str
    level: str  # INFO | DEBUG
    description: str = ""


@dataclass(frozen=True)
class Load:
    load_id: str
    load_type: str = ""
    load_position: str = ""


@dataclass(frozen=True)
class Pose:
    x: float
    y: float
    theta: float


@dataclass(frozen=True)
class VehicleState:
    vehicle_id: str  # the serial number; the fleet files a state under the topic it came on, not this
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
    link_lost: bool  # not VDA 5050: the agent's own fleet-link watch (information LINK_LOST in VDA JSON)
    battery_charge: float  # percent
    charging: bool
    loads: tuple[Load, ...] = ()
    action_states: tuple[ActionState, ...] = ()
    errors: tuple[AgvError, ...] = ()
    e_stop: EStop = EStop.NONE
    stamp: float = 0.0  # seconds since the epoch, when the vehicle sent it
    operating_mode: OperatingMode = OperatingMode.AUTOMATIC
    position_initialized: bool = True
    map_id: str = MAP_ID
    new_base_request: bool = False
    distance_since_last_node: float = 0.0
    battery_reach: float = 0.0  # m
    field_violation: bool = False
    information: tuple[Information, ...] = ()
    header: Header = field(default_factory=Header)

    @property
    def released_remaining(self) -> tuple[OrderNode, ...]:
        return tuple(n for n in self.node_states if n.released)


@dataclass(frozen=True)
class Factsheet:
    """What the fleet needs to know of a vehicle type (VDA 5050 factsheet, the parts the fleet uses)."""

    serial_number: str
    manufacturer: str
    series_name: str
    speed_max: float  # m/s
    acceleration_max: float
    deceleration_max: float
    length: float  # m
    width: float
    height_max: float
    max_load_mass: float  # kg
    actions: tuple[str, ...]  # supported action types
    header: Header = field(default_factory=Header)
