"""The one place that maps the plain protocol types to and from ``agv_interfaces`` messages."""

from __future__ import annotations

from agv_interfaces.msg import ActionState as ActionStateMsg
from agv_interfaces.msg import AgvState, NodePosition
from agv_interfaces.msg import Edge as EdgeMsg
from agv_interfaces.msg import EdgeState as EdgeStateMsg
from agv_interfaces.msg import Error as ErrorMsg
from agv_interfaces.msg import InstantAction as InstantActionMsg
from agv_interfaces.msg import InstantActions as InstantActionsMsg
from agv_interfaces.msg import Load as LoadMsg
from agv_interfaces.msg import Node as NodeMsg
from agv_interfaces.msg import NodeState as NodeStateMsg
from agv_interfaces.msg import Order as OrderMsg
from builtin_interfaces.msg import Time

from agv_agent.protocol import (
    ActionState,
    AgvError,
    InstantAction,
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


def _position(node: OrderNode) -> NodePosition:
    return NodePosition(x=float(node.x), y=float(node.y), theta=float(node.theta),
                        allowed_deviation_xy=float(node.allowed_deviation_xy))


def _node(msg: NodeMsg | NodeStateMsg) -> OrderNode:
    p = msg.node_position
    return OrderNode(msg.node_id, msg.sequence_id, msg.released, p.x, p.y, p.theta, p.allowed_deviation_xy,
                     tuple(getattr(msg, "actions", ())))


def order_to_msg(order: Order, stamp: float) -> OrderMsg:
    return OrderMsg(
        stamp=to_time(stamp), order_id=order.order_id, order_update_id=order.order_update_id,
        nodes=[NodeMsg(node_id=n.node_id, sequence_id=n.sequence_id, released=n.released,
                       node_position=_position(n), actions=list(n.actions)) for n in order.nodes],
        edges=[EdgeMsg(edge_id=e.edge_id, sequence_id=e.sequence_id, released=e.released,
                       start_node_id=e.start_node_id, end_node_id=e.end_node_id, max_speed=float(e.max_speed))
               for e in order.edges])


def order_from_msg(msg: OrderMsg) -> Order:
    return Order(msg.order_id, msg.order_update_id, tuple(_node(n) for n in msg.nodes),
                 tuple(OrderEdge(e.edge_id, e.sequence_id, e.released, e.start_node_id, e.end_node_id, e.max_speed)
                       for e in msg.edges))


def actions_to_msg(actions: list[InstantAction], stamp: float) -> InstantActionsMsg:
    return InstantActionsMsg(stamp=to_time(stamp), actions=[
        InstantActionMsg(action_id=a.action_id, action_type=str(a.action_type)) for a in actions])


def actions_from_msg(msg: InstantActionsMsg) -> list[InstantAction]:
    return [InstantAction(a.action_id, a.action_type) for a in msg.actions]


def state_to_msg(state: VehicleState) -> AgvState:
    msg = AgvState(
        stamp=to_time(state.stamp), vehicle_id=state.vehicle_id, order_id=state.order_id,
        order_update_id=state.order_update_id, last_node_id=state.last_node_id,
        last_node_sequence_id=state.last_node_sequence_id,
        node_states=[NodeStateMsg(node_id=n.node_id, sequence_id=n.sequence_id, released=n.released,
                                  node_position=_position(n)) for n in state.node_states],
        edge_states=[EdgeStateMsg(edge_id=e.edge_id, sequence_id=e.sequence_id, released=e.released)
                     for e in state.edge_states],
        driving=state.driving, paused=state.paused, link_lost=state.link_lost,
        loads=[LoadMsg(load_id=load) for load in state.loads],
        action_states=[ActionStateMsg(action_id=a.action_id, action_type=a.action_type, action_status=a.status,
                                      result_description=a.result) for a in state.action_states],
        errors=[ErrorMsg(error_type=e.error_type, error_level=e.level, error_description=e.description)
                for e in state.errors])
    msg.agv_position.x, msg.agv_position.y, msg.agv_position.theta = state.pose.x, state.pose.y, state.pose.theta
    msg.agv_position.position_initialized = True
    msg.velocity.vx, msg.velocity.omega = state.velocity
    msg.battery_state.battery_charge, msg.battery_state.charging = state.battery_charge, state.charging
    msg.safety_state.e_stop = state.e_stop
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
        charging=msg.battery_state.charging, loads=tuple(load.load_id for load in msg.loads),
        action_states=tuple(ActionState(a.action_id, a.action_type, a.action_status, a.result_description)
                            for a in msg.action_states),
        errors=tuple(AgvError(e.error_type, e.error_level, e.error_description) for e in msg.errors),
        e_stop=msg.safety_state.e_stop, stamp=from_time(msg.stamp))
