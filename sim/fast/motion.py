"""Where a vehicle is, exactly, without stepping it: the agent's controller and the base's limits solved in
closed form, as pieces of constant acceleration.

The agent (``agv_agent.tracker.command_towards``) drives at the released nodes one after the other: towards the
next node at the lane's speed limit, capped by the speed from which it can still brake to a standstill at its
last released node (``v = sqrt(2 * braking_margin * decel * (distance - tolerance / 2))``), and turns on the
spot first when the next node lies more than 35 degrees off its heading. The base (``UnicycleBase``) reaches a
higher commanded speed at ``max_linear_accel`` and a lower one at ``max_linear_decel``. So between events the
speed is piecewise linear in time: accelerate to the cap, cruise, ride down the braking curve (a constant
deceleration of ``braking_margin * decel``), or brake to a lower cap. A node is reached ``arrival_tolerance``
before it, as the agent counts it. At a corner of more than 35 degrees the agent stops commanding speed the
moment it reaches the node: the base brakes at ``max_linear_decel`` (running on past the node by ``v^2 / 2d``)
while it turns, and sets off again from rest towards the next node.

Before a turn the agent slows to the turn's corner speed (``corner_speed``); each corner is a braking curve
like the stop's, only shifted, so the vehicle rides the nearest of them. A timed blocking action (pick, drop)
holds it at its node: the simulator stops the motion there and steps the agent when the action ends.

What is not modelled, and what it costs (tests/sim/test_fast_motion.py measures it against the 20 Hz stepped
model): the slight speed loss while the heading settles after a turn, and the discrete controller's lag.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field

from agv_agent.tracker import TURN_IN_PLACE_RAD, Limits

__all__ = ["Piece", "Target", "Trajectory", "plan_motion", "turn_time"]

EPS = 1e-9


@dataclass(frozen=True)
class Target:
    """A released node ahead: where it is, the speed limit of the lane that ends at it (m/s, 0 = none) and the
    fastest the vehicle may pass it (``agv_agent.tracker.corner_speed``: slower before a turn; None: no limit)."""

    node_id: str
    x: float
    y: float
    cap: float
    corner: float | None = None


@dataclass(frozen=True)
class Piece:
    """Constant acceleration ``a`` from ``t0`` for ``duration`` s, along a straight line from (x0, y0) in
    direction (ux, uy), at speed ``v0`` at its start (0, 0) while it turns on the spot."""

    t0: float
    duration: float
    x0: float
    y0: float
    ux: float
    uy: float
    v0: float
    a: float

    @property
    def t1(self) -> float:
        return self.t0 + self.duration

    def distance(self, t: float) -> float:
        tau = min(max(t - self.t0, 0.0), self.duration)
        return self.v0 * tau + 0.5 * self.a * tau * tau

    def speed(self, t: float) -> float:
        tau = min(max(t - self.t0, 0.0), self.duration)
        return max(0.0, self.v0 + self.a * tau)

    def at(self, t: float) -> tuple[float, float]:
        d = self.distance(t)
        return self.x0 + self.ux * d, self.y0 + self.uy * d


@dataclass(frozen=True)
class Trajectory:
    """A vehicle's motion from ``start`` on: pieces in time order, the time each target is reached
    (``arrivals[i]`` for ``targets[i]``, only those it reaches before it stops), and when it stands still."""

    start: float
    pieces: tuple[Piece, ...]
    arrivals: tuple[float, ...]
    stops_at: float
    heading: float  # the heading it ends with
    #: the pieces' ends (``t1 + EPS``), each the latest of those up to it: the first piece with ``t <= t1 + EPS``
    #: is the first with ``t <= ends[i]``, found by bisection (a scan over the pieces was 1 % of a day)
    _ends: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ends", tuple(itertools.accumulate((p.t1 + EPS for p in self.pieces), max)))

    def _piece(self, t: float) -> Piece | None:
        """The first piece that has not ended before ``t`` (the last one after they all have)."""
        if not self.pieces:
            return None
        return self.pieces[min(bisect_left(self._ends, t), len(self.pieces) - 1)]

    def pieces_from(self, t: float) -> tuple[Piece, ...]:
        """The pieces from the first that has not ended before ``t`` on (those ending before ``t`` left off)."""
        return self.pieces[bisect_left(self._ends, t):]

    def position(self, t: float, x: float, y: float) -> tuple[float, float]:
        """Where it is at ``t`` (``(x, y)``: where it started, for a trajectory that never moves)."""
        piece = self._piece(t)
        return (x, y) if piece is None else piece.at(t)

    def pose(self, t: float, x: float, y: float, heading: float) -> tuple[float, float, float, float]:
        """Where it is at ``t`` (as :meth:`position`), its heading (``heading``: the one it started with) and
        its speed: (x, y, heading, speed), from the one piece it drives at ``t``."""
        piece = self._piece(t)
        if piece is None:
            return x, y, heading, 0.0
        px, py = piece.at(t)
        speed = 0.0 if t > self.stops_at else piece.speed(t)
        if piece.ux == 0 and piece.uy == 0:
            return px, py, heading if t < piece.t0 else self._heading_before(piece, heading), speed
        return px, py, math.atan2(piece.uy, piece.ux), speed

    def _heading_before(self, piece: Piece, heading: float) -> float:
        moving = [p for p in self.pieces if p.t0 <= piece.t0 and (p.ux or p.uy)]
        return math.atan2(moving[-1].uy, moving[-1].ux) if moving else heading


def turn_time(angle: float, limits: Limits, angular_accel: float) -> float:
    """Seconds turning on the spot before the heading error is within 35 degrees and the vehicle drives."""
    turn = abs(angle) - TURN_IN_PLACE_RAD
    if turn <= 0:
        return 0.0
    ramp_t = limits.max_angular_speed / angular_accel
    ramp_angle = 0.5 * limits.max_angular_speed * ramp_t
    if turn <= ramp_angle:
        return math.sqrt(2 * turn / angular_accel)
    return ramp_t + (turn - ramp_angle) / limits.max_angular_speed


def _wrap(angle: float) -> float:
    return math.atan2(math.sin(angle), math.cos(angle))


def plan_motion(now: float, x: float, y: float, heading: float, v0: float, targets: Sequence[Target],
                stop_index: int, limits: Limits, accel: float, decel: float, angular_accel: float) -> Trajectory:
    """The motion from (x, y) at speed ``v0`` along ``heading`` through ``targets[:stop_index + 1]``, stopping at
    ``targets[stop_index]`` (``stop_index`` -1: stop where it is). ``accel``/``decel``: the base's linear limits."""
    pieces: list[Piece] = []
    arrivals: list[float] = []
    t, px, py, v = now, x, y, v0
    tol = limits.arrival_tolerance
    brake_k = 2 * limits.braking_margin * limits.max_linear_decel  # the braking curve: v^2 = k * (distance - tol/2)
    top = limits.max_linear_speed
    if stop_index < 0 or not targets:
        return _halt(now, x, y, heading, v0, decel, pieces, arrivals)
    chosen = targets[:stop_index + 1]
    # remaining path length after each target (to the stop target)
    tails = [0.0] * len(chosen)
    for i in range(len(chosen) - 2, -1, -1):
        a, b = chosen[i], chosen[i + 1]
        tails[i] = tails[i + 1] + math.hypot(b.x - a.x, b.y - a.y)
    for i, target in enumerate(chosen):
        dx, dy = target.x - px, target.y - py
        length = math.hypot(dx, dy)
        if length <= tol:  # already within reach of it
            arrivals.append(t)
            continue
        direction = math.atan2(dy, dx)
        error = abs(_wrap(direction - heading))
        if error > TURN_IN_PLACE_RAD:
            if v > 0.01:  # a corner at speed: the base brakes along its heading while it turns, and drives
                # on (from whatever speed it has left) once the heading is within 35 degrees
                ux, uy = math.cos(heading), math.sin(heading)
                spin = turn_time(error, limits, angular_accel)
                braking = min(spin, v / decel)
                pieces.append(Piece(t, braking, px, py, ux, uy, v, -decel))
                px, py = pieces[-1].at(t + braking)
                t += spin
                v = max(0.0, v - decel * braking)
                dx, dy = target.x - px, target.y - py
                length = math.hypot(dx, dy)
                direction = math.atan2(dy, dx)
            else:
                spin = turn_time(error, limits, angular_accel)
                if spin > 0:
                    pieces.append(Piece(t, spin, px, py, 0.0, 0.0, 0.0, 0.0))
                    t += spin
                v = 0.0
        heading = direction
        ux, uy = dx / length if length else 0.0, dy / length if length else 0.0
        cap = min(target.cap, top) if target.cap > 0 else top
        # distance along this leg (x from 0 to length - tol); the braking curve in terms of x
        end = length - tol + 1e-4
        stop_left = tails[i] + length - tol / 2  # at x = 0: path distance to where the braking curve ends
        # a corner ahead caps the speed as v^2 = corner^2 + k * (distance to it - tol/2): the same curve as a
        # stop that lies corner^2 / k beyond it, so the nearest such point is the one the vehicle brakes for
        for j in range(i, len(chosen) - 1):
            corner = chosen[j].corner
            if corner is not None:
                stop_left = min(stop_left, length + tails[i] - tails[j] - tol / 2 + corner * corner / brake_k)

        def brake_speed(xx: float, left: float = stop_left) -> float:
            return math.sqrt(max(0.0, brake_k * (left - xx)))

        xx = 0.0
        for _ in range(64):  # a handful of pieces a leg; the bound only guards against a numerical stall
            if xx >= end - EPS:
                break
            curve = brake_speed(xx)
            goal = min(cap, curve)
            if v < goal - 1e-6:  # accelerate until the cap, the braking curve or the node
                a_now = accel
                to_cap = (cap * cap - v * v) / (2 * accel)
                to_curve = (brake_k * stop_left - v * v + 2 * accel * xx) / (2 * accel + brake_k) - xx
                step = min(end - xx, max(0.0, min(to_cap, to_curve)))
            elif v > goal + 1e-6:  # brake at the base's limit down to the cap or onto the braking curve
                a_now = -decel
                if cap <= curve:
                    meet = (v * v - cap * cap) / (2 * decel)
                elif 2 * decel > brake_k:
                    meet = (v * v + 2 * decel * xx - brake_k * stop_left) / (2 * decel - brake_k) - xx
                else:
                    meet = end - xx
                step = min(end - xx, max(0.0, meet), v * v / (2 * decel))
            elif curve > cap + 1e-9:  # cruise at the cap until the braking curve comes down to it
                a_now, v = 0.0, cap
                step = min(end - xx, max(0.0, stop_left - cap * cap / brake_k - xx))
            else:  # ride the braking curve down to the node: a constant deceleration of k / 2
                a_now, v = -brake_k / 2, curve
                step = end - xx
            if step <= 1e-12:
                v = goal  # on the boundary between two cases: take the next one
                continue
            v_end = math.sqrt(max(0.0, v * v + 2 * a_now * step))
            duration = (v_end - v) / a_now if abs(a_now) > EPS else step / max(v, EPS)
            pieces.append(Piece(t, duration, px + ux * xx, py + uy * xx, ux, uy, v, a_now))
            t += duration
            xx += step
            v = v_end
            if v <= 1e-6 and xx < end - 1e-6:
                break  # stopped short of the node (a stop closer than the braking distance)
        px, py = px + ux * xx, py + uy * xx
        if xx < end - 1e-6:
            return _halt(t, px, py, heading, v, decel, pieces, arrivals)
        arrivals.append(t)
    return _halt(t, px, py, heading, v, decel, pieces, arrivals)


def _halt(t: float, x: float, y: float, heading: float, v: float, decel: float, pieces: list[Piece],
          arrivals: list[float]) -> Trajectory:
    """Nothing more to drive to: the base brakes to a standstill."""
    if v > EPS:
        pieces.append(Piece(t, v / decel, x, y, math.cos(heading), math.sin(heading), v, -decel))
        t += v / decel
    start = pieces[0].t0 if pieces else t
    return Trajectory(start, tuple(pieces), tuple(arrivals), t, heading)
