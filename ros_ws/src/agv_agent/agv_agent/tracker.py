"""Following straight edges from node to node on a differential-drive base: pure geometry, no ROS.

The speed command never lets the vehicle overshoot its stop node: it is capped by the speed from which
the vehicle can still brake to a standstill at that node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from agv_agent.protocol import Pose

#: Beyond this heading error the vehicle turns on the spot before driving on.
TURN_IN_PLACE_RAD = math.radians(35)


@dataclass(frozen=True)
class Limits:
    max_linear_speed: float = 6.94
    max_angular_speed: float = 0.6
    max_linear_decel: float = 1.0
    heading_gain: float = 1.5
    arrival_tolerance: float = 0.3  # m: a node counts as reached within this distance
    braking_margin: float = 0.6  # plan braking with this share of the base's deceleration (latency, jitter)
    creep_speed: float = 0.15  # m/s: the slowest approach, so a node is always reached


def wrap(angle: float) -> float:
    return math.atan2(math.sin(angle), math.cos(angle))


def distance(pose: Pose, x: float, y: float) -> float:
    return math.hypot(x - pose.x, y - pose.y)


def command_towards(pose: Pose, target: tuple[float, float], edge_speed: float, stop_distance: float,
                    limits: Limits) -> tuple[float, float]:
    """(linear, angular) command to drive at ``target`` and be able to stop ``stop_distance`` ahead.

    ``stop_distance`` is the path length to the node the vehicle must stop at (the last released one,
    or the next node when it has lost the fleet link or is told to stop there).
    """
    heading = math.atan2(target[1] - pose.y, target[0] - pose.x)
    error = wrap(heading - pose.theta)
    angular = max(-limits.max_angular_speed, min(limits.max_angular_speed, limits.heading_gain * error))
    if abs(error) > TURN_IN_PLACE_RAD:
        return 0.0, angular
    cap = limits.max_linear_speed if edge_speed <= 0 else min(edge_speed, limits.max_linear_speed)
    aim = max(0.0, stop_distance - limits.arrival_tolerance / 2)  # stop inside the tolerance, short of the node
    braking = math.sqrt(2 * limits.braking_margin * limits.max_linear_decel * aim)
    if stop_distance > limits.arrival_tolerance:
        braking = max(braking, limits.creep_speed)
    linear = max(0.0, min(cap, braking) * math.cos(error))
    return linear, angular
