"""The one place that builds the fleet manager's services from :class:`Settings`, starts and stops them.

``xborder serve`` and the tests use the same :func:`build_services`; the API (``fleet.api.main.create_app``)
starts them in its lifespan. The event bus joins the parts: the gate, the orders, the alarms and the
dispatcher publish on it; the ZeroMQ PUB (to both customs authorities), the WebSocket stream and the
metrics subscribe.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import zmq

from fleet.alarms import AlarmService
from fleet.config import ConfigError, ElectionConfig, FleetConfig, Settings
from fleet.customs.gate import CustomsGate
from fleet.dispatch import Dispatcher
from fleet.events import EventBus, Topic
from fleet.live_views import ViewsWriter
from fleet.maps import load_corridor
from fleet.orders import OrderService
from fleet.staff import StaffLog
from fleet.store import Store
from fleet.store.leadership import Leadership
from fleet.transports.curve import LinkSecurity, start_authenticator
from fleet.transports.zmq_customs import ZmqIngestServer, ZmqPublisher
from fleet.vehicles.inprocess import InProcessLink
from fleet.vehicles.link import VehicleLink, VehicleLinkError
from fleet.vehicles.placement import parked_fleet
from fleet.vehicles.registry import VehicleConfig, VehicleRegistry
from fleet.vehicles.routed import RoutedLink
from planner.corridor import Corridor

log = logging.getLogger(__name__)

#: ``xborder serve``'s exit status when it lost the leadership (a supervisor restarts it as a standby)
STEPPED_DOWN_EXIT = 75

#: What the customs authorities receive on the PUB socket (docs/customs-protocol.md).
CUSTOMS_TOPICS = (Topic.DECISION, Topic.CROSSING, Topic.CLEARANCE, Topic.ALARM, Topic.CHECKPOINT, Topic.RESEND)


class _Background(Protocol):
    def start(self) -> object: ...

    def stop(self) -> None: ...


@dataclass
class Services:
    settings: Settings
    clock: Callable[[], float]
    store: Store
    bus: EventBus
    corridor: Corridor
    gate: CustomsGate
    orders: OrderService
    alarms: AlarmService
    registry: VehicleRegistry
    staff: StaffLog
    link: VehicleLink
    dispatcher: Dispatcher
    publisher: ZmqPublisher
    ingest: ZmqIngestServer  # the customs ROUTER, bound when built; it serves once started
    security: LinkSecurity | None = None  # CURVE and the fleet's signing key for the customs link
    leadership: Leadership | None = None  # with store.election: this process leads (it waited for that)
    _background: list[_Background] = field(default_factory=list, repr=False)  # threads, started in order
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)

    def start(self) -> Services:
        """Start the customs ROUTER's thread and the others; if anything fails, stop what started and close all."""
        try:
            self._stack.callback(self.ingest.start().stop)
            for part in self._background:
                part.start()
                self._stack.callback(part.stop)
        except BaseException:
            self.close()
            raise
        log.info("customs ROUTER on %s, PUB on %s, store %s", self.ingest.endpoint, self.publisher.endpoint,
                 self.store.url)
        return self

    def close(self) -> None:
        """Stop what was started and close what was opened, in reverse order."""
        self._stack.close()


#: what a standby does while it waits for the leadership (``xborder serve``: serve reads, fleet/api/standby.py)
StandbyDuty = Callable[[Store, Leadership, Corridor], AbstractContextManager[object]]


def build_services(settings: Settings, *, link: VehicleLink | None = None,
                   clock: Callable[[], float] = time.time, corridor: Corridor | None = None,
                   standby: StandbyDuty | None = None) -> Services:
    """Open the store, load the map, check the fleet against it and wire everything; nothing runs until
    :meth:`Services.start`. ``link`` replaces the configured vehicle link (tests bring their own);
    ``corridor``: the map of ``settings.map`` already loaded (the simulator's sweep loads it once). With
    ``store.election`` it first waits to lead, doing ``standby`` meanwhile (until the services are built).

    Raises :class:`ConfigError` (naming the field) for a fleet the map cannot hold, ``MapError`` for a bad map,
    ``StoreError`` for a store that cannot be opened.
    """
    corridor = corridor or load_corridor(settings.map)
    fleet = configured_fleet(settings.fleet, corridor)
    with ExitStack() as stack:
        store = Store(settings.store.location, busy_timeout_s=settings.store.busy_timeout_s)
        stack.callback(store.close)
        leadership, standing = None, ExitStack()
        stack.enter_context(standing)
        if settings.store.election is not None:
            leadership, won = _campaign(store, settings.store.election)
            stack.callback(leadership.stop)
            if standby is not None:
                standing.enter_context(standby(store, leadership, corridor))
            won.wait()
        bus = EventBus()
        security = settings.customs.link_security()
        if security is None:
            log.warning("customs.fleet keys not configured: the ZeroMQ link is NOT encrypted, authenticated or signed")
        else:
            stack.callback(start_authenticator(zmq.Context.instance(), security.clients).stop)
        with _binding("customs.zmq.pub", settings.customs.zmq.pub):
            publisher = ZmqPublisher(settings.customs.zmq.pub, security=security)
        stack.callback(publisher.close)
        stack.callback(bus.subscribe(publisher.publish, CUSTOMS_TOPICS))
        checkpoint = settings.customs.checkpoint
        gate = CustomsGate(settings.customs.gate_authorities(), store, settings.customs.link_timeout_s, clock=clock,
                           publish=bus.publish, signing_key=security.signing_key if security else None,
                           checkpoint_every=(checkpoint.every_records, checkpoint.every_s),
                           snapshot_every=(settings.customs.snapshot.every_events, settings.customs.snapshot.every_s),
                           previous_fleet_keys=settings.customs.fleet.previous_keys() if settings.customs.fleet else ())
        # bound here, not on start: one in use is refused before anything runs (xborder serve starts the services
        # in its API server's startup, where a refusal was a traceback)
        with _binding("customs.zmq.router", settings.customs.zmq.router):
            ingest = ZmqIngestServer(gate, settings.customs.zmq.router, security=security)
        stack.callback(ingest.close)
        registry = VehicleRegistry(store)
        registry.configure(fleet)
        background: list[_Background] = []
        if link is None:
            link = _vehicle_link(settings.fleet, fleet, corridor, clock, stack, background)
        orders = OrderService(store, corridor, bus, clock, customs_direction=gate.direction_of)
        alarms, staff = AlarmService(store, bus, clock), StaffLog(store, clock)
        dispatcher = Dispatcher(corridor=corridor, store=store, orders=orders, registry=registry, gate=gate,
                                link=link, alarms=alarms, bus=bus, staff=staff, clock=clock,
                                settings=settings.fleet.dispatch)
        if hasattr(link, "on_state"):
            link.on_state = lambda _vehicle_id: dispatcher.wake()  # a vehicle's news wakes the loop, nothing more
        if leadership is not None and settings.store.election is not None:  # for the standby's reads
            leader = leadership
            background.append(ViewsWriter(store, dispatcher, lambda: leader.epoch, settings.store.election.views_s,
                                          clock))
        standing.close()  # built: the standby's duty ends, the leader's starts
        return Services(settings, clock, store, bus, corridor, gate, orders, alarms, registry, staff,
                        link, dispatcher, publisher, ingest, security, leadership=leadership,
                        _background=[*background, dispatcher], _stack=stack.pop_all())


def _campaign(store: Store, election: ElectionConfig) -> tuple[Leadership, threading.Event]:
    """Campaign for the leadership; the event is set once this process leads, and the caller then builds on
    the store as it is (the gate replays what the previous leader committed). Losing the leadership later
    ends the process at once (fail-stop: a supervisor restarts it as a standby): nothing goes on acting on
    state another leader now owns, and the deposed process's writes in flight are refused by the fencing
    check anyway."""
    won = threading.Event()

    def changed(leading: bool) -> None:
        if leading:
            won.set()
        elif won.is_set():
            log.critical("%s lost the leadership: stopping at once (a supervisor restarts it as a standby)",
                         election.node)
            logging.shutdown()
            os._exit(STEPPED_DOWN_EXIT)

    leadership = Leadership(store, election.node, on_change=changed, poll_s=election.poll_s,
                            lease_s=election.lease_s).start()
    holder = leadership.current()
    log.warning("%s is a standby%s: waiting for the leadership", election.node,
                f" (the leader is {holder.holder}, epoch {holder.epoch})" if holder else "")
    return leadership, won


@contextmanager
def _binding(field_name: str, endpoint: str) -> Iterator[None]:
    """An endpoint that cannot be bound (in use, malformed) is a :class:`ConfigError` naming its field."""
    try:
        yield
    except zmq.ZMQError as exc:
        raise ConfigError(f"{field_name}: cannot bind {endpoint}: {exc}") from None


def configured_fleet(config: FleetConfig, corridor: Corridor) -> list[VehicleConfig]:
    """The configured vehicles (or the simulated fleet at the parking spots), each checked against the map."""
    if config.simulated:
        try:
            return parked_fleet(corridor, config.simulated)
        except ValueError as exc:
            raise ConfigError(f"fleet.simulated: {exc}") from None
    for i, vehicle in enumerate(config.vehicles):
        if vehicle.start_node not in corridor.nodes:
            raise ConfigError(f"fleet.vehicles.{i}.start_node: {vehicle.start_node!r} (vehicle {vehicle.id}) is "
                              f"not a node of the map {corridor.name}")
        if vehicle.home not in corridor.jurisdictions:
            raise ConfigError(f"fleet.vehicles.{i}.home: {vehicle.home!r} (vehicle {vehicle.id}) is not one of "
                              f"the map's sides {list(corridor.jurisdictions)}")
    return config.vehicles


def _vehicle_link(config: FleetConfig, fleet: list[VehicleConfig], corridor: Corridor,
                  clock: Callable[[], float], stack: ExitStack, background: list[_Background]) -> VehicleLink:
    if config.link in ("ros", "mqtt", "ros+mqtt"):
        links: list[VehicleLink] = []
        if "ros" in config.link:
            from fleet.vehicles.ros_bridge import RosFleetBridge  # rclpy loads only when the fleet speaks ROS

            bridge = RosFleetBridge(fleet_namespace=config.namespace, heartbeat_s=config.heartbeat_s)
            stack.callback(bridge.close)
            links.append(bridge)
        if "mqtt" in config.link:
            from fleet.vehicles.mqtt_link import MqttVehicleLink

            try:
                mqtt = MqttVehicleLink(config.mqtt.host, config.mqtt.port, config.mqtt.manufacturer,
                                       username=config.mqtt.username, password=config.mqtt.password(),
                                       tls_ca=str(config.mqtt.tls_ca) if config.mqtt.tls_ca else None)
            except VehicleLinkError as exc:
                raise ConfigError(f"fleet.mqtt: {exc}") from None
            stack.callback(mqtt.close)
            links.append(mqtt)
        return links[0] if len(links) == 1 else RoutedLink(links)
    link = InProcessLink(clock)
    for vehicle in fleet:
        node = corridor.nodes[vehicle.start_node]
        link.spawn(vehicle.id, node.x, node.y, corridor.heading_into(node.id), node.id)
    background.append(_Stepper(link, clock))
    return link


class _Stepper:
    """Steps an in-process fleet in real time on its own thread (``fleet.link: inprocess`` in a service)."""

    PERIOD_S = 0.1

    def __init__(self, link: InProcessLink, clock: Callable[[], float]) -> None:
        self.link, self.clock = link, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inprocess-vehicles", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        last = self.clock()
        while not self._stop.wait(self.PERIOD_S):
            now = self.clock()
            self.link.advance(now - last)
            last = now

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
