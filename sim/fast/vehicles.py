"""Vehicles for the fast simulator: each one the ``agv_agent``'s own :class:`AgentLogic` (its order, release,
refusal, link-loss and charging rules), moved by the exact motion of :mod:`sim.fast.motion` instead of being
stepped at the control rate. The agent is stepped only at the moments something happens to it: it reaches a
node, it has driven clear of the node behind it, it comes to a standstill, it notices the fleet link is gone,
or (charging) once a minute. Between those moments nothing about it changes that the fleet could see.

:class:`EventLink` is a :class:`fleet.vehicles.VehicleLink` like the ROS bridge, with no DDS: the dispatcher's
orders and instant actions reach the agent at once, and the agent's state is what the fleet reads.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from agv_agent.logic import AgentLogic, AgentParams
from agv_agent.protocol import Action, AgvError, ErrorLevel, Factsheet, Order, OrderNode, Pose, VehicleState
from agv_agent.tracker import Limits, corner_speed

from fleet.vehicles.link import VehicleSnapshot
from sim.fast.motion import Target, Trajectory, plan_motion

__all__ = ["BaseLimits", "EventLink"]

CHARGING_REFRESH_S = 60.0


@dataclass(frozen=True)
class BaseLimits:
    """The drive base's limits (``UnicycleBase``'s defaults)."""

    accel: float = 0.5
    decel: float = 1.0
    angular_accel: float = 0.8


@dataclass
class _Vehicle:
    id: str
    logic: AgentLogic
    x: float
    y: float
    heading: float
    trajectory: Trajectory
    since: float  # when the trajectory was computed (its start pose is x, y, heading)
    events: list[tuple[float, int, str]] = field(default_factory=list)  # (time, kind, node) to come, in order
    online: bool = True
    broken: bool = False
    stepped_at: float = 0.0
    state: VehicleState | None = None
    stamp: float = 0.0
    odometer_m: float = 0.0
    charging_s: float = 0.0
    version: int = 0
    last_xy: tuple[float, float] = (0.0, 0.0)  # where the node it last reached is
    ahead: list[OrderNode] = field(default_factory=list)  # the agent's nodes to go, as last seen
    factsheet: Factsheet | None = None  # what the agent publishes (its parameters do not change in a run)
    seen: VehicleSnapshot | None = None  # what the fleet reads while it is online, until its next state
    course: _Course | None = None  # what its trajectory was solved for


@dataclass(frozen=True)
class _Course:
    """What a vehicle's motion is solved for: where it stops, and the released nodes it drives through to there
    (each with its speed cap and corner tolerance). Nodes it has reached since drop off the front."""

    halted: bool  # stop where it stands (paused, e-stopped, broken down, handling a load, nothing released)
    targets: tuple[tuple[str, float, float, float, float], ...]

    def goes_on_as(self, earlier: _Course | None) -> bool:
        """The motion solved for ``earlier`` still drives this course: the same stop, and these targets are
        the ones of ``earlier`` the vehicle has not reached yet."""
        if earlier is None or self.halted != earlier.halted or len(self.targets) > len(earlier.targets):
            return False
        return earlier.targets[len(earlier.targets) - len(self.targets):] == self.targets


ARRIVE, CLEAR, STOP, DEPART = range(4)
DEPART_RADIUS_M = 1.0  # the dispatcher's point of no return at the last node before the crossing


class EventLink:
    """Implements :class:`fleet.vehicles.VehicleLink` for vehicles whose motion is solved, not stepped.

    ``clock()`` is the simulated wall clock the caller owns; :meth:`next_event` says when the next vehicle
    event is due and :meth:`advance_to` processes every event up to a time. ``clear_m``: how far a vehicle
    must be from a node before the fleet counts it as having left it (the corridor's vehicle length plus the
    standstill gap), so that moment is an event too. ``on_arrival(vehicle_id, node_id, t)`` is called as each
    vehicle reaches a node (the simulator's observers: the safety check, the time-distance diagram).
    """

    name = "simulated (fast mode)"

    def __init__(self, clock: Callable[[], float], *, clear_m: float, limits: Limits | None = None,
                 base: BaseLimits | None = None, link_timeout_s: float = 5.0,
                 battery: tuple[float, float, float] = (280.0, 2.2, 150.0), handling_s: float | None = None) -> None:
        self.clock = clock
        self.handling_s = handling_s  # how long a vehicle's own pick or drop takes (None: the agent's default)
        self.clear_m = clear_m + 0.5
        self.limits = limits or Limits()
        self.base = base or BaseLimits()
        self.link_timeout_s = link_timeout_s
        self.battery = battery  # capacity kWh, consumption kWh/km, charging kW
        self._vehicles: dict[str, _Vehicle] = {}
        self._queue: list[tuple[float, int, str, int]] = []  # (time, tie, vehicle, version)
        self._tie = 0
        self.on_arrival: Callable[[str, str, float], None] | None = None
        #: nodes whose departures are watched: ``on_departure(vehicle_id, node_id, t)`` once a vehicle is
        #: ``DEPART_RADIUS_M`` past one on its way on (the last nodes before the crossing, for the safety check)
        self.watched: dict[tuple[float, float], str] = {}
        self.on_departure: Callable[[str, str, float], None] | None = None
        self.changed = False  # some vehicle's state changed since the caller last reset this
        self._touched: set[str] = set()  # vehicles whose snapshot may have changed (changed_vehicles)
        self._offline: set[str] = set()  # an offline vehicle's snapshot is new at every read (its age)
        self.sent_orders = 0
        self.refusals = 0
        self.events_handled = 0

    # --- the simulator's side ------------------------------------------------------------------------------

    def spawn(self, vehicle_id: str, x: float, y: float, theta: float, node_id: str, battery: float = 100.0) -> None:
        capacity, consumption, power = self.battery
        params = AgentParams(vehicle_id, limits=self.limits, link_timeout_s=self.link_timeout_s,
                             battery_capacity_kwh=capacity, consumption_kwh_per_km=consumption,
                             charging_power_kw=power, initial_battery=battery, initial_node_id=node_id)
        if self.handling_s is not None:
            params = replace(params, handling_s=self.handling_s)
        now = self.clock()
        logic = AgentLogic(params, now)
        logic.step(Pose(x, y, theta), now, 0.0, measured=(0.0, 0.0))
        vehicle = _Vehicle(vehicle_id, logic, x, y, theta, _still(now, theta), now, stepped_at=now, last_xy=(x, y))
        self._vehicles[vehicle_id] = vehicle
        self._publish(vehicle, now)

    def next_event(self) -> float | None:
        while self._queue:
            t, _, vid, version = self._queue[0]
            if self._vehicles[vid].version == version:
                return t
            heapq.heappop(self._queue)
        return None

    def advance_to(self, t: float) -> None:
        """Process every vehicle event due at or before ``t`` (the caller's clock reads ``t`` now or later)."""
        while self._queue and self._queue[0][0] <= t + 1e-9:
            when, _, vid, version = heapq.heappop(self._queue)
            vehicle = self._vehicles[vid]
            if vehicle.version != version:
                continue
            self._handle(vehicle, when)

    def set_online(self, vehicle_id: str, online: bool) -> None:
        """The vehicle drops off the fleet link (it stops hearing and being heard) or comes back."""
        with self._changing(vehicle_id) as (vehicle, now):
            vehicle.online = online
            if online:
                self._offline.discard(vehicle_id)
                vehicle.logic.on_heartbeat(now)
            else:
                self._offline.add(vehicle_id)

    def break_down(self, vehicle_id: str, description: str) -> None:
        """A fault on board: the vehicle brakes to a standstill and reports a FATAL error until repaired."""
        with self._changing(vehicle_id) as (vehicle, _):
            vehicle.broken = True
            vehicle.logic.errors = [AgvError("vehicleFault", ErrorLevel.FATAL, description)]
            vehicle.logic.changed = True

    def repair(self, vehicle_id: str) -> None:
        with self._changing(vehicle_id) as (vehicle, _):
            vehicle.broken = False
            vehicle.logic.errors = [e for e in vehicle.logic.errors if e.level != "FATAL"]

    @contextmanager
    def _changing(self, vehicle_id: str) -> Iterator[tuple[_Vehicle, float]]:
        """Bring the vehicle to now, let the caller change it, then publish its state and solve its motion."""
        vehicle = self._vehicles[vehicle_id]
        now = self.clock()
        self._step(vehicle, now)
        yield vehicle, now
        vehicle.ahead = list(vehicle.logic.nodes)  # an order or a cancel replaced them
        self._publish(vehicle, now)
        course = self._course(vehicle)
        if course.goes_on_as(vehicle.course):
            # an order update that leaves its way as it was (most of a full plan's updates): the vehicle drives
            # on as it did; solving its motion again from mid-way was a third of the simulated vehicles' cost
            self._schedule(vehicle)
        else:
            self._replan(vehicle, now, course)

    def odometer_m(self, vehicle_id: str) -> float:
        return self._vehicles[vehicle_id].odometer_m

    def charging_s(self, vehicle_id: str) -> float:
        return self._vehicles[vehicle_id].charging_s

    def position(self, vehicle_id: str) -> tuple[float, float]:
        vehicle = self._vehicles[vehicle_id]
        return vehicle.trajectory.position(self.clock(), vehicle.x, vehicle.y)

    @property
    def vehicle_ids(self) -> list[str]:
        return list(self._vehicles)

    # --- VehicleLink ---------------------------------------------------------------------------------------

    def add_vehicle(self, vehicle_id: str) -> None:
        """Vehicles exist once spawned; the fleet adding one it knows of changes nothing."""

    def send_order(self, vehicle_id: str, order: Order) -> None:
        self.sent_orders += 1
        if self._hears(vehicle_id):
            with self._changing(vehicle_id) as (vehicle, now):
                vehicle.logic.on_order(order, now)
                if vehicle.logic.errors and vehicle.logic.errors[0].level == "WARNING":
                    self.refusals += 1
                if vehicle.broken:  # an order does not mend a fault
                    vehicle.logic.errors = [AgvError("vehicleFault", ErrorLevel.FATAL, "broken down")]

    def send_actions(self, vehicle_id: str, actions: list[Action]) -> None:
        if self._hears(vehicle_id):
            with self._changing(vehicle_id) as (vehicle, now):
                vehicle.logic.on_instant_actions(actions, now)

    def heartbeat(self) -> None:
        """The dispatch loop says it is alive. Here the simulator itself ticks the loop for as long as the run
        goes on, so an online vehicle hears the fleet at each of its events (:meth:`_step`)."""

    def factsheet(self, vehicle_id: str) -> Factsheet | None:
        vehicle = self._vehicles.get(vehicle_id)
        if vehicle is None:
            return None
        if vehicle.factsheet is None:
            vehicle.factsheet = vehicle.logic.factsheet()
        return vehicle.factsheet

    def trouble(self) -> str | None:
        return None  # nothing runs on its own: the simulator's thread does all the work

    def _hears(self, vehicle_id: str) -> bool:
        vehicle = self._vehicles.get(vehicle_id)
        return vehicle is not None and vehicle.online

    def state(self, vehicle_id: str) -> VehicleState | None:
        vehicle = self._vehicles.get(vehicle_id)
        return vehicle.state if vehicle else None

    def state_age(self, vehicle_id: str) -> float | None:
        return self.snapshot(vehicle_id).age_s

    def connection(self, vehicle_id: str) -> str | None:
        vehicle = self._vehicles.get(vehicle_id)
        return None if vehicle is None else "ONLINE" if vehicle.online else "CONNECTIONBROKEN"

    def changed_vehicles(self) -> set[str]:
        """Only ``_publish`` changes what :meth:`snapshot` returns of an online vehicle (its state, or that it
        is online): the vehicles published since the last call, and every offline one."""
        touched, self._touched = self._touched, set()
        return touched | self._offline

    def snapshot(self, vehicle_id: str) -> VehicleSnapshot:
        vehicle = self._vehicles.get(vehicle_id)
        if vehicle is None:
            return VehicleSnapshot(None, None, None)
        # an online vehicle publishes its state all the time; between its events that state does not change
        # in anything the fleet acts on, so the one published at the last event is as good as a fresh one (and
        # so is the snapshot of it: the fleet reads every vehicle's at every tick)
        if vehicle.online:
            if vehicle.seen is None or vehicle.seen.state is not vehicle.state:
                vehicle.seen = VehicleSnapshot(vehicle.state, None if vehicle.state is None else 0.0, "ONLINE")
            return vehicle.seen
        return VehicleSnapshot(vehicle.state, None if vehicle.state is None else self.clock() - vehicle.stamp,
                               "CONNECTIONBROKEN")

    # --- inside ----------------------------------------------------------------------------------------------

    def _pose(self, vehicle: _Vehicle, t: float) -> tuple[Pose, float]:
        x, y, heading, speed = vehicle.trajectory.pose(t, vehicle.x, vehicle.y, vehicle.heading)
        return Pose(x, y, heading), speed

    def _step(self, vehicle: _Vehicle, t: float) -> None:
        """Bring the agent to ``t``: the pose from the trajectory, the heartbeat the fleet link sends."""
        pose, speed = self._pose(vehicle, t)
        logic = vehicle.logic
        before = logic.pose
        if vehicle.online:
            logic.on_heartbeat(t)
        logic.step(pose, t, max(0.0, t - vehicle.stepped_at), measured=(speed, 0.0))
        if before is not None:
            vehicle.odometer_m += math.hypot(pose.x - before.x, pose.y - before.y)
        if logic.charging:
            vehicle.charging_s += max(0.0, t - vehicle.stepped_at)
        vehicle.stepped_at = t
        popped = len(vehicle.ahead) - len(logic.nodes)  # stepping only ever pops nodes (at most steps none)
        if popped:
            reached, vehicle.ahead = vehicle.ahead[:popped], list(logic.nodes)
            for node in reached:
                vehicle.last_xy = (node.x, node.y)
                if self.on_arrival is not None:
                    self.on_arrival(vehicle.id, node.node_id, t)

    def _handle(self, vehicle: _Vehicle, t: float) -> None:
        self.events_handled += 1
        was_lost, was_blocked = vehicle.logic.link_lost, vehicle.logic.blocked()
        self._step(vehicle, t)
        while vehicle.events and vehicle.events[0][0] <= t + 1e-9:
            _, kind, node = vehicle.events.pop(0)
            if kind == DEPART and self.on_departure is not None:
                self.on_departure(vehicle.id, node, t)
        self._publish(vehicle, t)
        if vehicle.logic.link_lost != was_lost or vehicle.logic.blocked() != was_blocked:
            self._replan(vehicle, t)  # the link is gone: it stops at the next node; or a pick/drop began or ended
        else:
            self._schedule(vehicle)

    def _publish(self, vehicle: _Vehicle, t: float) -> None:
        self._touched.add(vehicle.id)  # its state, or whether it is online (set_online publishes too)
        if vehicle.online:
            vehicle.state, vehicle.stamp = vehicle.logic.state(t), t
            self.changed = True

    def _replan(self, vehicle: _Vehicle, t: float, course: _Course | None = None) -> None:
        """The agent's targets changed (an order, a release, a pause, a lost link, a fault): solve its motion
        again from where it is, at the speed it has, for ``course`` (the agent's now, if not given)."""
        pose, speed = self._pose(vehicle, t)
        vehicle.x, vehicle.y, vehicle.heading, vehicle.since = pose.x, pose.y, pose.theta, t
        vehicle.course = course = course or self._course(vehicle)
        stop = -1 if course.halted else len(course.targets) - 1
        targets = []
        previous = (pose.x, pose.y)
        for k, (node_id, x, y, cap, deviation) in enumerate(course.targets):
            after = course.targets[k + 1] if k < stop else None
            corner = None if after is None else corner_speed(previous, (x, y), (after[1], after[2]), deviation,
                                                             self.limits)
            targets.append(Target(node_id, x, y, cap, corner))
            previous = (x, y)
        vehicle.trajectory = plan_motion(t, pose.x, pose.y, pose.theta, speed, targets, stop, self.limits,
                                         self.base.accel, self.base.decel, self.base.angular_accel)
        events = [(a, ARRIVE, "") for a in vehicle.trajectory.arrivals if a > t + 1e-9]
        events += [(c, CLEAR, "") for c, _ in self._clear_times(vehicle, t, self.clear_m) if c > t + 1e-9]
        if vehicle.trajectory.stops_at > t + 1e-9:
            events.append((vehicle.trajectory.stops_at, STOP, ""))
        if self.watched:
            events += [(c, DEPART, node) for c, node in self._clear_times(vehicle, t, DEPART_RADIUS_M, self.watched)
                       if c > t + 1e-9]
        vehicle.events = sorted(events)
        self._schedule(vehicle)

    @staticmethod
    def _course(vehicle: _Vehicle) -> _Course:
        """The course the agent drives now: halted (paused, e-stopped, broken down, handling a load) or up to
        its stop (:meth:`AgentLogic.stop_index`)."""
        logic = vehicle.logic
        halted = logic.paused or logic.e_stop != "NONE" or vehicle.broken or logic.blocked()
        stop = -1 if halted else logic.stop_index()
        caps = {e.end_node_id: e.max_speed for e in logic.edges}
        released = [n for n in logic.nodes if n.released][:stop + 1]
        return _Course(stop < 0, tuple((n.node_id, n.x, n.y, caps.get(n.node_id, 0.0), n.allowed_deviation_xy)
                                       for n in released))

    def _clear_times(self, vehicle: _Vehicle, t: float, radius: float,
                     only: dict[tuple[float, float], str] | None = None) -> list[tuple[float, str]]:
        """When the vehicle is ``radius`` from the node it last reached, and from each node it will reach (of
        ``only`` those nodes, by position, if given), with the node."""
        trajectory = vehicle.trajectory
        if not trajectory.pieces:
            return []
        anchors = [(*vehicle.last_xy, t)]
        released = [n for n in vehicle.logic.nodes if n.released]
        anchors += [(node.x, node.y, when) for node, when in zip(released, trajectory.arrivals, strict=False)]
        if only is not None:
            anchors = [a for a in anchors if (a[0], a[1]) in only]
        out = []
        for x, y, after in anchors:
            when = _first_time_beyond(trajectory, x, y, radius, after)
            if when is not None:
                out.append((when, only[(x, y)] if only is not None else ""))
        return out

    def _schedule(self, vehicle: _Vehicle) -> None:
        vehicle.version += 1
        now = vehicle.stepped_at
        due = vehicle.events[0][0] if vehicle.events else math.inf
        logic = vehicle.logic
        if not vehicle.online and not logic.link_lost:
            due = min(due, logic.last_contact + self.link_timeout_s + 1e-3)
        if logic.charging and logic.battery < 100.0:
            due = min(due, now + CHARGING_REFRESH_S)
        actions_end = logic.actions_end()
        if actions_end is not None:
            due = min(due, max(actions_end, now) + 1e-6)
        if math.isfinite(due):
            self._tie += 1
            heapq.heappush(self._queue, (due, self._tie, vehicle.id, vehicle.version))


def _still(t: float, heading: float) -> Trajectory:
    return Trajectory(t, (), (), t, heading)


def _first_time_beyond(trajectory: Trajectory, x: float, y: float, radius: float, after: float) -> float | None:
    """The first moment after ``after`` the vehicle is more than ``radius`` from (x, y), if it ever is."""
    for piece in trajectory.pieces_from(after):
        if piece.t1 <= after or (piece.ux == 0 and piece.uy == 0):
            continue
        lo = max(after, piece.t0)
        ex, ey = piece.at(piece.t1)
        if math.hypot(ex - x, ey - y) <= radius:
            continue
        hi = piece.t1
        # bisection to a few microseconds; ``piece.at`` written out (the same arithmetic, so the same times to
        # the bit): 40 calls for each clear time of each vehicle's every new motion were 12 % of its cost. It
        # stops early once a step leaves the bounds as they were: every later step would be that same step (on
        # the simulator's clock, seconds since the epoch, the float grid is reached after some 25 steps)
        t0, duration, v0, half_a = piece.t0, piece.duration, piece.v0, 0.5 * piece.a
        x0, y0, ux, uy = piece.x0, piece.y0, piece.ux, piece.uy
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            tau = mid - t0  # piece.distance's clamp to [0, duration] spelled out (min and max were half the time);
            if tau > duration:  # never below 0: lo starts at t0 or later, and mid lies between lo and hi
                tau = duration
            d = v0 * tau + half_a * tau * tau
            if math.hypot(x0 + ux * d - x, y0 + uy * d - y) > radius:
                if hi == mid:
                    break
                hi = mid
            else:
                if lo == mid:
                    break
                lo = mid
        return hi
    return None
