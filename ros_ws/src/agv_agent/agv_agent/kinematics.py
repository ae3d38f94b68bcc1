"""A unicycle drive base with acceleration limits: what sim_base integrates, as plain Python."""

from __future__ import annotations

import math
from dataclasses import dataclass

from agv_agent.protocol import Pose


@dataclass
class UnicycleBase:
    x: float = 0.0
    y: float = 0.0
    theta: float = 0.0
    v: float = 0.0
    w: float = 0.0
    max_linear_accel: float = 0.5
    max_linear_decel: float = 1.0
    max_angular_accel: float = 0.8
    max_linear_speed: float = 6.94
    max_angular_speed: float = 0.6

    def step(self, command: tuple[float, float], dt: float) -> Pose:
        """Move towards the commanded (linear, angular) velocity within the limits, then integrate ``dt``."""
        target_v = max(-self.max_linear_speed, min(self.max_linear_speed, command[0]))
        target_w = max(-self.max_angular_speed, min(self.max_angular_speed, command[1]))
        slowing = abs(target_v) < abs(self.v)
        dv = (self.max_linear_decel if slowing else self.max_linear_accel) * dt
        self.v += max(-dv, min(dv, target_v - self.v))
        dw = self.max_angular_accel * dt
        self.w += max(-dw, min(dw, target_w - self.w))
        self.theta = math.atan2(math.sin(self.theta + self.w * dt), math.cos(self.theta + self.w * dt))
        self.x += self.v * math.cos(self.theta) * dt
        self.y += self.v * math.sin(self.theta) * dt
        return self.pose

    @property
    def pose(self) -> Pose:
        return Pose(self.x, self.y, self.theta)
