"""The vehicle agent's decisions, as a plain class the ROS node, the MQTT vehicle and the simulators drive.

Call :meth:`AgentLogic.on_order`, :meth:`on_instant_actions` and :meth:`on_heartbeat` when messages arrive,
and :meth:`step` at the control rate with the current pose; it returns the (linear, angular) command. The
rules follow VDA 5050 2.1 (docs/vehicle-protocol.md):

- Orders are taken only in AUTOMATIC (or SEMIAUTOMATIC) mode, when well-formed (even node / odd edge
  sequence ids, edges joining consecutive nodes, the released part a prefix, known node actions). A new
  order (another order_id) needs ``order_update_id`` 0, the previous order done (no node left, base or
  horizon, no action running, no cancel under way) and its first node where the vehicle stands; an update
  (same order_id, higher order_update_id) must start at the current last base node (and, with nothing left to
  drive, the vehicle within ``MOVED_OFF_ITS_WAY_M`` of it), and a cancelled order takes no update. Anything
  else is refused with an error referring to the order, and changes nothing.
- The vehicle drives through released nodes only and never passes its last released node. It slows before a
  turn so that it stays within the node's allowed deviation, stops where a node has a blocking action
  (pick, drop, charging) and runs it, and turns to a node's ``theta`` where it stops there.
- Instant actions get an action state each (repeats by action_id are ignored); unknown ones FAIL with an
  error. ``cancelOrder`` is RUNNING until the vehicle stands still, and FAILS with ``noOrderToCancel``
  when there is no order. A new order clears the finished action states of the old one.
- No order, instant action or heartbeat for ``link_timeout_s``: the vehicle stops at the first node of its base
  it can still stop at with its planned deceleration (never between nodes) and reports ``link_lost``; it drives
  on when the link returns. (A vendor's VDA 5050 vehicle need not do this: the fleet's safety does not rely on
  it, see the docs.)
- A pose is not believed while the vehicle has somewhere to drive (a released node ahead) or moves, in a mode that
  takes orders, when it lies farther than the vehicle could have driven since the last pose it believed (top
  speed x time, plus ``POSE_TOLERANCE_M``: a localisation jump, an odometry glitch): the vehicle stops, reaches no
  node on the strength of it, reports where it was last believed to be and a FATAL ``localizationError`` saying
  what it saw. It believes its pose again once the pose is back on the straight way it braked along from there,
  when people take it in hand (MANUAL mode: poses believed as they come) or when it has nothing left to drive (its
  order cancelled). Standing with nothing to drive, a pose is taken as it comes: the fleet judges a vehicle found
  away from its node (docs/vehicle-protocol.md).
- Battery drains with distance and charges where a ``startCharging`` action runs.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from dataclasses import dataclass, field

from agv_agent.protocol import (
    MAP_ID,
    Action,
    ActionState,
    ActionStatus,
    ActionType,
    AgvError,
    BlockingType,
    ErrorLevel,
    ErrorReference,
    ErrorType,
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
from agv_agent.tracker import Limits, command_towards, corner_speed, distance, passed_within, wrap

#: Actions that may come in an order, on a node.
#: metres between where a vehicle stands with nothing left to drive and the node it last reached, past which it was
#: moved off its way (by people, in MANUAL mode) and refuses an update that starts at that node; far above where a
#: vehicle stops short of its last released node under load (0.6 m seen in the CI's ROS runs). The fleet takes
#: such a vehicle out of dispatch at the same distance (``fleet.dispatch.loop.OFF_ITS_WAY_M``)
MOVED_OFF_ITS_WAY_M = 5.0
#: metres a pose may lie beyond where the vehicle could have driven since the last one it believed (at its top speed),
#: or beside the straight way it brakes along once stopped for a pose it did not believe: the estimate's noise
POSE_TOLERANCE_M = 1.0

NODE_ACTIONS = frozenset({ActionType.PICK, ActionType.DROP, ActionType.START_CHARGING, ActionType.STOP_CHARGING})
#: Actions that may come as instant actions.
INSTANT_ACTIONS = frozenset({ActionType.PAUSE, ActionType.RESUME, ActionType.CANCEL_ORDER, ActionType.EMERGENCY_STOP,
                             ActionType.RELEASE_EMERGENCY_STOP, ActionType.START_CHARGING, ActionType.STOP_CHARGING,
                             ActionType.FACTSHEET_REQUEST, ActionType.STATE_REQUEST})
#: How many instant action ids are remembered to ignore repeats, and how many finished ones stay in the state.
SEEN_INSTANT_IDS = 512
KEPT_INSTANT_STATES = 32
HEADING_TOLERANCE_RAD = 0.05

# Enum members the agent compares with at every step, as module constants: looking a member up on its class
# costs more than the comparison itself (Python 3.11)
_RUNNING = ActionStatus.RUNNING
_UNDER_WAY = (ActionStatus.INITIALIZING, ActionStatus.RUNNING)
_NOT_BLOCKING = BlockingType.NONE
_CANCEL_ORDER = ActionType.CANCEL_ORDER
_NO_E_STOP = EStop.NONE


@dataclass(frozen=True)
class AgentParams:
    vehicle_id: str
    limits: Limits = field(default_factory=Limits)
    link_timeout_s: float = 5.0
    battery_capacity_kwh: float = 280.0
    consumption_kwh_per_km: float = 2.2
    charging_power_kw: float = 150.0
    initial_battery: float = 100.0
    initial_node_id: str = ""
    handling_s: float = 1.0  # how long a pick or drop takes when its action has no ``duration`` parameter
    manufacturer: str = "xborder"
    series_name: str = "xborder-carrier-40"
    length: float = 15.0
    width: float = 3.0
    height: float = 3.0
    max_load_mass: float = 40000.0


class OrderRefused(ValueError):
    """Why an order cannot be taken; reported as an error in the state."""

    def __init__(self, error_type: ErrorType, description: str) -> None:
        super().__init__(description)
        self.error_type = error_type


@dataclass
class _Running:
    """An action the agent is carrying out (node action or instant action)."""

    action: Action
    status: ActionStatus
    until: float = 0.0  # when a timed action (pick, drop) ends
    result: str = ""
    reported: ActionState | None = field(default=None, compare=False, repr=False)  # see :meth:`report`

    def report(self) -> ActionState:
        """The action's state in the vehicle's state: the one reported last while its status and result are
        the same (a state is published at every change and carries every action, most of them done long since)."""
        reported = self.reported
        if reported is None or reported.status != self.status or reported.result != self.result:
            reported = self.reported = ActionState(self.action.action_id, self.action.action_type, self.status,
                                                   self.result)
        return reported


class AgentLogic:
    def __init__(self, params: AgentParams, now: float) -> None:
        self.p = params
        self.order_id, self.order_update_id = "", 0
        self.cancelled_order = ""  # the order a cancelOrder ended: it takes no update
        self.last_node_id, self.last_node_seq = params.initial_node_id, 0
        self.nodes: list[OrderNode] = []  # still to reach, base then horizon
        self.edges: list[OrderEdge] = []
        self.paused = False
        self.e_stop = EStop.NONE
        self.operating_mode = OperatingMode.AUTOMATIC
        self.order_actions: dict[str, _Running] = {}  # the current order's node actions, by action id
        self.instant: OrderedDict[str, _Running] = OrderedDict()  # the latest instant actions, by action id
        self.seen_instant: OrderedDict[str, None] = OrderedDict()
        self.errors: list[AgvError] = []
        self.loads: list[Load] = []
        self.battery = params.initial_battery
        self.charging = False
        self.charge_requested = False
        self.last_contact = now
        self.link_lost = False
        self.link_loss_stop: int | None = None  # link lost while moving: the sequence id of the node to wait at
        self.command = (0.0, 0.0)
        self.measured = (0.0, 0.0)
        self.heading_goal: tuple[float, float] | None = None  # (theta, tolerance) at the node stopped at
        self.since_last_node = 0.0
        self.pose: Pose | None = None  # the last pose believed
        self.pose_at = now  # the time of the pose believed last (its measurement's, when the base says it)
        self.doubted_at_speed: float | None = None  # a pose not believed: the speed it had then (it is stopping)
        self.factsheet_requested = False
        self.handling_faults: dict[str, str] = {}  # action type -> why the next such action fails
        self.changed = True  # publish a state on every change

    # --- inputs ---------------------------------------------------------------------------------------------

    def on_order(self, order: Order, now: float) -> None:
        self._contact(now)
        try:
            if not self.operating_mode.takes_orders:
                raise OrderRefused(ErrorType.NOT_AUTOMATIC, f"operating mode {self.operating_mode}: no orders taken")
            _check_well_formed(order)
            _check_on_the_map(order)
            if order.order_id == self.order_id:
                self._update(order, now)
            else:
                self._new(order, now)
        except OrderRefused as refusal:
            self._error(refusal.error_type, str(refusal), headerId=str(order.header.header_id),
                        orderId=order.order_id, orderUpdateId=str(order.order_update_id))

    def on_heartbeat(self, now: float) -> None:
        """The fleet is alive (its own topic, sent while its dispatch loop runs)."""
        self._contact(now)

    def on_instant_actions(self, actions: list[Action], now: float) -> None:
        self._contact(now)
        for action in actions:
            if action.action_id in self.seen_instant:
                continue  # a repeat (a resend of an unacknowledged action): done already
            self.seen_instant[action.action_id] = None
            if len(self.seen_instant) > SEEN_INSTANT_IDS:
                self.seen_instant.popitem(last=False)
            self.instant[action.action_id] = self._perform(action)
            done = [k for k, r in self.instant.items() if r.status.done]
            for key in done[:max(0, len(done) - KEPT_INSTANT_STATES)]:
                del self.instant[key]
            self.changed = True

    def fail_next_handling(self, action_type: ActionType, why: str) -> None:
        """The vehicle's own load handling will fail (a container not found, a twistlock that did not lock): the
        next ``action_type`` (pick or drop) ends FAILED with ``why`` and a ``loadHandlingError``, nothing loaded or
        unloaded. For a simulated vehicle's fault scenarios."""
        self.handling_faults[str(action_type)] = why

    def set_operating_mode(self, mode: OperatingMode) -> None:
        """The vehicle's own mode switch (a driver taking over: MANUAL)."""
        if mode != self.operating_mode:
            self.operating_mode, self.changed = mode, True

    def _perform(self, action: Action) -> _Running:
        kind = action.action_type
        if kind not in INSTANT_ACTIONS:
            self._error(ErrorType.UNKNOWN_ACTION, f"instant action {kind!r} is not supported",
                        actionId=action.action_id, actionType=kind)
            return _Running(action, ActionStatus.FAILED, result="unsupported action type")
        finished = _Running(action, ActionStatus.FINISHED)
        if kind == ActionType.PAUSE:
            self.paused = True
        elif kind == ActionType.RESUME:
            self.paused = False
        elif kind == ActionType.EMERGENCY_STOP:
            self.e_stop = EStop.REMOTE
        elif kind == ActionType.RELEASE_EMERGENCY_STOP:
            self.e_stop = EStop.NONE
        elif kind == ActionType.CANCEL_ORDER:
            return self._cancel(action)
        elif kind == ActionType.START_CHARGING:
            if self.driving or self._target() is not None:
                return _Running(action, ActionStatus.FAILED, result="charging needs the vehicle at a standstill")
            self.charge_requested = True
        elif kind == ActionType.STOP_CHARGING:
            self.charge_requested = False
        elif kind == ActionType.FACTSHEET_REQUEST:
            self.factsheet_requested = True
        # STATE_REQUEST: the state is published on every change, this one included
        return finished

    def _cancel(self, action: Action) -> _Running:
        active = [r for r in self.order_actions.values() if not r.status.done]
        if not self.nodes and not active:
            self._error(ErrorType.NO_ORDER_TO_CANCEL, "cancelOrder: no order to cancel", actionId=action.action_id,
                        orderId=self.order_id)
            return _Running(action, ActionStatus.FAILED, result=ErrorType.NO_ORDER_TO_CANCEL)
        self.nodes, self.edges = [], []
        self.cancelled_order = self.order_id
        for running in active:
            running.status, running.result = ActionStatus.FAILED, "order cancelled"
        return _Running(action, ActionStatus.RUNNING)  # FINISHED once the vehicle stands still (see step)

    def _contact(self, now: float) -> None:
        self.last_contact = now
        if self.link_lost:
            self.link_lost, self.link_loss_stop = False, None
            self.changed = True

    def _error(self, error_type: ErrorType, description: str, level: ErrorLevel = ErrorLevel.WARNING,
               **references: str) -> None:
        self._drop_errors(error_type)
        self.errors.append(AgvError(error_type, level, description,
                                    tuple(ErrorReference(k, v) for k, v in references.items() if v)))
        self.changed = True

    def _drop_errors(self, *error_types: ErrorType) -> None:
        """No error of these types any more (a new list: a state already built keeps what it said)."""
        self.errors = [e for e in self.errors if e.error_type not in error_types]

    def _new(self, order: Order, now: float) -> None:
        first = order.nodes[0]
        reasons = self._why_not_new(order, first)
        if reasons:
            raise OrderRefused(ErrorType.ORDER_NOT_ACCEPTABLE, "; ".join(reasons))
        self.order_id, self.order_update_id = order.order_id, order.order_update_id
        self.cancelled_order = ""
        self.order_actions = {}
        self.instant = OrderedDict((k, r) for k, r in self.instant.items() if not r.status.done)
        self.errors = []
        self._take(order, first, now)

    def _why_not_new(self, order: Order, first: OrderNode) -> list[str]:
        """Every reason the vehicle cannot take ``order`` as a new order, the most telling first: what the vehicle
        is doing (busy, an action running), then where it stands, then the update id, which says least (a
        restarted vehicle sent an update of an order it no longer holds was told only "must have
        order_update_id 0", which hid that it stood nowhere near the order's first node)."""
        reasons: list[str] = []
        if self.nodes:
            reasons.append(f"busy with order {self.order_id}: {len(self.nodes)} nodes to go"
                           + (" (horizon only: waiting for an update)" if not self.nodes[0].released else "")
                           + " (cancel it first)")
        if any(not r.status.done for r in itertools.chain(self.order_actions.values(), self.instant.values())
               if r.action.action_type in (ActionType.CANCEL_ORDER, ActionType.PICK, ActionType.DROP)):
            reasons.append(f"order {self.order_id} still has an action running")
        if not self.nodes and not self._stands_at(first):
            reasons.append(f"order starts at {first.node_id}, the vehicle is at {self.last_node_id or 'no known node'}"
                           + (f", {distance(self.pose, first.x, first.y):.1f} m away" if self.pose else ""))
        if order.order_update_id != 0:
            reasons.append(f"new order {order.order_id} must have order_update_id 0, not {order.order_update_id} "
                           f"(the vehicle holds no order {order.order_id})")
        return reasons

    def _stands_at(self, node: OrderNode) -> bool:
        """Whether the vehicle stands at ``node``: by position once the base reports one (a vehicle stopped
        on an edge by a cancel is at no node, whatever its last node was), else by its last node id."""
        if self.pose is None:
            return node.node_id == self.last_node_id
        reach = max(node.allowed_deviation_xy, self.p.limits.arrival_tolerance)
        return distance(self.pose, node.x, node.y) <= reach

    def _update(self, order: Order, now: float) -> None:
        if self.cancelled_order == order.order_id:
            raise OrderRefused(ErrorType.ORDER_UPDATE, f"order {order.order_id} was cancelled: it takes no update")
        if order.order_update_id == self.order_update_id:
            return  # the same update again (a resend): nothing to do
        if order.order_update_id < self.order_update_id:
            raise OrderRefused(ErrorType.ORDER_UPDATE, f"stale update {order.order_update_id} of order "
                                                       f"{order.order_id} (have {self.order_update_id})")
        base_end = self._base_end()
        first = order.nodes[0]
        if (first.node_id, first.sequence_id) != base_end:
            raise OrderRefused(ErrorType.ORDER_UPDATE, f"update must start at the last base node {base_end[0]}/"
                                                       f"{base_end[1]}, not {first.node_id}/{first.sequence_id}")
        away = distance(self.pose, first.x, first.y) if self.pose is not None else 0.0
        # (a vehicle restarted on a lane, past the node its new order starts at: the fleet widens that node's allowed
        # deviation to where it stands, in the order and in the updates that start there)
        if away > max(MOVED_OFF_ITS_WAY_M, first.allowed_deviation_xy) and not any(n.released for n in self.nodes):
            raise OrderRefused(ErrorType.ORDER_UPDATE, f"update starts at {first.node_id}, where the vehicle stopped, "
                                                       f"but it stands {away:.1f} m away: moved off its way")
        self.order_update_id = order.order_update_id
        self._drop_errors(ErrorType.ORDER_UPDATE, ErrorType.ORDER_NOT_ACCEPTABLE)
        self._take(order, first, now)

    def _take(self, order: Order, first: OrderNode, now: float) -> None:
        """Adopt the order after ``first``: the node the vehicle stands at, or (an update) its last base node.
        Where the vehicle stands at ``first``, that node's actions start now (a pick at the dock it is at)."""
        for node in order.nodes:
            for action in node.actions:
                self.order_actions.setdefault(action.action_id, _Running(action, ActionStatus.WAITING))
        if (first.node_id, first.sequence_id) == (self.last_node_id, self.last_node_seq) or not self.nodes:
            self.last_node_id, self.last_node_seq = first.node_id, first.sequence_id
            self.nodes, self.edges = list(order.nodes[1:]), list(order.edges)
            self.heading_goal = None
            self._start_node_actions(first, now)
        else:  # still on the way to ``first``: keep the base up to it, replace the old horizon
            self.nodes = [n for n in self.nodes if n.sequence_id <= first.sequence_id] + list(order.nodes[1:])
            self.edges = [e for e in self.edges if e.sequence_id < first.sequence_id] + list(order.edges)
        self.changed = True

    def _base_end(self) -> tuple[str, int]:
        released = [n for n in self.nodes if n.released]
        if released:
            return released[-1].node_id, released[-1].sequence_id
        return self.last_node_id, self.last_node_seq

    # --- control --------------------------------------------------------------------------------------------

    def step(self, pose: Pose, now: float, dt: float, measured: tuple[float, float] | None = None,
             pose_time: float | None = None) -> tuple[float, float]:
        """Advance the agent to ``now`` with the base at ``pose`` (moving at ``measured`` (linear, angular)
        velocity, if the base reports it), measured at ``pose_time`` (the odometry's stamp; None: ``now``); return
        the (linear, angular) command. How far the vehicle can have driven since the last pose it believed is
        reckoned between the poses' own times: an odometry message that came late, and the next one on time, are
        no jump (a ROS 2 run on a clock 20 times the wall's stopped both its vehicles so)."""
        self.measured = measured if measured is not None else self.command
        before, at = self.pose, now if pose_time is None else pose_time
        if before is not None and not self._believes(before, pose, at):
            pose = before
        else:
            self.pose_at = at
        if self.pose is not None:
            moved = distance(self.pose, pose.x, pose.y)
            self._drain(moved)
            self.since_last_node += moved
        else:
            self.changed = True  # the position is known now
        self.pose = pose
        if not self.link_lost and now - self.last_contact > self.p.link_timeout_s:
            # drive on to the first node it can stop at without braking harder than planned, and wait there
            self.link_lost = True
            self.link_loss_stop = self._first_stoppable_node() if abs(self.command[0]) > 0.01 else None
            self.changed = True
        self._arrive(before, pose, now)
        self._run_actions(now)
        target = self._target()  # (charging changes nothing of it)
        self._charge(dt, target is not None)
        if self.paused or self.e_stop != _NO_E_STOP or self.doubted_at_speed is not None:
            command = (0.0, 0.0)
        elif target is None or self.blocked():
            command = self._turn_to_heading(pose)
        else:
            node, edge_speed, stop_distance, corners = target
            command = command_towards(pose, (node.x, node.y), edge_speed, stop_distance, self.p.limits, corners)
        was_driving = self.driving
        self.command = command
        if self.driving != was_driving:
            self.changed = True
        return command

    def _believes(self, before: Pose, pose: Pose, at: float) -> bool:
        """Whether ``pose`` is believed, ``before`` being the last pose believed (see the module's docstring); a
        FATAL error says so the first time it is not."""
        taken_as_it_comes = not self.operating_mode.takes_orders \
            or not ((self.nodes and self.nodes[0].released) or self.driving)
        why = None if taken_as_it_comes else self._why_not_believed(before, pose, at)
        if why is None:
            if self.doubted_at_speed is not None:
                self.doubted_at_speed = None
                self._drop_errors(ErrorType.LOCALIZATION)
                self.changed = True
            return True
        if self.doubted_at_speed is None:
            self.doubted_at_speed = abs(self.measured[0])
            self._error(ErrorType.LOCALIZATION, f"{why}: not believed, the vehicle stops until its position is back "
                        "on the way it stopped along, people take it in hand (MANUAL mode) or its order is cancelled",
                        ErrorLevel.FATAL, orderId=self.order_id, lastNodeId=self.last_node_id)
        return False

    def _why_not_believed(self, before: Pose, pose: Pose, at: float) -> str | None:
        """Why ``pose`` is not to be believed, in words, or None: farther from ``before`` than the vehicle can have
        driven since; while it doubts its pose, off the straight way it braked along from ``before``. (Not how far
        off its lane it is: an agent starved of CPU in a simulation many times faster than real time really is
        carried seconds past a node and off its next lane, and a check of that stopped the CI's end-to-end run:
        docs/vehicle-protocol.md.)"""
        elapsed = max(0.0, at - self.pose_at)
        if self.doubted_at_speed is None:
            moved, reach = distance(before, pose.x, pose.y), self.p.limits.max_linear_speed * elapsed
            if moved <= reach + POSE_TOLERANCE_M:
                return None
            ahead = self.nodes[0].node_id if self.nodes and self.nodes[0].released else None
            return (f"position jumped {moved:.1f} m in {elapsed:.2f} s (it can drive {reach:.1f} m in that time): "
                    f"from ({before.x:.1f}, {before.y:.1f}) to ({pose.x:.1f}, {pose.y:.1f}), on its way "
                    + (f"{self.last_node_id} -> {ahead}" if ahead is not None else f"at {self.last_node_id}"))
        speed = self.doubted_at_speed
        reach = min(speed * elapsed, speed * speed / (2 * self.p.limits.max_linear_decel))
        dx, dy = pose.x - before.x, pose.y - before.y
        ahead_m = dx * math.cos(before.theta) + dy * math.sin(before.theta)
        aside_m = abs(dy * math.cos(before.theta) - dx * math.sin(before.theta))
        if aside_m > POSE_TOLERANCE_M or not -POSE_TOLERANCE_M <= ahead_m <= reach + POSE_TOLERANCE_M:
            return "still off the way it stopped along"
        return None

    @property
    def driving(self) -> bool:
        """Driving and/or rotating (VDA 5050): commanded to move, or still moving according to the base."""
        linear, angular = self.command
        return abs(linear) > 0.01 or abs(angular) > 0.01 or abs(self.measured[0]) > 0.05 \
            or abs(self.measured[1]) > 0.02

    def _turn_to_heading(self, pose: Pose) -> tuple[float, float]:
        """Standing at a node with a required heading: turn on the spot to it (within its allowed deviation)."""
        if self.heading_goal is None:
            return 0.0, 0.0
        theta, tolerance = self.heading_goal
        error = wrap(theta - pose.theta)
        if abs(error) <= tolerance:
            return 0.0, 0.0
        limits = self.p.limits
        return 0.0, max(-limits.max_angular_speed, min(limits.max_angular_speed, limits.heading_gain * error))

    def _arrive(self, before: Pose | None, pose: Pose, now: float) -> None:
        """Reach the released nodes the vehicle came within the arrival tolerance of on its way from ``before``
        (the last step's pose) to ``pose``: at speed, or at a coarse control rate (a simulation scaled in time), a
        step carries it past a node farther than the tolerance on either side; it then turned back for the node
        and swung up to 16 m off its lanes."""
        while self.nodes and self.nodes[0].released and \
                passed_within(before, pose, self.nodes[0].x, self.nodes[0].y, self.p.limits.arrival_tolerance):
            node = self.nodes.pop(0)
            self.last_node_id, self.last_node_seq = node.node_id, node.sequence_id
            self.since_last_node = 0.0
            self.heading_goal = None if node.theta is None else (
                node.theta, max(node.allowed_deviation_theta, HEADING_TOLERANCE_RAD))
            # the edges are in sequence order (an order's are, and an update's come after those kept), so the
            # ones up to this node are the first few: no need to look at every edge at every node
            passed = 0
            while passed < len(self.edges) and self.edges[passed].sequence_id <= node.sequence_id:
                passed += 1
            self.edges = self.edges[passed:]
            self.changed = True
            self._start_node_actions(node, now)
            if self.link_lost and (self.link_loss_stop is None or node.sequence_id >= self.link_loss_stop):
                self.link_loss_stop = None  # the link is lost: this node is where the vehicle waits
                return
            if any(a.blocking_type != _NOT_BLOCKING for a in node.actions):
                return  # stays here until its actions are done

    def _start_node_actions(self, node: OrderNode, now: float) -> None:
        for action in node.actions:
            running = self.order_actions.get(action.action_id)
            if running is None or running.status != ActionStatus.WAITING:
                continue
            if action.action_type in (ActionType.PICK, ActionType.DROP):
                duration = action.parameter("duration", self.p.handling_s)
                running.status, running.until = ActionStatus.RUNNING, now + float(duration)  # type: ignore[arg-type]
            elif action.action_type == ActionType.START_CHARGING:
                self.charge_requested = True
                running.status = ActionStatus.FINISHED
            elif action.action_type == ActionType.STOP_CHARGING:
                self.charge_requested = False
                running.status = ActionStatus.FINISHED

    def _run_actions(self, now: float) -> None:
        for running in self.order_actions.values():
            if running.status == _RUNNING and now >= running.until and not self.driving:
                self.changed = True
                why = self.handling_faults.pop(running.action.action_type, None)
                if why is not None:
                    running.status, running.result = ActionStatus.FAILED, why
                    self._error(ErrorType.LOAD_HANDLING, f"{running.action.action_type} failed: {why}",
                                actionId=running.action.action_id, actionType=running.action.action_type)
                    continue
                load_id = str(running.action.parameter("loadId", running.action.action_id))
                if running.action.action_type == ActionType.PICK:
                    self.loads.append(Load(load_id, str(running.action.parameter("loadType", ""))))
                else:
                    self.loads = [load for load in self.loads if load.load_id != load_id] \
                        if any(load.load_id == load_id for load in self.loads) else self.loads[1:]
                running.status = ActionStatus.FINISHED
                self.changed = True
        for running in self.instant.values():
            if running.action.action_type == _CANCEL_ORDER and running.status == _RUNNING \
                    and not self.driving:
                running.status = ActionStatus.FINISHED
                self.changed = True

    def blocked(self) -> bool:
        """A blocking node action at the node the vehicle stands at is not done yet."""
        for running in self.order_actions.values():  # (a loop: asked several times at every step)
            if running.status in _UNDER_WAY and running.action.blocking_type != _NOT_BLOCKING:
                return True
        return False

    def actions_end(self) -> float | None:
        """When the timed blocking actions running now (pick, drop) end, if any run (an event-driven simulator
        steps the agent then)."""
        ends = [r.until for r in self.order_actions.values()
                if r.status == _RUNNING and r.action.blocking_type != _NOT_BLOCKING]
        return max(ends) if ends else None

    def _target(self) -> tuple[OrderNode, float, float, list[tuple[float, float]]] | None:
        """The next node to drive to, its edge's speed limit, the path length to where it must stop, and
        (path length, speed) caps at the turns before that."""
        if not self.nodes or not self.nodes[0].released:
            return None
        released = [n for n in self.nodes if n.released]
        stop_index = self._stop_among(released)
        if stop_index < 0:
            return None
        assert self.pose is not None
        limits = self.p.limits
        # a turn farther than twice the braking distance from full speed cannot slow the vehicle yet: the speed
        # command_towards allows there, sqrt(corner speed² + 2 · braking margin · decel · distance), is above
        # sqrt(2) times the top speed, so leaving such turns out gives the very same command (nodes are some 20 m
        # apart: most turns ahead were that far, and each one cost as much as the rest of the step)
        horizon = limits.max_linear_speed ** 2 / (limits.braking_margin * limits.max_linear_decel) \
            + limits.arrival_tolerance / 2
        path = distance(self.pose, released[0].x, released[0].y)
        corners: list[tuple[float, float]] = []
        previous: tuple[float, float] = (self.pose.x, self.pose.y)
        for a, b in itertools.pairwise(released[:stop_index + 1]):
            if path < horizon:
                corners.append((path, corner_speed(previous, (a.x, a.y), (b.x, b.y), a.allowed_deviation_xy, limits)))
            path += math.hypot(b.x - a.x, b.y - a.y)
            previous = (a.x, a.y)
        edge = next((e for e in self.edges if e.end_node_id == released[0].node_id), None)
        return released[0], edge.max_speed if edge else 0.0, path, corners

    def stop_index(self) -> int:
        """Where, among the released nodes, the vehicle must stop next: the first node with a blocking action, or
        while the link is lost the node chosen when it was lost, else the end of its base; -1: it stands."""
        return self._stop_among([n for n in self.nodes if n.released])

    def _stop_among(self, released: list[OrderNode]) -> int:
        """:meth:`stop_index` given the released nodes (the control step has them at hand)."""
        if not released or (self.link_lost and self.link_loss_stop is None):
            return -1
        stop = next((i for i, n in enumerate(released) if n.actions and any(a.blocking_type != _NOT_BLOCKING
                                                                             for a in n.actions)), len(released) - 1)
        if self.link_lost:
            assert self.link_loss_stop is not None
            stop = min(stop, next((i for i, n in enumerate(released) if n.sequence_id >= self.link_loss_stop), stop))
        return stop

    def _first_stoppable_node(self) -> int | None:
        """The sequence id of the first released node ahead that the vehicle, at its speed, can stop at with the
        deceleration it plans with (a node nearer than that would be overrun); the end of its base at the latest."""
        released = [n for n in self.nodes if n.released]
        if not released or self.pose is None:
            return None
        limits = self.p.limits
        braking = self.measured[0] ** 2 / (2 * limits.braking_margin * limits.max_linear_decel)
        path, previous = 0.0, (self.pose.x, self.pose.y)
        for node in released:
            path += math.hypot(node.x - previous[0], node.y - previous[1])
            previous = (node.x, node.y)
            if path >= braking:
                return node.sequence_id
        return released[-1].sequence_id

    def _drain(self, metres: float) -> None:
        used = self.p.consumption_kwh_per_km * metres / 1000 / self.p.battery_capacity_kwh * 100
        self.battery = max(0.0, self.battery - used)

    def _charge(self, dt: float, targeted: bool) -> None:
        """Charge while a charge is requested and the vehicle stands with nothing to drive to (``targeted``: it
        has a next node to drive to, :meth:`_target`)."""
        at_charger = self.charge_requested and not targeted and not self.driving
        if at_charger != self.charging:
            self.charging, self.changed = at_charger, True
        if self.charging:
            self.battery = min(100.0, self.battery + self.p.charging_power_kw * dt / 3600 / self.p.battery_capacity_kwh
                               * 100)
        if targeted:
            self.charge_requested = False  # driving on ends the charge

    # --- output ---------------------------------------------------------------------------------------------

    def state(self, now: float) -> VehicleState:
        pose = self.pose or Pose(0.0, 0.0, 0.0)
        actions = itertools.chain(self.order_actions.values(), self.instant.values())
        return VehicleState(
            vehicle_id=self.p.vehicle_id, order_id=self.order_id, order_update_id=self.order_update_id,
            last_node_id=self.last_node_id, last_node_sequence_id=self.last_node_seq,
            node_states=tuple(self.nodes), edge_states=tuple(self.edges), pose=pose, velocity=self.measured,
            driving=self.driving, paused=self.paused, link_lost=self.link_lost,
            battery_charge=round(self.battery, 3), charging=self.charging, loads=tuple(self.loads),
            action_states=tuple(map(_Running.report, actions)),
            errors=tuple(self.errors), e_stop=self.e_stop, stamp=now, operating_mode=self.operating_mode,
            position_initialized=self.pose is not None, new_base_request=self._needs_base(),
            distance_since_last_node=round(self.since_last_node, 3),
            battery_reach=round(self.battery / 100 * self.p.battery_capacity_kwh / self.p.consumption_kwh_per_km
                                * 1000, 1),
            header=Header(timestamp=now, manufacturer=self.p.manufacturer, serial_number=self.p.vehicle_id),
            information=(Information("LINK_LOST", "INFO", "no order, action or heartbeat from the fleet within "
                                                          f"{self.p.link_timeout_s:.0f} s"),) if self.link_lost else ())

    def _needs_base(self) -> bool:
        """VDA 5050 newBaseRequest: a horizon is left and the end of the base is within the distance the vehicle
        needs to brake from full speed (it will have to slow down without an update)."""
        released = [n for n in self.nodes if n.released]
        if not self.nodes or self.nodes[-1].released or self.pose is None:
            return False
        if not released:
            return True
        limits = self.p.limits
        braking = limits.max_linear_speed ** 2 / (2 * limits.braking_margin * limits.max_linear_decel)
        return distance(self.pose, released[-1].x, released[-1].y) <= braking

    def factsheet(self) -> Factsheet:
        limits = self.p.limits
        return Factsheet(self.p.vehicle_id, self.p.manufacturer, self.p.series_name, limits.max_linear_speed,
                         limits.max_linear_accel, limits.max_linear_decel, self.p.length, self.p.width,
                         self.p.height, self.p.max_load_mass, tuple(sorted(NODE_ACTIONS | INSTANT_ACTIONS)),
                         Header(manufacturer=self.p.manufacturer, serial_number=self.p.vehicle_id))


def _check_on_the_map(order: Order) -> None:
    """Every node on the map the vehicle drives on (VDA 5050 ``nodePosition.mapId``): a position on another map
    names another place, and driving to it here would be driving to a place nobody meant."""
    elsewhere = [n for n in order.nodes if n.map_id != MAP_ID]
    if elsewhere:
        raise OrderRefused(ErrorType.ORDER_NOT_ACCEPTABLE,
                           f"order {order.order_id!r}/{order.order_update_id}: node {elsewhere[0].node_id} is on map "
                           f"{elsewhere[0].map_id!r}, the vehicle drives on {MAP_ID!r}")


def _check_well_formed(order: Order) -> None:
    def refuse(why: str) -> None:
        raise OrderRefused(ErrorType.ORDER_VALIDATION, f"order {order.order_id!r}/{order.order_update_id}: {why}")

    if not order.order_id:
        refuse("empty order_id")
    if not order.nodes:
        refuse("no nodes")
    if len(order.edges) != len(order.nodes) - 1:
        refuse(f"{len(order.nodes)} nodes need {len(order.nodes) - 1} edges, got {len(order.edges)}")
    if not order.nodes[0].released:
        refuse("the first node must be released")
    for i, node in enumerate(order.nodes):
        if node.sequence_id % 2 or (i and node.sequence_id != order.nodes[i - 1].sequence_id + 2):
            refuse(f"node {node.node_id} has sequence id {node.sequence_id}; nodes take consecutive even ids")
        if not all(math.isfinite(v) for v in (node.x, node.y, node.theta or 0.0)):
            refuse(f"node {node.node_id} has no finite position")
        for action in node.actions:
            if action.action_type not in NODE_ACTIONS:
                refuse(f"node {node.node_id}: action {action.action_type!r} is not supported on a node")
    for i, edge in enumerate(order.edges):
        a, b = order.nodes[i], order.nodes[i + 1]
        if edge.sequence_id != a.sequence_id + 1:
            refuse(f"edge {edge.edge_id} has sequence id {edge.sequence_id}, expected {a.sequence_id + 1}")
        if (edge.start_node_id, edge.end_node_id) != (a.node_id, b.node_id):
            refuse(f"edge {edge.edge_id} does not join {a.node_id} to {b.node_id}")
        if edge.released and not b.released:
            refuse(f"edge {edge.edge_id} is released but its end node {b.node_id} is not")
        if edge.max_speed < 0 or not math.isfinite(edge.max_speed):
            refuse(f"edge {edge.edge_id} has max_speed {edge.max_speed}")
        if edge.actions:
            refuse(f"edge {edge.edge_id}: edge actions are not supported")
    released = [n.released for n in order.nodes]
    if released != sorted(released, reverse=True):
        refuse("released nodes must come before the horizon")
    if [e.released for e in order.edges] != [n.released for n in order.nodes[1:]]:
        refuse("an edge is released exactly when its end node is")
