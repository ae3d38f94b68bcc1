"""The vehicle agent's decisions, as a plain class the ROS node (and the fast simulator) drives.

Call :meth:`AgentLogic.on_order`, :meth:`on_instant_actions` when messages arrive, and :meth:`step`
at the control rate with the current pose; it returns the (linear, angular) command. Rules:

- An order is accepted when well-formed (even node / odd edge sequence ids, edges joining consecutive
  nodes, the released part a prefix); a new order only when the vehicle has no base left and the first
  node is where it stands; an update (same order_id, higher order_update_id) only when its first node is
  the current last base node. Anything else is refused with an error in the state and changes nothing.
- The vehicle drives through released nodes only and never passes its last released node.
- Pause / resume / cancel / emergency stop are acknowledged in ``action_states``; repeating one (same
  action_id) is harmless.
- No order or instant action (a heartbeat counts) for ``link_timeout_s``: the vehicle finishes its
  edge, stops at the next node and reports ``link_lost``; it drives on when the link returns.
- Battery drains with distance and charges at a node with the ``startCharging`` action.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from agv_agent.protocol import (
    CHARGE_ACTION,
    ActionState,
    ActionType,
    AgvError,
    InstantAction,
    Order,
    OrderEdge,
    OrderNode,
    Pose,
    VehicleState,
)
from agv_agent.tracker import Limits, command_towards, distance


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


class OrderRefused(ValueError):
    """Why an order cannot be taken; reported as an error in the state."""

    def __init__(self, error_type: str, description: str) -> None:
        super().__init__(description)
        self.error_type = error_type


class AgentLogic:
    def __init__(self, params: AgentParams, now: float) -> None:
        self.p = params
        self.order_id, self.order_update_id = "", 0
        self.last_node_id, self.last_node_seq = params.initial_node_id, 0
        self.nodes: list[OrderNode] = []  # still to reach, base then horizon
        self.edges: list[OrderEdge] = []
        self.paused = False
        self.e_stop = "NONE"
        self.actions: dict[str, ActionState] = {}
        self.errors: list[AgvError] = []
        self.battery = params.initial_battery
        self.charging = False
        self.last_contact = now
        self.link_lost = False
        self.stop_at_next_node = False  # set when the link is lost mid-edge
        self.command = (0.0, 0.0)
        self.measured = (0.0, 0.0)
        self.last_node_actions: tuple[str, ...] = ()
        self.pose: Pose | None = None
        self.changed = True  # publish a state on every change

    # --- inputs ---------------------------------------------------------------------------------------------

    def on_order(self, order: Order, now: float) -> None:
        self._contact(now)
        try:
            _check_well_formed(order)
            if order.order_id == self.order_id:
                self._update(order)
            else:
                self._new(order)
        except OrderRefused as refusal:
            self.errors = [AgvError(refusal.error_type, "WARNING", str(refusal))]
            self.changed = True

    def on_instant_actions(self, actions: list[InstantAction], now: float) -> None:
        self._contact(now)
        for action in actions:
            if action.action_type == ActionType.HEARTBEAT or action.action_id in self.actions:
                continue  # heartbeats only prove the link; a repeated action id is done already
            self.actions[action.action_id] = self._perform(action)
            self.changed = True

    def _perform(self, action: InstantAction) -> ActionState:
        kind = action.action_type
        if kind == ActionType.PAUSE:
            self.paused = True
        elif kind == ActionType.RESUME:
            self.paused = False
        elif kind == ActionType.CANCEL_ORDER:
            self.nodes, self.edges = [], []
        elif kind == ActionType.EMERGENCY_STOP:
            self.e_stop = "REMOTE"
        elif kind == ActionType.RELEASE_EMERGENCY_STOP:
            self.e_stop = "NONE"
        else:
            return ActionState(action.action_id, kind, "FAILED", f"unknown action type {kind!r}")
        return ActionState(action.action_id, kind, "FINISHED")

    def _contact(self, now: float) -> None:
        self.last_contact = now
        if self.link_lost:
            self.link_lost, self.stop_at_next_node = False, False
            self.changed = True

    def _new(self, order: Order) -> None:
        if any(n.released for n in self.nodes):
            raise OrderRefused("orderNotAcceptable",
                               f"busy with order {self.order_id}: {len(self.nodes)} nodes to go; cancel it first")
        first = order.nodes[0]
        here = self.pose is not None and distance(self.pose, first.x, first.y) <= first.allowed_deviation_xy + 0.5
        if first.node_id != self.last_node_id and not here:
            raise OrderRefused("orderNotAcceptable", f"order starts at {first.node_id}, the vehicle is at "
                                                     f"{self.last_node_id or 'no known node'}")
        self.order_id, self.order_update_id = order.order_id, order.order_update_id
        self._take(order, order.nodes[0])
        self.errors = []

    def _update(self, order: Order) -> None:
        if order.order_update_id == self.order_update_id:
            return  # the same update again (transient-local redelivery): nothing to do
        if order.order_update_id < self.order_update_id:
            raise OrderRefused("orderUpdateError", f"stale update {order.order_update_id} of order {order.order_id}"
                                                   f" (have {self.order_update_id})")
        base_end = self._base_end()
        first = order.nodes[0]
        if (first.node_id, first.sequence_id) != base_end:
            raise OrderRefused("orderUpdateError", f"update must start at the last base node {base_end[0]}/"
                                                   f"{base_end[1]}, not {first.node_id}/{first.sequence_id}")
        self.order_update_id = order.order_update_id
        self._take(order, first)
        self.errors = []

    def _take(self, order: Order, first: OrderNode) -> None:
        """Adopt the order after ``first``: the node the vehicle stands at, or (an update) its last base node."""
        if (first.node_id, first.sequence_id) == (self.last_node_id, self.last_node_seq) or not self.nodes:
            self.last_node_id, self.last_node_seq = first.node_id, first.sequence_id
            self.nodes, self.edges = list(order.nodes[1:]), list(order.edges)
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

    def step(self, pose: Pose, now: float, dt: float,
             measured: tuple[float, float] | None = None) -> tuple[float, float]:
        """Advance the agent to ``now`` with the base at ``pose`` (moving at ``measured`` (linear, angular)
        velocity, if the base reports it); return the (linear, angular) command."""
        self.measured = measured if measured is not None else self.command
        if self.pose is not None:
            self._drain(distance(self.pose, pose.x, pose.y))
        self.pose = pose
        if not self.link_lost and now - self.last_contact > self.p.link_timeout_s:
            # finish the edge being driven (if any) and wait at its end node
            self.link_lost, self.stop_at_next_node = True, abs(self.command[0]) > 0.01
            self.changed = True
        self._arrive(pose)
        self._charge(dt)
        target = self._target()
        if target is None or self.paused or self.e_stop != "NONE":
            command = (0.0, 0.0)
        else:
            node, edge_speed, stop_distance = target
            command = command_towards(pose, (node.x, node.y), edge_speed, stop_distance, self.p.limits)
        was_driving = self.driving
        self.command = command
        if self.driving != was_driving:
            self.changed = True
        return command

    @property
    def driving(self) -> bool:
        """Driving and/or rotating (VDA 5050): commanded to move, or still moving according to the base."""
        return any(abs(c) > 0.01 for c in self.command) or abs(self.measured[0]) > 0.05 \
            or abs(self.measured[1]) > 0.02

    def _arrive(self, pose: Pose) -> None:
        while self.nodes and self.nodes[0].released and \
                distance(pose, self.nodes[0].x, self.nodes[0].y) <= self.p.limits.arrival_tolerance:
            node = self.nodes.pop(0)
            self.last_node_id, self.last_node_seq = node.node_id, node.sequence_id
            self.last_node_actions = node.actions
            self.edges = [e for e in self.edges if e.sequence_id > node.sequence_id]
            self.changed = True
            if self.link_lost:
                self.stop_at_next_node = False  # the link is lost: this node is where the vehicle waits
                return

    def _target(self) -> tuple[OrderNode, float, float] | None:
        """The next node to drive to, its edge's speed limit and the path length to where it must stop."""
        if not self.nodes or not self.nodes[0].released:
            return None
        if self.link_lost and not self.stop_at_next_node:
            return None
        released = [n for n in self.nodes if n.released]
        stop_index = 0 if self.link_lost else len(released) - 1
        assert self.pose is not None
        path = distance(self.pose, released[0].x, released[0].y)
        for a, b in itertools.pairwise(released[:stop_index + 1]):
            path += math.hypot(b.x - a.x, b.y - a.y)
        edge = next((e for e in self.edges if e.end_node_id == released[0].node_id), None)
        return released[0], edge.max_speed if edge else 0.0, path

    def _drain(self, metres: float) -> None:
        used = self.p.consumption_kwh_per_km * metres / 1000 / self.p.battery_capacity_kwh * 100
        self.battery = max(0.0, self.battery - used)

    def _charge(self, dt: float) -> None:
        at_charger = not self._target() and not self.driving and CHARGE_ACTION in self.last_node_actions
        if at_charger != self.charging:
            self.charging, self.changed = at_charger, True
        if self.charging:
            self.battery = min(100.0, self.battery + self.p.charging_power_kw * dt / 3600 / self.p.battery_capacity_kwh
                               * 100)

    # --- output ---------------------------------------------------------------------------------------------

    def state(self, now: float) -> VehicleState:
        pose = self.pose or Pose(0.0, 0.0, 0.0)
        return VehicleState(
            vehicle_id=self.p.vehicle_id, order_id=self.order_id, order_update_id=self.order_update_id,
            last_node_id=self.last_node_id, last_node_sequence_id=self.last_node_seq,
            node_states=tuple(self.nodes), edge_states=tuple(self.edges), pose=pose, velocity=self.measured,
            driving=self.driving, paused=self.paused, link_lost=self.link_lost,
            battery_charge=round(self.battery, 3), charging=self.charging,
            action_states=tuple(self.actions.values()), errors=tuple(self.errors), e_stop=self.e_stop, stamp=now)


def _check_well_formed(order: Order) -> None:
    def refuse(why: str) -> None:
        raise OrderRefused("orderValidationError", f"order {order.order_id!r}/{order.order_update_id}: {why}")

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
        if not all(math.isfinite(v) for v in (node.x, node.y, node.theta)):
            refuse(f"node {node.node_id} has no finite position")
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
    released = [n.released for n in order.nodes]
    if released != sorted(released, reverse=True):
        refuse("released nodes must come before the horizon")
    if [e.released for e in order.edges] != [n.released for n in order.nodes[1:]]:
        refuse("an edge is released exactly when its end node is")
