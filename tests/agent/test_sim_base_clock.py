"""The simulated base keeps pace with its clock: on a busy machine a vehicle process on a fast simulated clock
misses clock messages, and its timer then fires once for several control periods. Found in the demo: each late
tick integrated a single period, so the vehicles drove at a fraction of the time scale (about 4x at 15x)."""

from __future__ import annotations

import pytest
import rclpy
from geometry_msgs.msg import Twist
from rclpy.clock import ClockType
from rclpy.context import Context
from rclpy.parameter import Parameter
from rclpy.time import Time


@pytest.fixture
def base():
    from agv_agent.sim_base_node import SimBaseNode

    context = Context()
    rclpy.init(context=context)
    node = SimBaseNode(context=context, parameter_overrides=[Parameter("use_sim_time", value=True),
                                                             Parameter("rate_hz", value=20.0),
                                                             Parameter("max_linear_accel", value=100.0)])
    assert node.get_clock().clock_type == ClockType.ROS_TIME
    yield node
    node.destroy_node()
    rclpy.try_shutdown(context=context)


def at(node, seconds: float) -> None:
    node.get_clock()._set_ros_time_is_active(True)
    node.get_clock().set_ros_time_override(Time(nanoseconds=int(seconds * 1e9), clock_type=ClockType.ROS_TIME))


def drive(node) -> None:
    """A command of 2 m/s ahead, received now."""
    twist = Twist()
    twist.linear.x = 2.0
    node._on_cmd(twist)


def test_a_late_tick_integrates_the_whole_time_since_the_last(base):
    at(base, 1000.0)
    drive(base)
    base._tick()  # the first tick: one period
    start = base.base.x
    at(base, 1000.4)  # eight control periods later, one tick (seven clock messages were missed)
    drive(base)
    base._tick()
    assert base.base.x - start == pytest.approx(2.0 * 0.4, rel=0.01)


def test_a_clock_jump_is_not_followed_beyond_a_second(base):
    at(base, 1000.0)
    drive(base)
    base._tick()
    start = base.base.x
    at(base, 5000.0)
    drive(base)
    base._tick()
    assert base.base.x - start == pytest.approx(2.0 * 1.0, rel=0.01)
