"""sim_base: a simulated drive base with Gazebo DiffDrive's interface: ``cmd_vel`` in, ``odom`` out."""

from __future__ import annotations

import math

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.node import Node

from agv_agent import qos
from agv_agent.kinematics import UnicycleBase
from agv_agent.vehicle_process import declare_read_only, require_positive, spin_nodes

PARAMETERS = {"x": 0.0, "y": 0.0, "theta": 0.0, "rate_hz": 50.0, "max_linear_speed": 6.94,
              "max_angular_speed": 0.6, "max_linear_accel": 0.5, "max_linear_decel": 1.0, "max_angular_accel": 0.8,
              "cmd_timeout_s": 0.5, "frame_id": "map"}
#: the most a late tick catches up, in seconds of its clock (a clock that jumps further is not followed)
MAX_CATCH_UP_S = 1.0


class SimBaseNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("sim_base", **kwargs)
        p = declare_read_only(self, PARAMETERS)
        require_positive(p, "rate_hz", "max_linear_speed", "max_angular_speed", "max_linear_accel", "max_linear_decel",
                         "max_angular_accel", "cmd_timeout_s")
        self.base = UnicycleBase(p["x"], p["y"], p["theta"], max_linear_accel=p["max_linear_accel"],
                                 max_linear_decel=p["max_linear_decel"], max_angular_accel=p["max_angular_accel"],
                                 max_linear_speed=p["max_linear_speed"], max_angular_speed=p["max_angular_speed"])
        self.frame_id, self.cmd_timeout = p["frame_id"], p["cmd_timeout_s"]
        self.command, self.last_command, self.last_tick = (0.0, 0.0), 0.0, 0.0
        self.dt = 1.0 / p["rate_hz"]
        self.odom_pub = self.create_publisher(Odometry, "odom", qos.BASE, event_callbacks=qos.NO_PUBLISHER_EVENTS)
        self.create_subscription(Twist, "cmd_vel", self._on_cmd, qos.BASE, event_callbacks=qos.NO_SUBSCRIPTION_EVENTS)
        self.create_timer(self.dt, self._tick)

    def _on_cmd(self, msg: Twist) -> None:
        self.command, self.last_command = (msg.linear.x, msg.angular.z), self._now()

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _tick(self) -> None:
        """Integrate the time since the last tick in steps of ``dt``: a late tick (on a busy machine a process
        on a fast simulated clock misses clock messages, and its timer fires once per message received) catches
        up, so the simulated vehicle keeps pace with its clock instead of slowing down with the machine."""
        now = self._now()
        if now - self.last_command > self.cmd_timeout:
            self.command = (0.0, 0.0)  # a silent controller means stop, like a real base's watchdog
        elapsed = now - self.last_tick if self.last_tick else self.dt
        self.last_tick = now
        for _ in range(max(1, min(round(elapsed / self.dt), round(MAX_CATCH_UP_S / self.dt)))):
            pose = self.base.step(self.command, self.dt)
        odom = Odometry()
        odom.header.stamp = self.get_clock().now().to_msg()
        odom.header.frame_id = self.frame_id
        odom.pose.pose.position.x, odom.pose.pose.position.y = pose.x, pose.y
        odom.pose.pose.orientation.z, odom.pose.pose.orientation.w = math.sin(pose.theta / 2), math.cos(pose.theta / 2)
        odom.twist.twist.linear.x, odom.twist.twist.angular.z = self.base.v, self.base.w
        self.odom_pub.publish(odom)


def main(args: list[str] | None = None) -> None:
    spin_nodes(args, [SimBaseNode])
