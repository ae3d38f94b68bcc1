"""The one place that maps the plain protocol types to and from ``agv_interfaces`` messages."""

from __future__ import annotations

import json

from agv_interfaces.msg import Action as ActionMsg
from agv_interfaces.msg import ActionParameter as ActionParameterMsg
from agv_interfaces.msg import ActionState as ActionStateMsg
from agv_interfaces.msg import AgvState, NodePosition
from agv_interfaces.msg import Edge as EdgeMsg
from agv_interfaces.msg import EdgeState as EdgeStateMsg
from agv_interfaces.msg import Error as ErrorMsg
from agv_interfaces.msg import ErrorReference as ErrorReferenceMsg
from agv_interfaces.msg import Factsheet as FactsheetMsg
from agv_interfaces.msg import Information as InformationMsg
from agv_interfaces.msg import InstantActions as InstantActionsMsg
from agv_interfaces.msg import Load as LoadMsg
from agv_interfaces.msg import Node as NodeMsg
from agv_interfaces.msg import NodeState as NodeStateMsg
from agv_interfaces.msg import Order as OrderMsg
from builtin_interfaces.msg import Time

from agv_agent.protocol import (
    Action,
    ActionParameter,
    ActionState,
    ActionStatus,
    AgvError,
    BlockingType,
    ErrorLevel,
    ErrorReference,
    EStop,
    Factsheet,
    Header,
    Information,
    Load,
    OperatingMode,
    Order,
    OrderEdge,
    OrderNode,
    Pose,
    VehicleState,
)


def to_time(seconds: float) -> Time:
    whole = int(seconds)
    return Time(sec=whole, nanosec=int((seconds - whole) * 1e9))


def from_time(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def _header(msg: OrderMsg | InstantActionsMsg | AgvState | FactsheetMsg, serial: str) -> Header:
    return Header(msg.header_id, from_time(msg.stamp), msg.version, msg.manufacturer, serial)


def _action_to_msg(action: Action) -> ActionMsg:
    return ActionMsg(action_id=action.action_id, action_type=str(action.action_type),
                     blocking_type=str(action.blocking_type), action_description=action.description,
                     action_parameters=[ActionParameterMsg(key=p.key, value=json.dumps(p.value))
                                        for p in action.parameters])


def _action(msg: ActionMsg) -> Action:
    return Action(msg.action_id, msg.action_type, BlockingType(msg.blocking_type or "HARD"),
                  tuple(ActionParameter(p.key, _json_value(p.value)) for p in msg.action_parameters),
                  msg.action_description)


def _json_value(text: str) -> str | float | bool:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str | float | int | bool) else text


def _position(node: OrderNode) -> NodePosition:
    return NodePosition(x=float(node.x), y=float(node.y), theta=float(node.theta or 0.0),
                        theta_allowed_deviation_set=node.theta is not None, map_id=node.map_id,
                        allowed_deviation_xy=float(node.allowed_deviation_xy),
                        allowed_deviation_theta=float(node.allowed_deviation_theta))


def _node(msg: NodeMsg | NodeStateMsg) -> OrderNode:
    p = msg.node_position
    return OrderNode(msg.node_id, msg.sequence_id, msg.released, p.x, p.y,
                     p.theta if p.theta_allowed_deviation_set else None, p.allowed_deviation_xy,
                     p.allowed_deviation_theta, tuple(_action(a) for a in getattr(msg, "actions", ())),
                     p.map_id)


def order_to_msg(order: Order, stamp: float, header_id: int = 0, serial: str = "") -> OrderMsg:
    return OrderMsg(
        stamp=to_time(stamp), header_id=header_id, version=order.header.version,
        manufacturer=order.header.manufacturer, serial_number=serial, order_id=order.order_id,
        order_update_id=order.order_update_id,
        nodes=[NodeMsg(node_id=n.node_id, sequence_id=n.sequence_id, released=n.released,
                       node_position=_position(n), actions=[_action_to_msg(a) for a in n.actions])
               for n in order.nodes],
        edges=[EdgeMsg(edge_id=e.edge_id, sequence_id=e.sequence_id, released=e.released,
                       start_node_id=e.start_node_id, end_node_id=e.end_node_id, max_speed=float(e.max_speed),
                       length=float(e.length), rotation_allowed=e.rotation_allowed,
                       actions=[_action_to_msg(a) for a in e.actions])
               for e in order.edges])


def order_from_msg(msg: OrderMsg) -> Order:
    return Order(msg.order_id, msg.order_update_id, tuple(_node(n) for n in msg.nodes),
                 tuple(OrderEdge(e.edge_id, e.sequence_id, e.released, e.start_node_id, e.end_node_id, e.max_speed,
                                 e.length, e.rotation_allowed, tuple(_action(a) for a in e.actions))
                       for e in msg.edges),
                 _header(msg, msg.serial_number))


def actions_to_msg(actions: list[Action], stamp: float, header_id: int = 0, serial: str = "") -> InstantActionsMsg:
    return InstantActionsMsg(stamp=to_time(stamp), header_id=header_id, version=Header().version,
                             serial_number=serial, actions=[_action_to_msg(a) for a in actions])


def actions_from_msg(msg: InstantActionsMsg) -> list[Action]:
    return [_action(a) for a in msg.actions]


def state_to_msg(state: VehicleState, header_id: int = 0) -> AgvState:
    msg = AgvState(
        stamp=to_time(state.stamp), header_id=header_id, version=state.header.version,
        manufacturer=state.header.manufacturer, vehicle_id=state.vehicle_id, order_id=state.order_id,
        order_update_id=state.order_update_id, last_node_id=state.last_node_id,
        last_node_sequence_id=state.last_node_sequence_id,
        node_states=[NodeStateMsg(node_id=n.node_id, sequence_id=n.sequence_id, released=n.released,
                                  node_position=_position(n)) for n in state.node_states],
        edge_states=[EdgeStateMsg(edge_id=e.edge_id, sequence_id=e.sequence_id, released=e.released)
                     for e in state.edge_states],
        driving=state.driving, paused=state.paused, link_lost=state.link_lost,
        new_base_request=state.new_base_request, distance_since_last_node=float(state.distance_since_last_node),
        operating_mode=str(state.operating_mode),
        loads=[LoadMsg(load_id=load.load_id, load_type=load.load_type, load_position=load.load_position)
               for load in state.loads],
        action_states=[ActionStateMsg(action_id=a.action_id, action_type=a.action_type, action_status=str(a.status),
                                      result_description=a.result) for a in state.action_states],
        errors=[ErrorMsg(error_type=e.error_type, error_level=str(e.level), error_description=e.description,
                         error_references=[ErrorReferenceMsg(reference_key=r.key, reference_value=r.value)
                                           for r in e.references])
                for e in state.errors],
        information=[InformationMsg(info_type=i.info_type, info_level=i.level, info_description=i.description)
                     for i in state.information])
    position = msg.agv_position
    position.x, position.y, position.theta = state.pose.x, state.pose.y, state.pose.theta
    position.map_id, position.position_initialized = state.map_id, state.position_initialized
    msg.velocity.vx, msg.velocity.omega = state.velocity
    msg.battery_state.battery_charge, msg.battery_state.charging = state.battery_charge, state.charging
    msg.battery_state.reach = float(state.battery_reach)
    msg.safety_state.e_stop, msg.safety_state.field_violation = str(state.e_stop), state.field_violation
    return msg


def state_from_msg(msg: AgvState) -> VehicleState:
    p = msg.agv_position
    return VehicleState(
        vehicle_id=msg.vehicle_id, order_id=msg.order_id, order_update_id=msg.order_update_id,
        last_node_id=msg.last_node_id, last_node_sequence_id=msg.last_node_sequence_id,
        node_states=tuple(_node(n) for n in msg.node_states),
        edge_states=tuple(OrderEdge(e.edge_id, e.sequence_id, e.released, "", "") for e in msg.edge_states),
        pose=Pose(p.x, p.y, p.theta), velocity=(msg.velocity.vx, msg.velocity.omega), driving=msg.driving,
        paused=msg.paused, link_lost=msg.link_lost, battery_charge=msg.battery_state.battery_charge,
        charging=msg.battery_state.charging,
        loads=tuple(Load(load.load_id, load.load_type, load.load_position) for load in msg.loads),
        action_states=tuple(ActionState(a.action_id, a.action_type, ActionStatus(a.action_status),
                                        a.result_description) for a in msg.action_states),
        errors=tuple(AgvError(e.error_type, ErrorLevel(e.error_level), e.error_description,
                              tuple(ErrorReference(r.reference_key, r.reference_value) for r in e.error_references))
                     for e in msg.errors),
        e_stop=EStop(msg.safety_state.e_stop or "NONE"), stamp=from_time(msg.stamp),
        operating_mode=OperatingMode(msg.operating_mode or "AUTOMATIC"), position_initialized=p.position_initialized,
        map_id=p.map_id, new_base_request=msg.new_base_request,
        distance_since_last_node=msg.distance_since_last_node, battery_reach=msg.battery_state.reach,
        field_violation=msg.safety_state.field_violation,
        information=tuple(Information(i.info_type, i.info_level, i.info_description) for i in msg.information),
        header=_header(msg, msg.vehicle_id))


def factsheet_to_msg(factsheet: Factsheet, stamp: float) -> FactsheetMsg:
    return FactsheetMsg(stamp=to_time(stamp), version=factsheet.header.version, manufacturer=factsheet.manufacturer,
                        vehicle_id=factsheet.serial_number, series_name=factsheet.series_name,
                        speed_max=float(factsheet.speed_max), acceleration_max=float(factsheet.acceleration_max),
                        deceleration_max=float(factsheet.deceleration_max), length=float(factsheet.length),
                        width=float(factsheet.width), height_max=float(factsheet.height_max),
                        max_load_mass=float(factsheet.max_load_mass), actions=list(factsheet.actions))


def factsheet_from_msg(msg: FactsheetMsg) -> Factsheet:
    return Factsheet(msg.vehicle_id, msg.manufacturer, msg.series_name, msg.speed_max, msg.acceleration_max,
                     msg.deceleration_max, msg.length, msg.width, msg.height_max, msg.max_load_mass,
                     tuple(msg.actions), _header(msg, msg.vehicle_id))
