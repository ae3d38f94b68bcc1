"""Following straight edges from node to node on a differential-drive base: pure geometry, no ROS.

The speed command never lets the vehicle overshoot its stop node: it is capped by the speed from which
the vehicle can still brake to a standstill at that node.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    max_linear_accel: float = 0.5


def wrap(angle: float) -> float:
    return math.atan2(math.sin(angle), math.cos(angle))


def distance(pose: Pose, x: float, y: float) -> float:
    return math.hypot(x - pose.x, y - pose.y)


def passed_within(before: Pose | None, pose: Pose, x: float, y: float, radius: float) -> bool:
    """Whether the straight way from ``before`` to ``pose`` (a control step's; just ``pose`` when there is no
    ``before``) comes within ``radius`` of (``x``, ``y``)."""
    if before is None:
        return distance(pose, x, y) <= radius
    dx, dy = pose.x - before.x, pose.y - before.y
    step = dx * dx + dy * dy
    along = 0.0 if step == 0.0 else max(0.0, min(1.0, ((x - before.x) * dx + (y - before.y) * dy) / step))
    return math.hypot(before.x + along * dx - x, before.y + along * dy - y) <= radius


def corner_speed(before: tuple[float, float], node: tuple[float, float], after: tuple[float, float],
                 allowed_deviation: float, limits: Limits) -> float:
    """The fastest the vehicle may pass ``node`` on its way from ``before`` to ``after`` and stay within
    ``allowed_deviation`` of the path: 0 where it turns on the spot; else the speed at which a turn at the
    angular limit (radius v/w), begun at the node, swings out by no more than that, r(1 - cos a), with half
    of it kept for the time the base needs to reach its turn rate."""
    a = math.atan2(node[1] - before[1], node[0] - before[0])
    b = math.atan2(after[1] - node[1], after[0] - node[0])
    turn = abs(wrap(b - a))
    if turn > TURN_IN_PLACE_RAD:
        return 0.0
    if turn < 1e-3:
        return limits.max_linear_speed
    return min(limits.max_linear_speed,
               0.5 * limits.max_angular_speed * max(allowed_deviation, 0.1) / (1 - math.cos(turn)))


def command_towards(pose: Pose, target: tuple[float, float], edge_speed: float, stop_distance: float,
                    limits: Limits, corners: Sequence[tuple[float, float]] = ()) -> tuple[float, float]:
    """(linear, angular) command to drive at ``target`` and be able to stop ``stop_distance`` ahead.

    ``stop_distance`` is the path length to the node the vehicle must stop at (the last released one,
    or the next node when it has lost the fleet link or is told to stop there). ``corners`` are
    (path length, speed) pairs: nodes on the way the vehicle may pass no faster than that speed.
    """
    heading = math.atan2(target[1] - pose.y, target[0] - pose.x)
    error = wrap(heading - pose.theta)
    angular = max(-limits.max_angular_speed, min(limits.max_angular_speed, limits.heading_gain * error))
    if abs(error) > TURN_IN_PLACE_RAD:
        return 0.0, angular
    cap = limits.max_linear_speed if edge_speed <= 0 else min(edge_speed, limits.max_linear_speed)
    aim = max(0.0, stop_distance - limits.arrival_tolerance / 2)  # stop inside the tolerance, short of the node
    braking = math.sqrt(2 * limits.braking_margin * limits.max_linear_decel * aim)
    for at, speed in corners:
        braking = min(braking, math.sqrt(speed ** 2 + 2 * limits.braking_margin * limits.max_linear_decel
                                         * max(0.0, at - limits.arrival_tolerance / 2)))
    if stop_distance > limits.arrival_tolerance:
        braking = max(braking, limits.creep_speed)
    linear = max(0.0, min(cap, braking) * math.cos(error))
    return linear, angular
