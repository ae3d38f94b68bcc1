"""A fleet manager in one process on simulated time: the real store (SQLite file), customs gate, orders,
planner and dispatch loop, with vehicles behind the in-process link (the agent's own logic, no DDS)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from fleet.alarms import AlarmService
from fleet.dispatch import Dispatcher, DispatchSettings
from fleet.events import EventBus
from fleet.maps import load_corridor
from fleet.orders import OrderCreate, OrderService, OrderState
from fleet.staff import StaffLog
from fleet.store import Store
from fleet.store.schema import orders
from fleet.vehicles.inprocess import InProcessLink
from fleet.vehicles.registry import VehicleConfig, VehicleRegistry
from planner.corridor import Corridor, NodeKind

MAP = "maps/bac_luan_ii"
VN_CN, CN_VN = "VN->CN", "CN->VN"


@pytest.fixture(scope="session")
def corridor() -> Corridor:
    return load_corridor(MAP)


@dataclass
class Fleet:
    """Drives the loop: ``run(seconds)`` alternates vehicle motion and dispatch ticks on the fake clock."""

    customs: object
    corridor: Corridor
    store: Store
    bus: EventBus
    link: InProcessLink
    orders: OrderService
    dispatcher: Dispatcher
    checks: list = field(default_factory=list)  # called after every tick with the fleet

    def run(self, seconds: float, dt: float = 0.5, until=None, heartbeats: bool = True) -> bool:
        clock = self.customs.clock
        end = clock.now + seconds
        while clock.now < end:
            clock.now += dt
            self.link.advance(dt)
            if heartbeats and round(clock.now / dt) % 40 == 0:  # heartbeats every 20 s keep both customs links up
                for signer in (self.customs.vn, self.customs.cn):
                    self.dispatcher.gate.ingest(signer.event("heartbeat"), "test")
            self.dispatcher.tick()
            for check in self.checks:
                check(self)
            if until is not None and until():
                return True
        return until is None

    def order(self, consignments, pickup, drop) -> str:
        created, _ = self.orders.create(OrderCreate(consignments=consignments, pickup=pickup, drop=drop), "test")
        return created.id

    def state_of(self, order_id: str) -> OrderState:
        """The stored state alone: ``run(until=...)`` asks every half simulated second, and the whole order with
        its timeline (``orders.get``) cost more than the fleet it watched."""
        with self.store.reading() as conn:
            return OrderState(conn.execute(sa.select(orders.c.state).where(orders.c.id == order_id)).scalar_one())

    def authorize(self, *vehicles: str) -> None:
        for vehicle in vehicles:
            for signer in (self.customs.vn, self.customs.cn):
                assert self.dispatcher.gate.ingest(signer.event("vehicle.authorized", vehicle_id=vehicle),
                                                   "test").acknowledged

    def release(self, consignment: str, direction: str, *authorities) -> None:
        for signer in authorities or (self.customs.vn, self.customs.cn):
            assert self.dispatcher.gate.ingest(signer.event("released", consignment, direction=direction),
                                               "test").acknowledged


def docks(corridor: Corridor, side: str) -> list[str]:
    return sorted(n.id for n in corridor.nodes_of(NodeKind.DOCK, jurisdiction=side))


def make_fleet(customs, corridor: Corridor, count: int, db=None, starts: list[str] | None = None,
               handling_s: float | None = None) -> Fleet:
    """``count`` vehicles parked on alternate sides, or standing at the nodes ``starts`` names; each vehicle's
    own pick and drop take ``handling_s`` (the agent's default if None)."""
    store = Store(db or customs.db_path)
    bus = EventBus()
    gate = customs.gate_on(store, bus)
    link = InProcessLink(customs.clock)
    registry = VehicleRegistry(store)
    spots = sorted(corridor.nodes_of(NodeKind.PARKING), key=lambda n: (n.jurisdiction != "VN", n.id))
    per_side = {side: [n for n in spots if n.jurisdiction == side] for side in ("VN", "CN")}
    chosen = [corridor.nodes[n] for n in starts] if starts else \
        [per_side["VN" if i % 2 == 0 else "CN"][i // 2] for i in range(count)]
    configs = [VehicleConfig(id=f"agv_{i + 1:03d}", home=n.jurisdiction, start_node=n.id)
               for i, n in enumerate(chosen)]
    registry.configure(configs)
    for config, node in zip(configs, chosen, strict=True):
        link.spawn(config.id, node.x, node.y, corridor.heading_into(node.id), node.id, handling_s=handling_s)
    alarms = AlarmService(store, bus, customs.clock)
    orders = OrderService(store, corridor, bus, customs.clock)
    dispatcher = Dispatcher(corridor=corridor, store=store, orders=orders, registry=registry, gate=gate, link=link,
                            alarms=alarms, bus=bus, staff=StaffLog(store, customs.clock), clock=customs.clock,
                            settings=DispatchSettings(load_s=20, unload_s=20))
    return Fleet(customs, corridor, store, bus, link, orders, dispatcher)


def on_its_way(customs, corridor: Corridor, consignment: str = "VN-100000000001") -> tuple[Fleet, str]:
    """One authorized vehicle on its way to load a cleared VN->CN order: the fleet and the order's id."""
    fleet = make_fleet(customs, corridor, 1)
    fleet.authorize("agv_001")
    order = fleet.order([consignment], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release(consignment, VN_CN)
    assert fleet.run(600, until=lambda: fleet.state_of(order) == OrderState.TO_PICKUP)
    return fleet, order
