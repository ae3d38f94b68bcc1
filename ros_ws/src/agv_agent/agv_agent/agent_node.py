"""The agv_agent ROS 2 node: a thin wrapper that feeds :class:`AgentLogic` from topics and publishes its output.

Topics, relative to the node's namespace ``/<fleet_namespace>/<vehicle_id>``: subscribes ``order``,
``instant_actions``, ``heartbeat``, ``odom``; publishes ``state``, ``connection``, ``factsheet``, ``cmd_vel``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from agv_interfaces.msg import Connection, Factsheet, Heartbeat, InstantActions
from agv_interfaces.msg import Order as OrderMsg
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.duration import Duration
from rclpy.node import Node

from agv_agent import convert, qos
from agv_agent.logic import AgentLogic, AgentParams
from agv_agent.protocol import VDA_VERSION, ConnectionState, OperatingMode, Pose
from agv_agent.tracker import Limits
from agv_agent.vehicle_process import (
    BadParameter,
    declare_read_only,
    require_name,
    require_positive,
    require_within,
    spin_nodes,
)

PARAMETERS = {  # name: default; the shared agv.yaml overrides these
    "vehicle_id": "agv_001", "fleet_namespace": "xborder", "state_rate_hz": 2.0, "control_rate_hz": 20.0,
    "fleet_link_timeout_s": 5.0, "max_linear_speed": 6.94, "max_angular_speed": 0.6, "max_linear_decel": 1.0,
    "battery_capacity_kwh": 280.0, "battery_consumption_kwh_per_km": 2.2, "charging_power_kw": 150.0,
    "initial_battery": 100.0, "initial_node_id": "", "manufacturer": "xborder", "operating_mode": "AUTOMATIC",
    "max_linear_accel": 0.5, "vehicle_length": 15.0, "vehicle_width": 3.0,
    "handling_s": 1.0,  # a pick or drop whose action carries no duration (simulated vehicles)
}


class AgentNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("agv_agent", **kwargs)
        p = declare_read_only(self, PARAMETERS)
        check_parameters(p)
        self.logic = AgentLogic(AgentParams(
            vehicle_id=p["vehicle_id"],
            limits=Limits(p["max_linear_speed"], p["max_angular_speed"], p["max_linear_decel"],
                          max_linear_accel=p["max_linear_accel"]),
            link_timeout_s=p["fleet_link_timeout_s"], battery_capacity_kwh=p["battery_capacity_kwh"],
            consumption_kwh_per_km=p["battery_consumption_kwh_per_km"], charging_power_kw=p["charging_power_kw"],
            initial_battery=p["initial_battery"], initial_node_id=p["initial_node_id"],
            manufacturer=p["manufacturer"], length=p["vehicle_length"], width=p["vehicle_width"],
            handling_s=p["handling_s"]), self.now())
        self.logic.set_operating_mode(OperatingMode(p["operating_mode"]))
        self.vehicle_id, self.manufacturer = p["vehicle_id"], p["manufacturer"]
        self.header_ids = {name: itertools.count() for name in ("state", "connection", "factsheet")}
        self.pose: Pose | None = None
        self.pose_time: float | None = None  # the odometry's stamp
        self.velocity = (0.0, 0.0)
        self.dt = 1.0 / p["control_rate_hz"]
        topic = _topic_prefix(self.get_namespace(), p["fleet_namespace"], self.vehicle_id)
        quiet_pub, quiet_sub = qos.NO_PUBLISHER_EVENTS, qos.NO_SUBSCRIPTION_EVENTS  # no walk on every wait
        self.state_pub = self.create_publisher(convert.AgvState, topic + "state", qos.STATE, event_callbacks=quiet_pub)
        self.connection_pub = self.create_publisher(Connection, topic + "connection", qos.CONNECTION,
                                                    event_callbacks=quiet_pub)
        self.factsheet_pub = self.create_publisher(Factsheet, topic + "factsheet", qos.FACTSHEET,
                                                   event_callbacks=quiet_pub)
        self.cmd_pub = self.create_publisher(Twist, topic + "cmd_vel", qos.BASE, event_callbacks=quiet_pub)
        self.create_subscription(OrderMsg, topic + "order", self._on_order, qos.ORDER, event_callbacks=quiet_sub)
        self.create_subscription(InstantActions, topic + "instant_actions", self._on_actions, qos.INSTANT_ACTIONS,
                                 event_callbacks=quiet_sub)
        self.create_subscription(Heartbeat, topic + "heartbeat", self._on_heartbeat, qos.HEARTBEAT,
                                 event_callbacks=quiet_sub)
        self.create_subscription(Odometry, topic + "odom", self._on_odom, qos.BASE, event_callbacks=quiet_sub)
        self.create_timer(self.dt, self._control)
        self.create_timer(1.0 / p["state_rate_hz"], self._publish_state)
        self._publish_connection(ConnectionState.ONLINE)
        self._publish_factsheet()
        self._publish_state()  # before the first odometry too: position_initialized false

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_order(self, msg: OrderMsg) -> None:
        self.logic.on_order(convert.order_from_msg(msg), self.now())

    def _on_actions(self, msg: InstantActions) -> None:
        self.logic.on_instant_actions(convert.actions_from_msg(msg), self.now())
        if self.logic.factsheet_requested:
            self._publish_factsheet()
        self._publish_state()  # acknowledge at once (stateRequest, the fleet's resend of unacknowledged actions)

    def _on_heartbeat(self, _msg: Heartbeat) -> None:
        self.logic.on_heartbeat(self.now())

    def _on_odom(self, msg: Odometry) -> None:
        q = msg.pose.pose.orientation
        theta = math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z))
        self.pose = Pose(msg.pose.pose.position.x, msg.pose.pose.position.y, theta)
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        self.pose_time = stamp if stamp > 0 else None  # (a base that stamps nothing: the time it is used at)
        self.velocity = (msg.twist.twist.linear.x, msg.twist.twist.angular.z)

    def _control(self) -> None:
        if self.pose is None:  # no odometry yet: stand still
            return
        linear, angular = self.logic.step(self.pose, self.now(), self.dt, self.velocity, self.pose_time)
        twist = Twist()
        twist.linear.x, twist.angular.z = linear, angular
        self.cmd_pub.publish(twist)
        if self.logic.changed:
            self._publish_state()

    def _publish_state(self) -> None:
        self.logic.changed = False
        self.state_pub.publish(convert.state_to_msg(self.logic.state(self.now()), next(self.header_ids["state"])))

    def _publish_factsheet(self) -> None:
        self.logic.factsheet_requested = False
        msg = convert.factsheet_to_msg(self.logic.factsheet(), self.now())
        msg.header_id = next(self.header_ids["factsheet"])
        self.factsheet_pub.publish(msg)

    def _publish_connection(self, state: ConnectionState) -> None:
        self.connection_pub.publish(Connection(
            stamp=convert.to_time(self.now()), header_id=next(self.header_ids["connection"]), version=VDA_VERSION,
            manufacturer=self.manufacturer, vehicle_id=self.vehicle_id, connection_state=str(state)))

    def stop(self) -> None:
        """Leave safely: zero velocity to the base, OFFLINE to the fleet (waiting briefly until it is delivered)."""
        self.cmd_pub.publish(Twist())
        self._publish_connection(ConnectionState.OFFLINE)
        self.connection_pub.wait_for_all_acked(Duration(seconds=1.0))


def check_parameters(p: dict[str, Any]) -> None:
    """Refuse what the agent cannot run with, naming the parameter (:class:`BadParameter`): before, a vehicle id
    with a hyphen or an unknown operating mode was a traceback, and a top speed of 0 or less ran and published it
    in the factsheet."""
    require_name(p, "vehicle_id", "fleet_namespace")
    require_positive(p, "state_rate_hz", "control_rate_hz", "fleet_link_timeout_s", "max_linear_speed",
                     "max_angular_speed", "max_linear_decel", "max_linear_accel", "battery_capacity_kwh",
                     "vehicle_length", "vehicle_width")
    for name in ("battery_consumption_kwh_per_km", "charging_power_kw", "handling_s"):
        require_within(p, name, 0.0)
    require_within(p, "initial_battery", 0.0, 100.0)
    if p["operating_mode"] not in set(OperatingMode):
        raise BadParameter(f"operating_mode: {p['operating_mode']!r} is none of {', '.join(OperatingMode)}")


def _topic_prefix(node_namespace: str, fleet_namespace: str, vehicle_id: str) -> str:
    """Where the vehicle's topics live: ``/<fleet_namespace>/<vehicle_id>/``, from the parameters when the node
    runs without a namespace, else relative to a namespace that must say the same (a vehicle publishing under
    one id and answering to another would be commanded by the wrong orders)."""
    expected = f"/{fleet_namespace.strip('/')}/{vehicle_id}"
    if node_namespace == "/":
        return expected + "/"
    if node_namespace != expected:
        raise BadParameter(f"node namespace {node_namespace} disagrees with fleet_namespace/vehicle_id {expected}")
    return ""


def main(args: list[str] | None = None) -> None:
    spin_nodes(args, [AgentNode])
