"""Vehicles in this process: each an ``agv_agent`` :class:`AgentLogic` on a simulated unicycle base, behind
the same :class:`VehicleLink` the ROS 2 bridge offers. For the fast simulator and the dispatch loop's tests:
the very rules a vehicle keeps (orders, releases, refusals, link loss), no DDS. Time advances only when
:meth:`InProcessLink.advance` is called, on the clock the caller owns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from agv_agent.kinematics import UnicycleBase
from agv_agent.logic import AgentLogic, AgentParams
from agv_agent.protocol import Action, ActionType, ConnectionState, Factsheet, Order, VehicleState

from fleet.vehicles.link import VehicleSnapshot


@dataclass
class _Vehicle:
    logic: AgentLogic
    base: UnicycleBase
    state: VehicleState | None = None
    stamp: float = 0.0
    online: bool = True
    factsheet: Factsheet | Literal[False] | None = False  # False: the agent's own


class InProcessLink:
    """Implements :class:`fleet.vehicles.VehicleLink` for simulated vehicles stepped by :meth:`advance`."""

    name = "in-process (simulated)"

    def __init__(self, clock: Callable[[], float], heartbeat_s: float = 1.0,
                 report_orders_at_once: bool = True) -> None:
        self.clock = clock
        self.heartbeat_s = heartbeat_s
        #: False: a vehicle's state shows an order it took only from its next step on, as over a real link
        self.report_orders_at_once = report_orders_at_once
        self._last_beat = -float("inf")
        self._vehicles: dict[str, _Vehicle] = {}
        self._lock = threading.RLock()
        self.sent_orders: list[tuple[float, str, Order]] = []  # what the fleet sent, for tests to check

    def spawn(self, vehicle_id: str, x: float, y: float, theta: float, node_id: str, battery: float = 100.0,
              link_timeout_s: float = 5.0, handling_s: float | None = None) -> None:
        params = AgentParams(vehicle_id, link_timeout_s=link_timeout_s, initial_battery=battery,
                             initial_node_id=node_id)
        if handling_s is not None:  # how long the vehicle's own pick and drop take
            params = replace(params, handling_s=handling_s)
        with self._lock:
            vehicle = _Vehicle(AgentLogic(params, self.clock()), UnicycleBase(x, y, theta))
            vehicle.logic.step(vehicle.base.pose, self.clock(), 0.0)
            self._vehicles[vehicle_id] = vehicle
            self._publish(vehicle)

    def advance(self, dt: float, substep: float = 0.1) -> None:
        """Step every vehicle through ``dt`` seconds that the caller's clock has just moved on."""
        with self._lock:
            steps = max(1, round(dt / substep))
            end = self.clock()
            for vehicle in self._vehicles.values():
                if not vehicle.online:
                    continue
                for i in range(steps):
                    now = end - dt + (i + 1) * dt / steps
                    command = vehicle.logic.step(vehicle.base.pose, now, dt / steps,
                                                 measured=(vehicle.base.v, vehicle.base.w))
                    vehicle.base.step(command, dt / steps)
                self._publish(vehicle)

    def move_by_hand(self, vehicle_id: str, x: float, y: float) -> None:
        """Simulate a vehicle driven off its order (by hand, or one that ignores its releases): it stands at
        (x, y) and reports so; its order and last node are as they were."""
        with self._lock:
            vehicle = self._vehicles[vehicle_id]
            vehicle.base = UnicycleBase(x, y, vehicle.base.theta)
            vehicle.logic.step(vehicle.base.pose, self.clock(), 0.0)
            self._publish(vehicle)

    def set_online(self, vehicle_id: str, online: bool) -> None:
        """Simulate a vehicle dropping off the network (it stops talking and hearing) and coming back."""
        with self._lock:
            self._vehicles[vehicle_id].online = online

    def fail_next_handling(self, vehicle_id: str, action_type: ActionType, why: str) -> None:
        """Simulate a handling fault: the vehicle's next pick or drop ends FAILED (AgentLogic.fail_next_handling)."""
        with self._lock:
            self._vehicles[vehicle_id].logic.fail_next_handling(action_type, why)

    def _publish(self, vehicle: _Vehicle) -> None:
        vehicle.state, vehicle.stamp = vehicle.logic.state(self.clock()), self.clock()

    # --- VehicleLink ---------------------------------------------------------------------------------------------

    def add_vehicle(self, vehicle_id: str) -> None:
        """Vehicles exist once spawned; the fleet adding one it knows of changes nothing."""

    def send_order(self, vehicle_id: str, order: Order) -> None:
        with self._lock:
            self.sent_orders.append((self.clock(), vehicle_id, order))
            vehicle = self._vehicles.get(vehicle_id)
            if vehicle is not None and vehicle.online:
                vehicle.logic.on_order(order, self.clock())
                if self.report_orders_at_once:
                    self._publish(vehicle)

    def heartbeat(self) -> None:
        """The dispatch loop is alive: every online vehicle hears it (at most every ``heartbeat_s``)."""
        with self._lock:
            now = self.clock()
            if now - self._last_beat < self.heartbeat_s:
                return
            self._last_beat = now
            for vehicle in self._vehicles.values():
                if vehicle.online:
                    vehicle.logic.on_heartbeat(now)

    def set_factsheet(self, vehicle_id: str, factsheet: Factsheet | None) -> None:
        """Simulate another vendor's vehicle (other capabilities), or one that has published no factsheet (None)."""
        with self._lock:
            self._vehicles[vehicle_id].factsheet = factsheet

    def factsheet(self, vehicle_id: str) -> Factsheet | None:
        with self._lock:
            vehicle = self._vehicles.get(vehicle_id)
            if vehicle is None:
                return None
            if vehicle.factsheet is False:
                return vehicle.logic.factsheet()
            return vehicle.factsheet

    def trouble(self) -> str | None:
        return None  # nothing runs on its own: the caller's thread does all the work

    def send_actions(self, vehicle_id: str, actions: list[Action]) -> None:
        with self._lock:
            vehicle = self._vehicles.get(vehicle_id)
            if vehicle is not None and vehicle.online:
                vehicle.logic.on_instant_actions(actions, self.clock())
                self._publish(vehicle)

    def state(self, vehicle_id: str) -> VehicleState | None:
        with self._lock:
            vehicle = self._vehicles.get(vehicle_id)
            return vehicle.state if vehicle else None

    def state_age(self, vehicle_id: str) -> float | None:
        with self._lock:
            vehicle = self._vehicles.get(vehicle_id)
            return self.clock() - vehicle.stamp if vehicle and vehicle.state else None

    def connection(self, vehicle_id: str) -> str | None:
        with self._lock:
            vehicle = self._vehicles.get(vehicle_id)
            return None if vehicle is None else ConnectionState.ONLINE if vehicle.online \
                else ConnectionState.CONNECTIONBROKEN

    def changed_vehicles(self) -> None:
        """Cannot tell: each snapshot carries the state's age (``VehicleLink.changed_vehicles``)."""
        return None

    def snapshot(self, vehicle_id: str) -> VehicleSnapshot:
        with self._lock:
            return VehicleSnapshot(self.state(vehicle_id), self.state_age(vehicle_id), self.connection(vehicle_id))
