"""The dispatch loop: a fixed tick (2 Hz by default) and a wake-up on every event that matters.

Each tick: read every vehicle's state, follow progress (arrivals, the order's lifecycle, lateness), watch
health (offline, silent, faulted, e-stopped, low battery), assign waiting orders, plan, and release to each
vehicle what the precedence of the plans allows (:mod:`planner.schedule.release`). The crossing lane is
released only to a vehicle standing at the last node before it, when the customs gate allows that vehicle,
that direction and the consignments aboard at that moment; a release the vehicle has not yet used is taken
back when clearance is lost (docs/operations.md). An order is ``cleared`` from the release past its gate (or
across) on an allowing gate decision to the border line, unless its clearance is lost before its vehicle sets
off across.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from agv_agent.protocol import (
    MAP_ID,
    ActionState,
    ActionStatus,
    ActionType,
    Factsheet,
    InstantAction,
    OrderNode,
    VehicleState,
)
from agv_agent.tracker import distance

from fleet.alarms import AlarmKind, AlarmService
from fleet.customs.clearance import GateDecision, Status
from fleet.customs.gate import CustomsGate
from fleet.dispatch.border_watch import (
    OffTheMap,
    PastItsBase,
    UnreleasedCrossing,
    crosses,
    elsewhere,
    sighting,
    unplaced,
)
from fleet.dispatch.laps import Laps
from fleet.dispatch.off_way import between_nodes, set_down_at, stands_on
from fleet.dispatch.relay import Relay, orders_to_give_out
from fleet.dispatch.settings import DispatchSettings
from fleet.dispatch.snapshot import JsonView, Snapshot
from fleet.dispatch.steps import (
    base_end,
    base_end_at,
    believed_released,
    bound_for_gate,
    bound_for_pickup,
    custody_arrival,
    gates_before,
    handling_state,
    has_left,
    held_order,
    holds_what_was_sent,
    inbound_gates,
    is_free,
    lost_its_order,
    node_actions,
    nodes_before_crossing,
    order_refusals,
    pickup_step,
    refused_what_was_sent,
    released_way,
    reported_base_end_step,
    reported_step,
    reports_unreleased_node,
    standing_past,
    step_action_id,
    vehicle_view,
    view_key,
    waiting_at_gate,
    waiting_before_crossing,
    way_reported_to_plan,
    ways_out,
)
from fleet.dispatch.tracks import Job, JobKind, QuietTrack, ReleaseWait, RestingTrack, Track
from fleet.dispatch.vda import OrderContent, vda_order
from fleet.dispatch.vda_writer import VdaOrderWriter
from fleet.dispatch.views import GateView, VehicleAction, VehicleView, WaitingVehicle
from fleet.dispatch.waiting import FleetNow, WaitingOrder, waiting_order
from fleet.dispatch.yards import room_left, within_gate_capacity
from fleet.events import EventBus, Topic
from fleet.orders import ACTIVE_STATES, Move, OrderError, OrderPublic, OrderService, OrderState
from fleet.orders.model import LOADED_STATES, NOT_YET_CLEARED, SHORT_OF_THE_LINE, TRANSITIONS, moment_in_words
from fleet.staff import StaffLog
from fleet.store import AuditKind, Store, StoreError
from fleet.store.schema import gate_holds
from fleet.vehicles.link import VehicleLink, VehicleSnapshot
from fleet.vehicles.registry import HeldLoad, SentOrder, VehicleRegistry
from planner.assignment import (
    EnergyModel,
    Reason,
    TransportOrder,
    TravelTimes,
    Trip,
    VehicleStatus,
    Weights,
    assign_online,
    chargers_only,
)
from planner.corridor import BORDER_LINE_KINDS, WAITING_KINDS, Corridor, Node, NodeKind
from planner.exceptions import PlanInterrupted, PlannerError
from planner.routing import VehicleProfile
from planner.schedule import INF, FleetPlan, FleetPlanner, FollowingRules, PlanRequest, Step, Stop, TimedPlan
from planner.schedule.handoff import CUSTODY, plan_relay
from planner.schedule.precedence import Waits, release_waits
from planner.schedule.release import Progress, release_limit

log = logging.getLogger(__name__)

#: A vehicle this close to the last node before the crossing has not set off across yet: a release it has
#: there can still be taken back.
TAKE_BACK_RADIUS_M = 1.0
#: A vehicle the planner could not get through (someone in its way for now) is planned again this much later.
RETRY_PLAN_S = 5.0
#: A vehicle stalled without a break for this long makes the whole fleet be planned again (at most this often).
FULL_REPLAN_AFTER_S = 30.0
#: On the loop's thread, a full plan of the fleet (up to a second for 200 vehicles) gives way to customs news that lets
#: a vehicle waiting at its gate go: it is dropped, the vehicle released by the next tick and the full plan tried
#: again after it; but at most this many times in a row, the next one runs to its end whatever comes (clearances
#: every second must not starve it).
FULL_PLAN_YIELDS_MAX = 3
#: A vehicle that shows no sign of an order sent this long ago gets it again.
RESEND_AFTER_S = 3.0
#: A vehicle's view goes out on the bus (Topic.VEHICLE) at most this often, and only when it changed.
VEHICLE_PUBLISH_S = 0.5
#: With no customs news, the vehicles waiting at a gate are checked against the gate rule this often.
GATE_RECHECK_S = 1.0
#: With nothing new (no order waiting anew, no vehicle newly free), an assignment is tried again this often.
ASSIGN_RETRY_S = 5.0
#: An assignment reads this many times ``assign_max_orders`` waiting orders, so that those customs keeps (under
#: inspection, held) do not hide the ones behind them.
WAITING_LOOKAHEAD = 4
#: Customs statuses (either side) that keep a container in the yard: not assigned to a vehicle meanwhile.
KEPT_BY_CUSTOMS = frozenset({Status.INSPECTION, Status.HOLD, Status.REVOKED})
#: Metres a vehicle must go to count as moving (``Dispatcher._watch_standstill``): a standing one's position
#: jitters by centimetres.
MOVED_M = 1.0
#: Orders past their latest delivery are looked for this often (loop seconds): each raises one alarm, once.
OVERDUE_CHECK_S = 30.0
#: A vehicle that has published no factsheet is asked for it (VDA 5050 factsheetRequest) at most this often: a
#: request sent before the vehicle's subscription was matched is lost, and until the factsheet comes the vehicle
#: takes no order (at a busy start the demo's vehicles waited 30 s for the second request).
FACTSHEET_ASK_S = 5.0
#: ... and once it has gone this long without one while orders wait, an operator is told (it takes none, and
#: stands where it is: of a size unknown, it is not sent driving)
FACTSHEET_ALARM_S = 60.0
#: An authority first heard from this long ago (loop seconds) has sent its first burst of vehicle authorizations:
#: its silence about a vehicle is then a refusal, not a word still to come (a simulator sends them one at a time)
AUTHORIZATIONS_SETTLE_S = 10.0
#: A vehicle standing idle farther than this from the node it last reached is off its way (metres; a vehicle
#: stops within its arrival tolerance of a node, well under a metre)
OFF_ITS_WAY_M = 5.0
#: The vehicle link in trouble (its MQTT broker lost or refusing the fleet, the ROS 2 bridge stopped) this long
#: (loop seconds): an operator is told; a broker that restarts comes back within it
VEHICLE_LINK_GRACE_S = 10.0
VEHICLE_LINK = "vehicle link"  # the subject of its alarm
#: Where a loaded vehicle that can go neither on nor to its goal waits (:meth:`Dispatcher._bays_on_the_way`): bays
#: on a route at most this many times the fastest.
BAY_KINDS = (NodeKind.HOLDING, NodeKind.INSPECTION)
BAY_DETOUR = 1.5
#: A loaded vehicle standing at one of these waits there rather than drive to a bay: it blocks no lane or dock.
HARMLESS_WAITS = frozenset({NodeKind.PARKING, NodeKind.CHARGER, NodeKind.HOLDING, NodeKind.INSPECTION})
#: an order its vehicle has still to load: the vehicle drives empty
PICKUP_STATES = frozenset({OrderState.CREATED, OrderState.ASSIGNED, OrderState.TO_PICKUP})
#: A tick longer than this is logged with the time each of its phases took.
SLOW_TICK_S = 0.2
#: On the loop's thread, a tick starts no assignment round and no further replan once it has run this long
#: (wall clock); they carry over to the next tick (docs/operations.md, "Measured load").
TICK_BUDGET_S = 0.08
#: ... but an assignment round waits no longer than this for a tick with time left.
ASSIGN_DEFER_MAX_S = 1.0
#: The node actions every transport order needs of its vehicle.
ORDER_ACTIONS = frozenset({ActionType.PICK, ActionType.DROP})
#: A factsheet's top speed this close below a lane's limit counts as the limit (vendors round their speeds).
SPEED_ROUNDING = 0.01


class Dispatcher:
    def __init__(self, *, corridor: Corridor, store: Store, orders: OrderService, registry: VehicleRegistry,
                 gate: CustomsGate, link: VehicleLink, alarms: AlarmService, bus: EventBus, staff: StaffLog,
                 clock: Callable[[], float] = time.time, settings: DispatchSettings = DispatchSettings()) -> None:
        self.corridor, self.store, self.orders, self.registry = corridor, store, orders, registry
        self.gate, self.link, self.alarms, self.bus, self.staff, self.clock, self.settings = (
            gate, link, alarms, bus, staff, clock, settings)
        self.planner = FleetPlanner(corridor.graph, FollowingRules.from_parameters(corridor.parameters))
        self.relay = Relay.of(corridor)
        #: the gates on the way in from across: nobody waits there (findings 9 and 13)
        out = ways_out(corridor, self.planner.timed.on_the_line) if self.relay is None else frozenset()
        self._inbound_gates = self.relay.inbound_gates if self.relay is not None else inbound_gates(corridor, out)
        self._gates = frozenset(n.id for n in corridor.nodes_of(NodeKind.GATE))
        #: each side's gates a loaded vehicle waits at for its clearance (gate -> side)
        self._outbound_gates = {n.id: n.jurisdiction for n in corridor.nodes_of(NodeKind.GATE)
                                if n.id not in self._inbound_gates}
        #: each side's arrival gates (gate -> side), which an operator's hold closes
        self._arrival_gates = {g: corridor.nodes[g].jurisdiction for g in self._inbound_gates}
        #: through operation: each side's outbound gate lanes (how many loads it may have before them: _assign)
        self._gate_lanes = {side: sum(1 for s in self._outbound_gates.values() if s == side)
                            for side in corridor.jurisdictions}
        #: through operation: each side's yard, all of it but its ways out (a cleared vehicle past them never
        #: comes back into it, see _loaded_profile)
        self._yards = {side: frozenset(n.id for n in corridor.nodes.values() if n.jurisdiction == side
                                       and n.id not in out) for side in corridor.jurisdictions} if out else {}
        self._travel = TravelTimes(corridor.graph)  # kept between assignments: each source is searched once
        self._ways: dict[tuple[str, str, tuple[str, ...], float], tuple[str, ...]] = {}  # _on_the_way's answers
        self._fastest: dict[str, Mapping[str, tuple[float, float]]] = {}  # _fastest_from's answers
        self._weights = Weights()
        self.epoch = clock()
        self.tracks: dict[str, Track] = {}
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._urgent = threading.Event()  # customs or gate news: a tick at once, not after the rest of 50 ms
        #: the loop's thread bounds each tick's optional work by this (wall clock) time: see _over_budget
        self._deadline: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._dependencies = Waits()
        self._release_waits: dict[str, ReleaseWait] = {}  # vehicles found waiting on another's event (_release_all)
        self._plans_changed = True
        self._planned_once = False
        self._last_full_replan = -INF
        self._full_plan_yields = 0  # full plans dropped in a row for a clearance (FULL_PLAN_YIELDS_MAX)
        self._link_trouble_since: float | None = None  # loop time the vehicle link's trouble began
        #: customs or gate events so far: a full plan under way looks at the gates again only after new ones
        self._customs_events = 0
        self._gate_holds: dict[str, str] = {}
        #: vehicle -> the decision that released it across with nothing aboard, until it is across (_arrived)
        self._empty_crossings: dict[str, GateDecision] = {}
        self._unsaved: set[str] = set()  # vehicles whose VDA order ids are written at the end of the tick
        self._moves: list[Move] = []  # order transitions made in this tick, written at its end (_write_moves)
        #: writes them behind the loop when it runs on its thread; a caller driving ``tick()`` writes them itself
        self._writer: VdaOrderWriter | None = None
        self._clearance_news = True  # a customs event since the gate-waiting vehicles were last asked about
        self._orders_news = True  # an order was created or went back to waiting since the last assignment
        self._last_gate_check = self._last_assign = self._last_overdue_check = -INF
        #: (service clock) the orders due before it were looked at for overdue; None: none yet (since the start)
        self._overdue_read_to: float | None = None
        self._free_before: set[str] = set()
        #: the free vehicles the last assignment round offered work to (those it could give an order), each with the
        #: plan it stood at the end of: only they are sent off to park when idle at a dock or a gate, still at the
        #: end of that plan (_replan_pending), never one whose round was put off by a busy tick
        self._offered: dict[str, TimedPlan | None] = {}
        #: when each customs authority was first heard from (loop clock), noted by _watch_customs_links until every
        #: one was AUTHORIZATIONS_SETTLE_S ago (_authorization_pending)
        self._first_heard: dict[str, float] = {}
        self._authorities_settled = False
        #: what each vehicle's factsheet says for its work, read once per factsheet (_capabilities: every free
        #: vehicle at every assignment round)
        self._sheets_read: dict[str, _SheetRead] = {}
        #: where each resting vehicle's base ends (``base_end``), noted as it comes to rest (``_rest``), for the
        #: assignment (every free vehicle at every round). True for as long as the track rests: ``base_end`` reads
        #: only the track and the map, and any change to a resting track wakes it; read for resting tracks only
        self._resting_at: dict[str, str] = {}
        self._left_out: Mapping[str, Reason] = {}  # the last assignment round's orders not given out, with why
        self._published: dict[str, tuple[float, tuple[Any, ...]]] = {}  # vehicle -> (when, what its view showed)
        #: The tracks as the last tick left them (copies), which the API reads without waiting for a tick to end.
        #: Kept by the loop's thread only: a caller driving ``tick()`` itself gets a snapshot taken under the lock.
        self._seen: Snapshot | None = None
        #: Set each time ``_seen`` is replaced: the read workers' channel sends the views (fleet/api/read_channel.py)
        self.views_changed = threading.Event()
        self.tick_seconds: deque[float] = deque(maxlen=1000)
        self.planner_seconds: deque[float] = deque(maxlen=1000)
        #: Called with every tick's duration (the metrics keep a cumulative histogram of them).
        self.tick_listeners: list[Callable[[float], None]] = []
        #: Called with the seconds from customs or gate news that let a vehicle waiting at its gate go to the update
        #: that releases it past the gate (the metrics keep a histogram of them)
        self.clearance_listeners: list[Callable[[float], None]] = []
        self._news_since: float | None = None  # (perf_counter) the first customs or gate news not yet looked at
        self._cleared_since: dict[str, float] = {}  # vehicle cleared at its gate -> that news, until its release
        self._pre_crossing = nodes_before_crossing(corridor)
        #: each last node before the crossing -> the outbound gates leading to it (one waiting there is in their queue)
        self._gates_before = gates_before(corridor, self._pre_crossing, self._outbound_gates)
        #: relay: per side, the last nodes before the pad, where a loaded vehicle past its gates waits for a partner
        self._relay_waits = {side: tuple(sorted(n for n in self._pre_crossing if corridor.nodes[n].jurisdiction
                                                == side and self.relay is not None
                                                and corridor.graph.has_edge(n, self.relay.pad)))
                             for side in corridor.jurisdictions}
        rules = self.planner.timed.rules
        self._clear_m = rules.vehicle_length_m + rules.standstill_gap_m  # a vehicle this far on has left its node
        self._top_speed = max(lane.max_speed for lane in corridor.lanes.values())  # the map's fastest lane
        #: where a vehicle with no job stays (anywhere else it is given a place to park)
        self._rests = frozenset(n.id for n in corridor.nodes_of(NodeKind.PARKING, NodeKind.CHARGER))
        self._load()
        bus.subscribe(self._on_event, topics=(Topic.CLEARANCE, Topic.AUTHORIZATION, Topic.ORDER, Topic.GATE))

    # --- life ---------------------------------------------------------------------------------------------------

    def _load(self) -> None:
        for record in self.registry.all():
            profile = VehicleProfile(cross_border=True) if record.may_cross and self.relay is None else \
                VehicleProfile(cross_border=False, home=record.home)  # relay: every vehicle stays on its side
            self.tracks[record.id] = Track(record, profile, vda_order_id=record.vda_order_id,
                                           update_id=record.vda_update_id)
            self.link.add_vehicle(record.id)
        with self.store.reading() as conn:
            self._gate_holds = {r.gate: r.reason for r in conn.execute(gate_holds.select())}
        for order in self.orders.active():
            track = self.tracks.get(order.vehicle_id or "")
            if track is None or order.state == OrderState.CREATED or self._one_order_each(track, order):
                continue
            track.job = self._delivery(order)
            self._meet_again(track, order)
        for track in self.tracks.values():
            if (held := track.record.held_load) is not None:
                track.job = _holding(held)

    def _one_order_each(self, track: Track, order: OrderPublic) -> bool:
        """At a start, a second active order on a vehicle with a job already (a store written by a version that
        could lose a tick's transitions: the vehicle was given another order while the store kept the first on
        it, which then never moved again): the vehicle keeps the loaded one, or else the one it was last sent,
        and the other goes back to waiting for a vehicle. Whether ``order`` was dealt with here."""
        job = track.job
        if job is None or job.order is None:
            return False
        other = job.order
        loaded = [o for o in (other, order) if o.state not in PICKUP_STATES]
        if len(loaded) == 2:
            log.error("%s carries %s and %s, both loaded as the store says: following %s only", track.id, other.id,
                      order.id, other.id)
            return True
        keep = loaded[0] if loaded else order if track.record.order_id == order.id else other
        given_back = order if keep is other else other
        log.warning("%s has two active orders, %s and %s: it keeps %s, %s waits for a vehicle again", track.id,
                    other.id, order.id, keep.id, given_back.id)
        self.orders.transition(given_back.id, OrderState.CREATED, f"{track.id} carries {keep.id}: to be re-assigned",
                               {"kind": "system", "vehicle_id": track.id})
        if keep is order:
            track.job = self._delivery(order)
            self._meet_again(track, order)
        return True

    def _meet_again(self, deliverer: Track, order: OrderPublic) -> None:
        """Relay, at a restart: an order not yet handed over whose receiver was chosen (the registry keeps the
        transport order each vehicle was last sent) gets its meeting at the pad back, with each vehicle's last
        gate decision that let it onto the pad with this load."""
        if self.relay is None or order.state == OrderState.TO_DROP:
            return
        receiver = next((tr for tr in self.tracks.values() if tr.record.order_id == order.id
                         and tr.id != deliverer.id), None)
        if receiver is None:
            return
        log.info("relay of %s: %s meets %s again at %s (restart)", order.id, deliverer.id, receiver.id,
                 self.relay.pad)
        self._set_meeting(deliverer, receiver, order)
        for track in (deliverer, receiver):
            track.crossing_decision_seq = self._recorded_decision(track.id, order.consignments)

    def _recorded_decision(self, vehicle_id: str, consignments: list[str]) -> int | None:
        """The audit seq of the last gate decision that let this vehicle across with this load: after a restart
        the decision was taken by the process before."""
        decision = self.store.latest_audit(AuditKind.DECISION, lambda body: body.get("vehicle_id") == vehicle_id
                                           and bool(body.get("crossing_allowed"))
                                           and body.get("consignments") == consignments)
        return decision.seq if decision is not None else None

    def _set_meeting(self, deliverer: Track, receiver: Track, order: OrderPublic) -> None:
        """The jobs of a relay meeting: the deliverer hands the load over at the pad and goes home, the
        receiver takes it on to the drop."""
        source = order.source
        deliverer.job = Job(JobKind.HAND_OVER, self._parking(source), order, cleared=True, partner=receiver.id)
        receiver.job = Job(JobKind.DELIVER, (order.drop,), order, cleared=True, crossed=True, partner=deliverer.id)

    def start(self) -> Dispatcher:
        self._writer = VdaOrderWriter(self.registry).start()
        self._thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._writer is not None:
            self._writer.stop()

    def wake(self) -> None:
        self._wake.set()

    def _on_event(self, topic: str, message: dict[str, Any]) -> None:
        """Note what the news is about (so that a tick looks only at what it may change), then wake the loop."""
        if topic == Topic.ORDER:
            if message.get("to") in (OrderState.CREATED, OrderState.CANCELLED):
                self._orders_news = True
        else:
            if self._news_since is None:
                self._news_since = time.perf_counter()
            self._clearance_news = True
            self._customs_events += 1
            self._urgent.set()
        self.wake()

    def _run(self) -> None:
        period = 1.0 / self.settings.tick_hz
        while not self._stop.is_set():
            self._wake.wait(period)
            self._wake.clear()
            self._urgent.clear()
            began = time.perf_counter()
            self._deadline = began + TICK_BUDGET_S
            try:
                self.tick()
            except Exception:  # the loop must outlive a bug in one tick; the next tick starts from the states
                log.exception("dispatch tick failed")
            with self._lock:
                self._seen = self._take_snapshot()
            self.views_changed.set()
            # at most 20 ticks a second, however many wake-ups: the rest of 50 ms since the tick began; customs or
            # gate news cuts it short (a clearance waited for it, bench_fleet)
            self._urgent.wait(max(0.0, 0.05 - (time.perf_counter() - began)))

    def _over_budget(self) -> bool:
        """On the loop's thread, the tick has spent its ``TICK_BUDGET_S``: optional work (an assignment round, more
        replans) waits for the next tick. A caller driving ``tick()`` itself (the simulator's fast mode, tests)
        sets no deadline: its ticks do the same work whatever the machine's speed, so that they stay
        deterministic."""
        return self._deadline is not None and time.perf_counter() > self._deadline

    def now(self) -> float:
        """Seconds on the planner's clock (since this dispatcher started)."""
        return self.clock() - self.epoch

    # --- the tick -------------------------------------------------------------------------------------------------

    def tick(self) -> None:
        """One round. Callable without the thread (the simulator's fast mode drives it on simulated time).

        What a vehicle waiting at a gate needs once its clearance came is done first and released at once; the
        rest of the planning is bounded (one assignment round, ``replans_per_tick``) and carries over."""
        started = time.perf_counter()
        laps = Laps(started)
        with self._lock, self.store.urgent():  # its writes go before the API's waiting ones (a vehicle waits on them)
            t = self.now()
            self.link.heartbeat()  # the vehicles' fleet link lives while this loop ticks
            try:
                self._round(t, laps)
            finally:
                self._write_moves()
                laps.lap("write transitions")
                self._save_unsaved()
                self._publish_vehicles(t)
                laps.lap("publish")
        elapsed = time.perf_counter() - started
        if elapsed > SLOW_TICK_S:
            log.info("slow dispatch tick, %.0f ms: %s", elapsed * 1000, laps)
        self.tick_seconds.append(elapsed)
        for listener in self.tick_listeners:
            listener(elapsed)

    def _round(self, t: float, laps: Laps) -> None:
        self._watch_customs_links()
        self._watch_vehicle_link(t)
        self._watch_overdue(t)
        if self._planned_once and self.relay is None and self._release_cleared(t):
            # the update past the gate goes out first, from the states the last tick saw (they show the vehicle
            # at its gate): this tick's observing writes order transitions, each waiting for the store
            laps.lap("cleared")
        changed = self.link.changed_vehicles()
        for track in self.tracks.values():
            if track.__class__ is RestingTrack and changed is not None and track.id not in changed:
                continue
            seen = self.link.snapshot(track.id)
            if not self._still_quiet(track, seen, t):
                self._observe(track, seen, t)
                self._unclear_if_lost(track)
                self._take_back_if_uncleared(track, t)
                track.quiet = self._quiet_key(track, seen)
                if track.quiet is not None and track.job is not None:
                    object.__setattr__(track, "__class__", QuietTrack)
            if changed is not None:
                self._rest(track)
        laps.lap("observe")
        if not self._planned_once:
            if not self._ready_to_plan():
                return
            self._plan_everyone(t)
            laps.lap("full plan")
        if self.relay is not None:
            self._follow_meetings(t, self.relay)
        self._release_cleared(t)  # the update past the gate goes out before any other planning
        laps.lap("cleared")
        self._assign(t)
        laps.lap("assign")
        if self._release_cleared(t, news_only=True):  # news that came during the assignment: not a tick later
            laps.lap("cleared")
        self._replan_pending(t)
        laps.lap("replan")
        self._release_cleared(t, news_only=True)
        self._release_all(t)
        laps.lap("release")

    def _publish_vehicles(self, t: float) -> None:
        """Each vehicle's view on the bus when it changed (but for the age of its state), at most every
        ``VEHICLE_PUBLISH_S``: the stream pushes these. Nothing at all while nobody listens (a simulation)."""
        if not self.bus.listened(Topic.VEHICLE):
            return
        for track in self.tracks.values():
            sent = self._published.get(track.id)
            if sent is not None and t - sent[0] < VEHICLE_PUBLISH_S:
                continue
            shown = view_key(track)
            if sent is not None and sent[1] == shown:
                continue
            self._published[track.id] = (t, shown)
            self.bus.publish(Topic.VEHICLE, vehicle_view(track).model_dump(mode="json"))

    def _watch_overdue(self, t: float) -> None:
        """An order not finished by its latest delivery: one alarm, raised once (not again once acknowledged)."""
        if t - self._last_overdue_check < OVERDUE_CHECK_S:
            return
        self._last_overdue_check, now = t, self.clock()
        # each look reads the orders that fell due since the last one, so each is seen once; the first (since the
        # start) reads all, some of which a process before this one raised the alarm for
        told = self.alarms.subjects(AlarmKind.ORDER_OVERDUE) if self._overdue_read_to is None else set()
        found, self._overdue_read_to = self.orders.overdue(now, since=self._overdue_read_to), now
        for order in found:
            if order.id in told or order.latest_delivery is None:
                continue
            late_min = (now - order.latest_delivery) / 60
            self.alarms.raise_alarm(
                AlarmKind.ORDER_OVERDUE, order.id,
                f"{order.id} ({order.direction}) is past its latest delivery, "
                f"{moment_in_words(order.latest_delivery)}, by {late_min:.0f} min: {order.state}"
                + (f" on {order.vehicle_id}" if order.vehicle_id else ""),
                {"order_id": order.id, "latest_delivery": order.latest_delivery, "state": str(order.state),
                 "vehicle_id": order.vehicle_id})

    def _watch_customs_links(self) -> None:
        """An authority silent for longer than the link timeout: every crossing is refused until it is back. One
        never heard since this process started counts from its start: `xborder serve` with no customs simulator
        showed both links down in the summary, but raised no alarm, and no order was ever carried. And when each
        was first heard from, until every one has been for ``AUTHORIZATIONS_SETTLE_S`` (_authorization_pending)."""
        ages = self.gate.link_ages()
        if not self._authorities_settled:
            now = self.now()
            for authority, age in ages.items():
                if age is not None:
                    self._first_heard.setdefault(authority, now - max(age, 0.0))
            self._authorities_settled = len(self._first_heard) == len(ages) \
                and all(now - heard >= AUTHORIZATIONS_SETTLE_S for heard in self._first_heard.values())
        for authority, age in ages.items():
            if age is None and self.now() > self.gate.link_timeout_s:
                self.alarms.raise_alarm(AlarmKind.CUSTOMS_LINK_DOWN, authority,
                                        f"never heard from {authority} since the fleet manager started: crossings "
                                        "refused")
            elif age is not None and age > self.gate.link_timeout_s:
                self.alarms.raise_alarm(AlarmKind.CUSTOMS_LINK_DOWN, authority,
                                        f"no event or heartbeat from {authority} for {age:.0f} s: crossings refused")
            elif age is not None:
                self.alarms.clear(AlarmKind.CUSTOMS_LINK_DOWN, authority)

    def _watch_vehicle_link(self, t: float) -> None:
        """The vehicle link in trouble for ``VEHICLE_LINK_GRACE_S``: one alarm that says what (a lost or refusing
        MQTT broker showed only as every vehicle on it falling silent, one alarm each, none naming the cause)."""
        trouble = self.link.trouble()
        if trouble is None:
            if self._link_trouble_since is not None:
                log.info("vehicle link working again")
            self._link_trouble_since = None
            self.alarms.clear(AlarmKind.VEHICLE_LINK_TROUBLE, VEHICLE_LINK)
            return
        if self._link_trouble_since is None:
            log.warning("vehicle link: %s", trouble)
            self._link_trouble_since = t
        elif t - self._link_trouble_since >= VEHICLE_LINK_GRACE_S:
            self.alarms.raise_alarm(AlarmKind.VEHICLE_LINK_TROUBLE, VEHICLE_LINK,
                                    f"the fleet's vehicle link, for {t - self._link_trouble_since:.0f} s: {trouble}",
                                    {"trouble": trouble})

    def _ready_to_plan(self) -> bool:
        """The first plan waits for every vehicle in service to report where it is (a restart re-syncs); one that
        says it does not know yet (starting up) is waited for too."""
        waiting = [t.id for t in self.tracks.values() if t.record.in_service
                   and (t.state is None or not t.state.position_initialized)]
        return not waiting or self.now() > self.settings.silent_after_s

    # --- observing vehicles -----------------------------------------------------------------------------------

    def _quiet_key(self, track: Track, seen: VehicleSnapshot) -> tuple[Any, ...] | None:
        """After observing a vehicle: what must stay as it is for the next look at it to do nothing (the same
        snapshot, the same record, order and update sent), or None when a next look may do something whatever
        stays the same. Nothing to do: a healthy vehicle with no job, on our order and having taken its last
        update, short of the crossing (no take-back to check), whose battery raises no alarm. Such a look
        depends on nothing that time alone changes; most of a busy day's 200 vehicles are parked like this, and
        looking at each at every tick was the loop's largest cost after planning. A vehicle with a job:
        ``_busy_quiet_key``."""
        if track.job is not None:
            return self._busy_quiet_key(track, seen)
        state = seen.state
        if state is None or track.unavailable is not None \
                or (track.vda_order_id and state.order_id != track.vda_order_id) \
                or state.order_update_id < track.update_id or state.last_node_id in self._pre_crossing \
                or self._battery_low(state):
            return None
        return seen, track.record, track.vda_order_id, track.update_id

    def _busy_quiet_key(self, track: Track, seen: VehicleSnapshot) -> tuple[Any, ...] | None:
        """``_quiet_key`` of a vehicle with a job: its snapshot, until when, and its job's order and what the job
        knows (the track itself is a :class:`QuietTrack`, woken by any change). A next look would do nothing while
        they stay: a vehicle on its way, on our order, having taken its last update, online, localised, in dispatch,
        short of the last node before the crossing and of a cleared order's take-back, with no cancel under way,
        whose battery raises no alarm. What time alone changes then is one clock: its standstill's
        (``_watch_standstill``), the time given. Not in relay mode (its meetings are followed from the looks). Most
        of a busy day's looks at vehicles with a job (nineteen in twenty) saw no new state and did nothing."""
        state, job = seen.state, track.job
        assert job is not None
        if state is None or self.relay is not None or not self._planned_once or track.unavailable is not None \
                or track.plan is None or track.cancel_sent is not None or track.untaken_since is not None \
                or seen.connection != "ONLINE" or not state.position_initialized or not holds_what_was_sent(track) \
                or state.last_node_id in self._pre_crossing \
                or self._battery_low(state) or (job.order is not None and job.order.state == OrderState.CLEARED) \
                or job.kind == JobKind.CANCEL_PICK:
            return None
        until = track.should_drive_since + self.settings.still_after_s \
            if track.should_drive_since is not None and not track.stuck_still else INF
        return seen, until, job.order, job.cleared, job.crossed, job.aboard, job.held_at

    def _battery_low(self, state: VehicleState) -> bool:
        """The vehicle's battery is low and not charging: the low-battery alarm stands (raised, or to be)."""
        return state.battery_charge < self.settings.low_battery_percent and not state.charging

    @staticmethod
    def _still_quiet(track: Track, seen: VehicleSnapshot, t: float) -> bool:
        """Looking at the vehicle again would do nothing (``_quiet_key``): skipped."""
        quiet, job = track.quiet, track.job
        if quiet is None or quiet[0] is not seen:
            return False
        if job is None:
            return quiet[1] is track.record and quiet[2] == track.vda_order_id and quiet[3] == track.update_id
        return track.__class__ is QuietTrack and t <= quiet[1] and quiet[2] is job.order \
            and quiet[3:] == (job.cleared, job.crossed, job.aboard, job.held_at)

    def _rest(self, track: Track) -> None:
        """Let the vehicle rest (:class:`RestingTrack`) when each per-tick scan would do nothing with it for as long
        as its track and snapshot stay as they are: quiet (``_quiet_key``), online, in service, at the end of
        its plan at a parking spot or a charger, with no replan due and no stall. At rest, it is free to take
        an order and passed by every other scan (observing, replanning, releasing); only with a link that
        tells which snapshots changed (``VehicleLink.changed_vehicles``: the simulator's)."""
        plan = track.plan
        # (quiet first: most vehicles looked at have a job, and so no quiet key)
        if track.quiet is not None and is_free(track) and plan is not None and track.connection == "ONLINE" \
                and not track.needs_plan and track.stalled_since is None \
                and track.released == len(plan.steps) - 1 and plan.end in self._rests:
            if track.__class__ is not RestingTrack:
                self._resting_at[track.id] = base_end(self.corridor, track)
            object.__setattr__(track, "__class__", RestingTrack)  # (free by construction: the assignment counts on it)

    def _observe(self, track: Track, seen: VehicleSnapshot, t: float) -> None:
        state, track.state_age, track.connection, track.duplicate = seen
        news, track.state = state is not track.state, state
        if state is None:
            self._watch_health(track, t)
            return
        if track.placed_at is not None and state.last_node_id == track.placed_at:
            track.placed_at = None  # it took its new order where it was set down: its own last node says it now
        if state.order_id == track.vda_order_id and track.shown_order_id != state.order_id:
            track.shown_order_id = state.order_id
        if not holds_what_was_sent(track) and t - track.sent_at > RESEND_AFTER_S:
            self._see_to_what_was_sent(track, state, t)
        if news:
            self._watch_the_border(track, state)
            if track.plan is None:
                self._base_beyond_its_stored_way(track, state)
        if self._planned_once and track.plan is not None \
                and state.order_id == track.vda_order_id and (news or track.job is not None):
            self._follow(track, state, t)  # with a job, time alone may end a dwell (unloading)
        if track.job is not None and track.job.kind == JobKind.CANCEL_PICK:
            self._undo_the_pick(track, state, t)
        self._watch_health(track, t)
        self._watch_standstill(track, state, t)

    def _watch_the_border(self, track: Track, state: VehicleState) -> None:
        """Where the vehicle reports itself against the border (:mod:`fleet.dispatch.border_watch`). A position on a
        map other than the corridor's (VDA 5050 ``mapId``) is off the map: before, it was not judged, and a vehicle
        saying so crossed unseen. One it says is not known (a vehicle starting up, or lost) is judged only while it
        drives by the line: before, it was not judged at all. Its released way is what it reports of what the fleet
        released to it (``believed_released``: a base it claims beyond that is no release), or, when it reports none,
        what the fleet released to it: a vehicle restarted on the deck knows no order (its base is gone, the fleet's
        record of it is not) and was stopped as past its base, metres into the way released to it."""
        released = believed_released(track, state)
        found = unplaced(track.border, self.corridor, state.driving, released, state.last_node_id) \
            if not state.position_initialized else elsewhere(track.border) if state.map_id != MAP_ID \
            else sighting(track.border, self.corridor, state.pose.x, state.pose.y, released, state.last_node_id)
        if isinstance(found, UnreleasedCrossing):
            self._unreleased_crossing(track, state, found)
        elif isinstance(found, PastItsBase):
            self._past_its_base(track, state, found)
        elif found is not None:
            self._off_the_map(track, state, found)

    def _base_beyond_its_stored_way(self, track: Track, state: VehicleState) -> None:
        """Before its first plan after a restart of the fleet manager: a vehicle that reports, on the fleet's last
        order, nodes released to it off the way the fleet last released to it (``VehicleRecord.released_way``: a
        vendor's bug, a forged state, or an update the process before sent and died before storing) is not
        believed. Out of service with a ``vehicle_fault`` alarm until people have seen to it: planned from that
        base, it was believed released wherever the base went, across the border too. The border watch still
        judges it by the stored way (``believed_released``)."""
        record = track.record
        way = record.released_way
        if way is None or not record.in_service or not state.order_id or state.order_id != track.vda_order_id:
            return
        beyond = [n.node_id for n in state.node_states if n.released and n.node_id not in way]
        if not beyond:
            return
        why = (f"{track.id} reports its order {state.order_id} released to {', '.join(beyond)}, beyond the way last "
               f"released to it before the fleet manager restarted ({' -> '.join(way)}): not believed")
        log.warning("%s: out of service", why)
        self._set_service(track, False, why)
        self.alarms.raise_alarm(AlarmKind.VEHICLE_FAULT, track.id, f"{why}; out of service until people have seen "
                                "to it (put back in service, it is planned from the base it reports)",
                                {"beyond": beyond, "released_way": list(way)})

    def _unreleased_crossing(self, track: Track, state: VehicleState, found: UnreleasedCrossing) -> None:
        """A vehicle across the border or on its line with no crossing released to it: it is stopped (an
        emergency stop) and taken out of service until people have seen to it, the alarm goes to the console
        and both customs, and a vehicle across is recorded as a crossing without a decision."""
        where = "across the border" if found.across else "on the border line"
        why = (f"{track.id} seen {where} ({found.direction}, at {state.pose.x:.0f}, {state.pose.y:.0f}) with no "
               "crossing released to it")
        self._emergency_stop(track, why)
        job = track.job
        aboard = [] if job is None else list(job.order.consignments) \
            if job.order is not None and job.order.state in LOADED_STATES else list(job.aboard)
        if found.across:
            self.gate.record_crossing(track.id, found.direction, aboard, None, released=False)
        self.alarms.raise_alarm(AlarmKind.UNRELEASED_CROSSING, track.id, f"{why}: emergency stop sent, out of "
                                "service", {"direction": found.direction, "across": found.across,
                                            "consignments": aboard, "last_node": state.last_node_id})

    def _past_its_base(self, track: Track, state: VehicleState, found: PastItsBase) -> None:
        """A vehicle by the border line, short of it, past its released base towards it: stopped before it reaches
        the line, and taken out of service as one across would be (it may be a vehicle that ignores its releases,
        one report from the line)."""
        base = "it has none on the map" if found.base_to_line_m == INF else f"{found.base_to_line_m:.0f} m"
        why = (f"{track.id} seen {found.to_line_m:.0f} m from the border line on the {found.side} side, past its "
               f"released base towards it (the nearest its way goes: {base}; at {state.pose.x:.0f}, "
               f"{state.pose.y:.0f})")
        self._emergency_stop(track, why)
        self.alarms.raise_alarm(AlarmKind.VEHICLE_PAST_ITS_BASE, track.id, f"{why}: emergency stop sent, out of "
                                "service", {"side": found.side, "to_line_m": round(found.to_line_m, 1),
                                            "last_node": state.last_node_id,
                                            "released": [n.node_id for n in state.node_states if n.released]})

    def _off_the_map(self, track: Track, state: VehicleState, found: OffTheMap) -> None:
        """A vehicle off the map, on its own side as far as can be told: its next report may be over the line,
        unseen until then, so it is stopped and taken out of service as one across would be."""
        where = f"{found.off_by_m:.0f} m off the map's zones on the {found.side} side" if found.side is not None \
            else "driving by the border line, its position not known (positionInitialized false)" \
            if not state.position_initialized \
            else f"on map {state.map_id!r}, not the corridor's {MAP_ID!r}" if state.map_id != MAP_ID \
            else "at a position that is no number"
        at = f", at {state.pose.x:.0f}, {state.pose.y:.0f}" if state.position_initialized else ""
        why = f"{track.id} seen off the map ({where}{at})"
        self._emergency_stop(track, why)
        self.alarms.raise_alarm(AlarmKind.VEHICLE_OFF_THE_MAP, track.id, f"{why}: emergency stop sent, out of "
                                "service", {"side": found.side, "last_node": state.last_node_id})

    def _emergency_stop(self, track: Track, why: str) -> None:
        """The border watch, or two sources under one id, found ``why``: an emergency stop, and out of service until
        people have seen to it."""
        log.error("%s: emergency stop, out of service", why)
        self.link.send_actions(track.id, [InstantAction(f"stop-{uuid.uuid4().hex[:8]}", ActionType.EMERGENCY_STOP)])
        if track.record.in_service:
            self._set_service(track, False, why)

    def _back_to_what_it_holds(self, track: Track, state: VehicleState) -> None:
        """The vehicle has taken none of what it was sent for long (``_not_taking_orders``): the fleet stops
        counting on what it sent meanwhile. Its plan ends where the vehicle reports its base to end (the way it
        may still drive, kept for the others to wait for), and so does its base (the place it keeps while it
        cannot go on); None when that node is not on its plan. Counted where the updates it did not take would
        have taken it, it kept the dock it was sent to for good, and its stale plan held back at the release
        step the free vehicle given its order. What is sent to it again (``_observe``) starts there."""
        plan = track.plan
        if plan is None:
            return
        if state.order_id == track.vda_order_id:
            k = reported_base_end_step(track)
        else:  # (none of our order: where it stands, unless it drives an order of its own)
            k = None if any(n.released for n in state.node_states) else _first_step_at(plan, state.last_node_id)
        self._plans_changed = True
        if k is None:
            track.plan = None
            return
        track.plan = dataclasses.replace(plan, steps=plan.steps[:k + 1], horizon=())
        track.first = track.released = k
        track.reached = min(track.reached, k)

    def _see_to_what_was_sent(self, track: Track, state: VehicleState, t: float) -> None:
        """The vehicle's state has not shown the last update sent to it for ``RESEND_AFTER_S``. Refused (its state
        says so), or not at hand to send again (a restart of the fleet manager forgot it): sent anew, built from
        what the vehicle reports (``_send_anew``). Else the very same update again: a vehicle that lost it takes
        it, one that has it ignores the repeat (VDA 5050: the same orderId and orderUpdateId). Before, an update
        was built anew from where the vehicle's base ended before it; on a link slower than the resend (a slow
        network, an MQTT broker lagging) the late one overtook it, the vehicle refused each one built after, and
        the order never finished."""
        if refused_what_was_sent(track) or track.sent_order is None or lost_its_order(track, state):
            self._send_anew(track, state, t)
            return
        reported = (track.vda_order_id, state.order_update_id if state.order_id == track.vda_order_id else -1)
        level = logging.DEBUG if track.not_taken_logged == reported else logging.WARNING  # say it once, not every 3 s
        track.not_taken_logged = reported
        log.log(level, "%s did not take update %d of %s in %.0f s (it reports %s): sent again", track.id,
                track.update_id, track.vda_order_id, t - track.sent_at, held_order(state))
        track.sent_at = self.now()
        self.link.send_order(track.id, track.sent_order)

    def _send_anew(self, track: Track, state: VehicleState, t: float) -> None:
        """What the vehicle was sent is not what it will drive (it refused it, or took none of its orders for
        long): on our order, an update from where its own base ends (``_resync_base``); else, once it has nothing
        released left (a cancel still under way, an order of its own), a new order (update 0, as VDA 5050
        requires) from where it stands (``base_end_at``): it lost ours, refused it, or restarted (it is handed no
        old order)."""
        if state.order_id != track.vda_order_id:
            if any(n.released for n in state.node_states):
                return  # it drives an order of its own: asked again once it is done
            track.vda_order_id = None
        if track.plan is None:
            track.needs_plan = True
        elif track.vda_order_id is None:
            # with the way released to it before released again: a vehicle restarted on the crossing lanes, released
            # across, finishes the crossing whatever the gate rule says now (the bridge is cleared so); one not
            # released across is released there only on a decision at the last node before it, as ever
            self._adopt(track, track.plan, t, released=track.released)
        else:
            self._resync_base(track, t)

    def _resync_base(self, track: Track, t: float) -> None:
        """The vehicle will not drive our last update (it refused it, or took none of its orders for long): what
        it was to release is released again by the release step, in an update that starts where the vehicle's
        base really ends; when that node is not on the plan, the vehicle is planned again from there."""
        assert track.state is not None and track.plan is not None
        k = reported_base_end_step(track)
        reported = (track.vda_order_id, track.state.order_update_id)
        level = logging.DEBUG if track.not_taken_logged == reported else logging.WARNING  # say it once, not every 3 s
        track.not_taken_logged = reported
        log.log(level, "%s did not take update %d of %s (it reports %d%s): %s", track.id, track.update_id,
                    track.vda_order_id, track.state.order_update_id,
                    "".join(f"; {why}" for why in order_refusals(track.state)),
                    "released again from its own base end" if k is not None else "planned again from its base end")
        if k is not None:
            track.first = track.released = k
            self._send(track, track.update_id + 1)
            return
        track.plan, track.needs_plan, track.retry_at = None, True, -INF
        self._replan(track, t)

    def _follow(self, track: Track, state: VehicleState, t: float) -> None:
        assert track.plan is not None
        if state.last_node_sequence_id < track.seq0 \
                and track.way_to_plan.get(state.last_node_sequence_id) == state.last_node_id:
            self._on_its_way_to_the_plan(track, state)
        k = reported_step(track, state)
        if k is None:
            return
        if k > track.released:
            self._not_released_to(track, state)
            return
        job = track.job
        # (its state carries the latest update: an update not taken, the vehicle at rest on its order before,
        # had the order accepted while the vehicle stood there deaf to it)
        if job is not None and job.order is not None and job.order.state == OrderState.ASSIGNED \
                and holds_what_was_sent(track):
            self._advance(track, OrderState.TO_PICKUP, "the vehicle accepted its order")
        for j in range(track.reached + 1, k + 1):
            track.arrived_at[j] = t
            self._arrived(track, j, t)
        if k > track.reached:
            late = t - track.plan.steps[k].arrive
            track.reached = k
            if late > self.settings.late_after_s and k < len(track.plan.steps) - 1:
                self._absorb_delay(track, k, t)
            late -= track.approach_s  # (the plan was timed as if it stood at the plan's first node already)
            track.approach_s = 0.0
            if late > self.settings.stuck_after_s:
                self.alarms.raise_alarm(AlarmKind.VEHICLE_STUCK, track.id,
                                        f"{track.id} is {late:.0f} s behind its plan at {state.last_node_id}")
            else:  # on its plan again (a late arrival had the rest of the plan timed anew: _absorb_delay)
                self.alarms.clear(AlarmKind.VEHICLE_STUCK, track.id)
        self._follow_pick(track, t)
        self._plan_on_when_loaded(track)
        self._check_done(track, t)

    def _not_released_to(self, track: Track, state: VehicleState) -> None:
        """The vehicle reports as reached a node of its plan it was never released to (a vendor's bug, or a
        forged state): not believed. Followed, it had its crossing recorded for both customs and the rest of its
        way released on its word alone, while it stood short of the bridge. Its base stays what it was."""
        assert track.plan is not None
        base_end = track.plan.steps[track.released].node
        why = (f"{track.id} reports {state.last_node_id} (sequence {state.last_node_sequence_id}) as reached, a node "
               f"it was never released to (its base ends at {base_end}): not believed")
        if self.alarms.raise_alarm(AlarmKind.VEHICLE_FAULT, track.id, why,
                                   {"last_node": state.last_node_id, "base_end": base_end}) is not None:
            log.warning("%s", why)

    def _follow_pick(self, track: Track, t: float) -> None:
        """The order is loaded when the vehicle reports its pick at the pickup dock FINISHED (VDA 5050 action
        state), not when a planned time is over; a FAILED pick fails the order, unless the fleet cancelled it
        (``_way_given_back``: the order goes to another vehicle)."""
        job, plan = track.job, track.plan
        if job is None or job.order is None or job.order.state != OrderState.TO_PICKUP or plan is None \
                or track.cancel_sent is not None:
            return
        k = pickup_step(plan)
        pick = None if k is None else handling_state(track, k, ActionType.PICK)
        if k is None or pick is None:
            return
        if pick.status == ActionStatus.FINISHED:
            self._advance(track, OrderState.LOADED, f"loaded at {plan.steps[k].node}",
                          {"action_id": pick.action_id, "action_status": str(pick.status)})
        elif pick.status == ActionStatus.FAILED:
            self._handling_failed(track, pick, plan.steps[k].node, t)

    def _plan_on_when_loaded(self, track: Track) -> None:
        """A plan that ends at the order's pickup (how far an order not yet loaded is planned, see ``_request``):
        once loaded there (``_follow_pick``), the vehicle is planned on towards its gate."""
        job, plan = track.job, track.plan
        if job is not None and job.order is not None and job.order.state in LOADED_STATES and plan is not None \
                and bound_for_pickup(track) and track.reached == len(plan.steps) - 1:
            track.needs_plan = True

    def _handling_failed(self, track: Track, action: ActionState, node: str, t: float) -> None:
        """A pick or drop the vehicle reported FAILED: the order fails with the vehicle's reason and an alarm is
        raised. Nothing picked: the vehicle is free (it clears the dock). A drop that failed: the load is still
        aboard, and the vehicle takes it to a holding bay on the side it is on (never across)."""
        job = track.job
        assert job is not None and job.order is not None
        order, loaded = job.order, job.order.state in LOADED_STATES
        why = f"{action.action_type} at {node} failed on {track.id}: {action.result or 'no reason given'}"
        log.warning("order %s: %s", order.id, why)
        self.alarms.raise_alarm(AlarmKind.HANDLING_FAILED, track.id, f"{why}; order {order.id} failed" +
                                (", the load is still aboard: to a holding bay" if loaded else ""))
        self._advance(track, OrderState.FAILED, why, {"action_id": action.action_id,
                                                      "action_status": str(action.status)})
        self._break_meeting(track)
        track.job = self._hold_the_load(track, node, order) if loaded else None
        track.needs_plan = True
        self._save_vda(track)

    def _arrived(self, track: Track, k: int, t: float) -> None:
        """The vehicle reached step ``k`` of its plan: the order follows it (``_follows_the_vehicle``), and at a
        step that waits for the clearance it is awaiting it."""
        assert track.plan is not None
        steps = track.plan.steps
        node = self.corridor.nodes[steps[k].node]
        self._follows_the_vehicle(track, node, steps[k + 1].node if k + 1 < len(steps) else None)
        job = track.job
        if job is not None and job.order is not None and steps[k].action == "await_clearance" \
                and job.order.state == OrderState.LOADED:
            self._advance(track, OrderState.AWAITING_CLEARANCE, f"waiting at gate {node.id}")

    def _on_its_way_to_the_plan(self, track: Track, state: VehicleState) -> None:
        """The vehicle reached a node of the base an earlier update released (``Track.way_to_plan``), on its way
        to where its plan begins (a replan starts at the base's end): the order follows it all the same. Before,
        a vehicle planned again at the last node before the bridge, its base released across to its drop dock,
        crossed unseen: its order said ``cleared`` and no crossing was recorded until it reached the dock, 15
        minutes later in China. Only a node the fleet released with that sequence id counts."""
        assert track.plan is not None
        seq = state.last_node_sequence_id
        ahead = track.way_to_plan.get(seq + 2, track.plan.steps[0].node if seq + 2 == track.seq0 else None)
        self._follows_the_vehicle(track, self.corridor.nodes[state.last_node_id], ahead)

    def _follows_the_vehicle(self, track: Track, node: Node, ahead: str | None) -> None:
        """The order follows where its vehicle is: on the border line it is crossing (the custody handoff is
        recorded), on the far side it goes to the drop. Judged from the node, so that a crossing is recorded
        even when a replan while the vehicle was on the crossing lanes left the border step out of its plan; on
        the line, only when its way goes on from there (``ahead``, the next node; None: its way ends there) into
        the far side."""
        self._record_if_across_empty(track, node)
        job = track.job
        if job is None or job.order is None or self.relay is not None:  # relay: the load changes hands at the
            return  # pad (_follow_meetings)
        order = job.order
        target = order.target
        on_border = node.kind in BORDER_LINE_KINDS
        far_side = node.jurisdiction == target and not on_border
        if (far_side or (on_border and self._goes_on_into(ahead, target))) and order.state in SHORT_OF_THE_LINE:
            if track.crossing_decision_seq is None:  # released across before a restart
                track.crossing_decision_seq = self._recorded_decision(track.id, order.consignments)
            self.gate.record_crossing(track.id, order.direction, order.consignments, track.crossing_decision_seq)
            self._advance(track, OrderState.CROSSING, f"entered the crossing ({node.id})",
                          {"decision_audit_seq": track.crossing_decision_seq})
        if far_side and job.order.state == OrderState.CROSSING:
            job.crossed = True
            self._advance(track, OrderState.TO_DROP, f"on the far side at {node.id}")

    def _record_if_across_empty(self, track: Track, node: Node) -> None:
        """A vehicle released across with nothing aboard (empty, or on its way to a pickup over there), now on the
        far side: its crossing recorded for both authorities, on the decision that released it, as a loaded one's
        is. (Over the handoff pad and back to its own side is no crossing.)"""
        decision = self._empty_crossings.get(track.id)
        if decision is None or node.kind in BORDER_LINE_KINDS or decision.direction.split("->")[1] != node.jurisdiction:
            return
        del self._empty_crossings[track.id]
        self.gate.record_crossing(track.id, decision.direction, (), decision.audit_seq)

    def _goes_on_into(self, ahead: str | None, side: str) -> bool:
        """The way goes on from the border line to ``ahead``, a node of ``side``. Over the handoff pad and back a
        vehicle drives on the border line without crossing the border; a crossing recorded there was one its load
        never made (finding 14)."""
        after = self.corridor.nodes.get(ahead) if ahead is not None else None
        return after is not None and after.jurisdiction == side and after.kind not in BORDER_LINE_KINDS

    def _check_done(self, track: Track, t: float) -> None:
        """The job is done when the vehicle has reached its plan's last step at a goal (and unloaded)."""
        job, plan = track.job, track.plan
        if job is None or plan is None or track.reached != len(plan.steps) - 1 or plan.end not in job.goals \
                or plan.horizon:
            return
        if job.kind == JobKind.HAND_OVER and job.order is not None:
            # its load changes hands at the pad (_follow_meetings), wherever its plan ends: a deliverer whose partner
            # broke down mid-transfer had its job ended on the pad and drove home with the load, its order `crossing`
            return
        if job.kind == JobKind.CANCEL_PICK:  # until its own report says whether it loaded (_undo_the_pick)
            return
        if job.kind == JobKind.HOLD:  # it waits at the bay with the load until people take it off
            if job.held_at is None:
                job.held_at = plan.end
                self.alarms.raise_alarm(
                    AlarmKind.LOAD_HELD, track.id,
                    f"{track.id} holds {', '.join(job.aboard)} at {plan.end}, which no order carries: take the load "
                    f"off by hand, then say so (POST /vehicles/{track.id}/load-removed); the vehicle waits there "
                    "until then",
                    {"consignments": list(job.aboard), "bay": plan.end})
            return
        if job.kind == JobKind.DELIVER:
            assert job.order is not None
            drop = handling_state(track, track.reached, ActionType.DROP)
            if job.order.state != OrderState.TO_DROP or drop is None:
                return
            if drop.status == ActionStatus.FAILED:
                self._handling_failed(track, drop, plan.end, t)
                return
            if drop.status != ActionStatus.FINISHED:
                return
            self._advance(track, OrderState.DELIVERED, f"unloaded at {plan.end}",
                          {"action_id": drop.action_id, "action_status": str(drop.status)})
        track.job = None
        self._save_vda(track)

    def _watch_health(self, track: Track, t: float) -> None:
        state, why, lasting, deaf = track.state, None, False, None
        if track.lost_since is not None and (state is None or state.position_initialized):
            track.lost_since = None  # (only when set: setting an attribute wakes a resting track)
        if holds_what_was_sent(track):
            track.untaken_since = None
        elif state is not None and state.order_id == track.vda_order_id and state.order_id is not None:
            taken = (state.order_id, state.order_update_id)
            if taken != track.last_taken:
                track.last_taken = taken
                if track.untaken_since is not None:
                    track.untaken_since = t  # it took one: the later ones are on their way
        if track.duplicate is not None and track.record.in_service:
            self._reported_by_two(track, track.duplicate)
        if not track.record.in_service:
            why, lasting = f"out of service: {track.record.service_reason or 'no reason given'}", True
        elif track.connection in ("OFFLINE", "CONNECTIONBROKEN"):
            why = f"connection {track.connection}"
            self.alarms.raise_alarm(AlarmKind.VEHICLE_OFFLINE, track.id, f"{track.id} is {track.connection}")
        elif state is None and self.now() > self.settings.silent_after_s:
            why = "never reported since the fleet manager started"
            self.alarms.raise_alarm(AlarmKind.VEHICLE_SILENT, track.id, f"{track.id}: {why}")
        elif track.state_age is not None and track.state_age > self.settings.silent_after_s:
            why = f"silent for over {self.settings.silent_after_s:.0f} s"  # not the age: it changes every tick
            self.alarms.raise_alarm(AlarmKind.VEHICLE_SILENT, track.id, f"{track.id}: no state for "
                                                                        f"{track.state_age:.0f} s")
        elif state is not None and state.errors and any(e.level == "FATAL" for e in state.errors):
            why, lasting = "fault: " + "; ".join(e.description for e in state.errors if e.level == "FATAL"), True
            self.alarms.raise_alarm(AlarmKind.VEHICLE_FAULT, track.id, f"{track.id}: {why}")
        elif state is not None and state.e_stop != "NONE":
            why = f"emergency stop ({state.e_stop})"
        elif state is not None and not state.operating_mode.takes_orders:  # VDA 5050: people drive it
            why, lasting = f"operating mode {state.operating_mode}: driven by people, it takes no order", True
        elif state is not None and not state.position_initialized:
            why = self._not_localised(track, t)
        elif state is not None and (away := self._away_from_its_node(track, state)) is not None \
                and not self._taken_where_set_down(track, state, *away):
            node, metres = away
            why, lasting = f"away from {node}, the node it last reached: moved off its way", True
            self.alarms.raise_alarm(AlarmKind.VEHICLE_OFF_ITS_WAY, track.id,
                                    f"{track.id} stands {metres:.0f} m from {node}, the node it last reached: moved "
                                    "off its way (by people?); it takes no work until it is driven back there, or "
                                    "set down on a free parking spot, charger, dock or holding bay of its side",
                                    {"node": node, "x": state.pose.x, "y": state.pose.y})
        elif state is not None and (deaf := self._not_taking_orders(track, state, t)) is not None:
            why, lasting = deaf, True  # (it has kept its order that long already: given back at once)
        if why is not None and deaf is None and track.untaken_since is not None:
            track.untaken_since = t  # (the vehicle may take no order while it cannot go on: its clock starts anew)
        if state is not None and self._battery_low(state) \
                and not self.alarms.is_open(AlarmKind.LOW_BATTERY, track.id):  # (open: asked again at every tick)
            self.alarms.raise_alarm(AlarmKind.LOW_BATTERY, track.id,
                                    f"{track.id}: battery at {state.battery_charge:.0f} %")
        self._clear_ended_alarms(track, can_go_on=why is None)
        if why is not None and (track.unavailable is None or lasting):
            track.keeps_order_until = t if lasting else t + self.settings.reassign_after_s
        if why == track.unavailable:
            if why is not None and self._planned_once:
                self._take_back_order(track, why, t)
            return
        if not self._planned_once:
            track.unavailable = why
            return
        if deaf is not None and state is not None:
            self._back_to_what_it_holds(track, state)
        was, track.unavailable = track.unavailable, why
        if why is not None:
            self._take_out(track, why, t)
            if deaf is not None and state is not None and track.plan is None:
                self._replan(track, t)  # to stay where it reports, sent to it (an update it would take)
            elif deaf is not None and state is not None:
                self._send_anew(track, state, t)  # (what it was sent may release it past where its plan ends now)
        elif was is not None:
            log.info("vehicle %s available again", track.id)
            track.needs_plan, track.keeps_order_until = True, INF
            self._after_cancel_sent(track, state, t)

    def _after_cancel_sent(self, track: Track, state: VehicleState | None, t: float) -> None:
        """Available again after a ``cancelOrder`` was sent to take its way back: the cancel done, it has a new
        order where it stands (the cancelled one takes no update); not done (lost: the e-stop's release came
        after it), it drives on with its order, and the cancel is not sent again."""
        if track.cancel_sent is not None and state is not None and self._cancel_done(state, track.cancel_sent[0]) \
                and not state.node_states and between_nodes(self.corridor, state) is None:
            self._placed_after_cancel(track, state, t)
        track.cancel_sent = None

    def _reported_by_two(self, track: Track, seen: str) -> None:
        """Two sources report under the vehicle's id (``VehicleSnapshot.duplicate``: two vehicles set up with one
        id, a vendor's AGV using another's serial number): out of service, with an alarm, until an operator has
        seen to it. The fleet cannot tell which state is whose: nothing more is released to it, and an order it has
        not loaded goes to another vehicle (as for any vehicle out of service). Both machines are sent an emergency
        stop (each takes what is sent to the id): the way released to the id may be driven by either, or by both
        at once. Before, it was read as one vehicle whose position jumped between two places, and the border watch
        judged a mix of the two."""
        why = f"two sources report as {track.id}: {seen}"
        self._emergency_stop(track, why)
        self.alarms.raise_alarm(AlarmKind.DUPLICATE_VEHICLE_ID, track.id,
                                f"{why}. Emergency stop sent to the id (both machines take it), out of service: "
                                "nothing is released to it, an order it has not loaded goes to another vehicle; find "
                                "the second vehicle (or client) that uses its id, then release the stop and put it "
                                "back in service", {"seen": seen})

    def _not_localised(self, track: Track, t: float) -> str:
        """Why a vehicle that says it does not know where it is (VDA 5050 ``positionInitialized`` false) cannot go
        on: given no order or release meanwhile (the fleet cannot tell where it would drive from, nor watch it
        against the border), and an alarm once that has lasted ``silent_after_s``. Our own agent says so once,
        before its first odometry: that raises nothing. Before, such a vehicle was dispatched as any other."""
        if track.lost_since is None:
            track.lost_since = t
        elif t - track.lost_since > self.settings.silent_after_s:
            self.alarms.raise_alarm(AlarmKind.VEHICLE_NOT_LOCALISED, track.id,
                                    f"{track.id} has not known where it is (positionInitialized false) for "
                                    f"{t - track.lost_since:.0f} s: it takes no order or release until it does")
        return "not localised: its position is not known (positionInitialized false)"

    def _watch_standstill(self, track: Track, state: VehicleState, t: float) -> None:
        """A vehicle that stands with way released ahead of it and does not drive it (an obstacle, a drive fault or
        a hang it does not report) for over ``still_after_s``: an alarm, marked cleared once it moves. Before, only
        a late arrival at a node raised one: a vehicle that never arrived raised nothing, while those behind it
        waited. Cheap: one distance to where it was last seen to move, most looks at 200 vehicles at 2 Hz."""
        standing = track.standing
        if standing is None or state.last_node_id != standing[0] \
                or distance(state.pose, standing[1], standing[2]) >= MOVED_M:
            track.standing = (state.last_node_id, state.pose.x, state.pose.y, t)
            if track.should_drive_since is not None:
                track.should_drive_since = None
            if track.stuck_still:
                track.stuck_still = False
                self.alarms.clear(AlarmKind.VEHICLE_STUCK, track.id)
        elif not self._nothing_keeps_it(track, state):
            if track.should_drive_since is not None:  # (only when set: setting an attribute wakes a resting track)
                track.should_drive_since = None
        elif track.should_drive_since is None:
            track.should_drive_since = t
        elif t - track.should_drive_since > self.settings.still_after_s and not track.stuck_still:
            track.stuck_still = True
            self._stands_still(track, state, t - standing[3])

    def _nothing_keeps_it(self, track: Track, state: VehicleState) -> bool:
        """The vehicle has way released ahead of it (the fleet's, and it reports it) and nothing keeps it from
        driving it: it can go on, is not paused, not charging, and has no pick, drop or charge to do (or to finish)
        at the node of its plan it last reached. One waiting for its release has none released ahead."""
        plan = track.plan
        if plan is None or track.released <= track.reached or track.unavailable is not None or state.paused \
                or state.charging or state.order_id != track.vda_order_id \
                or not any(n.released for n in state.node_states):
            return False
        k = track.reached
        return not any((handled := handling_state(track, k, action)) is None
                       or handled.status not in (ActionStatus.FINISHED, ActionStatus.FAILED)
                       for action in node_actions(track).get(k, ()))

    def _stands_still(self, track: Track, state: VehicleState, still_s: float) -> None:
        """The alarm that the vehicle has not moved: where it stands (the node it last reached, and how far
        towards the next released one) and for how long."""
        last = self.corridor.nodes.get(state.last_node_id)
        ahead = next(n.node_id for n in state.node_states if n.released)
        metres = None if last is None else distance(state.pose, last.x, last.y)
        where = f"{metres:.0f} m from {state.last_node_id} towards {ahead}" if metres is not None \
            else f"after {state.last_node_id}, towards {ahead}"
        self.alarms.raise_alarm(AlarmKind.VEHICLE_STUCK, track.id,
                                f"{track.id} has not moved for {still_s:.0f} s, {where}, with its way released "
                                "ahead of it (it reports no fault, it is not paused, it has nothing to load, unload "
                                "or charge there): an obstacle, or a fault it does not report? Those behind it wait",
                                {"last_node": state.last_node_id, "next_node": ahead, "metres": metres,
                                 "x": state.pose.x, "y": state.pose.y, "still_s": round(still_s, 1),
                                 "driving": state.driving})

    def _clear_ended_alarms(self, track: Track, can_go_on: bool) -> None:
        """The vehicle's alarms whose cause has ended marked cleared (open until acknowledged): reporting again after
        it was silent (or had never reported), connected again, charging or charged, localised again; an order that
        waited for it (``_order_waits``) no longer waiting: the vehicle back in dispatch, or the order not its own to
        load; and once it can go on again (``_watch_health`` finds nothing that stops it), back on its way and rid
        of its fault (no FATAL error, it takes its orders, it has a factsheet, it reports no node it was not
        released to)."""
        state = track.state
        if state is not None and (track.state_age or 0.0) <= self.settings.silent_after_s:
            self.alarms.clear(AlarmKind.VEHICLE_SILENT, track.id)
        if track.connection not in ("OFFLINE", "CONNECTIONBROKEN"):
            self.alarms.clear(AlarmKind.VEHICLE_OFFLINE, track.id)
        if state is not None and not self._battery_low(state):
            self.alarms.clear(AlarmKind.LOW_BATTERY, track.id)
        if state is not None and state.position_initialized:
            self.alarms.clear(AlarmKind.VEHICLE_NOT_LOCALISED, track.id)
        if track.duplicate is None:
            self.alarms.clear(AlarmKind.DUPLICATE_VEHICLE_ID, track.id)
        job = track.job
        if track.unavailable is None or job is None or job.order is None \
                or job.order.state not in (OrderState.ASSIGNED, OrderState.TO_PICKUP):
            self.alarms.clear(AlarmKind.ORDER_WAITS_FOR_STOPPED, track.id)
        if not can_go_on or state is None:
            return
        self.alarms.clear(AlarmKind.VEHICLE_OFF_ITS_WAY, track.id)
        if self.alarms.is_open(AlarmKind.VEHICLE_FAULT, track.id) and self.link.factsheet(track.id) is not None \
                and not reports_unreleased_node(track, state):
            self.alarms.clear(AlarmKind.VEHICLE_FAULT, track.id)

    def _not_taking_orders(self, track: Track, state: VehicleState, t: float) -> str | None:
        """Why the vehicle cannot go on when it has reported, for over ``reassign_after_s``, none of the orders
        or updates it was sent since (a vendor's vehicle that ignores them, an agent whose order subscription
        broke): None while it has not. Before, such a vehicle kept its order for good, sent again every
        ``RESEND_AFTER_S``, with no alarm, beside a free vehicle. A vehicle slow to take its orders takes each
        within seconds; a restart of the fleet manager starts every clock anew."""
        since, after = track.untaken_since, self._deaf_after_s()
        if since is None or t - since <= after:
            return None
        refusals = order_refusals(state)
        self.alarms.raise_alarm(
            AlarmKind.VEHICLE_FAULT, track.id,
            f"{track.id} does not take its orders: sent update {track.update_id} of order {track.vda_order_id} "
            f"{t - track.sent_at:.0f} s ago (none taken for {t - since:.0f} s), it reports {held_order(state)}"
            + "".join(f"; {why}" for why in refusals) + ". It takes no work until it takes its orders again; an "
            "order it has not loaded goes to another vehicle",
            {"order": track.vda_order_id, "update": track.update_id, "reported_order": state.order_id,
             "reported_update": state.order_update_id, "refusals": refusals})
        # (what it reports, not what it was sent: the same while it lasts, as the reason must be)
        return f"does not take its orders: none taken for over {after:.0f} s, it reports {held_order(state)}"

    def _deaf_after_s(self) -> float:
        """How long a vehicle may take none of its orders: ``reassign_after_s``, but never before they were sent
        again a few times (an order lost on the way is no fault: VDA 5050 sends them with MQTT QoS 0)."""
        return max(self.settings.reassign_after_s, 3 * RESEND_AFTER_S)

    def _away_from_its_node(self, track: Track, state: VehicleState) -> tuple[str, float] | None:
        """The node it last reached (or was taken from: ``Track.placed_at``) and how far it stands from it, when
        it stands idle (nothing released ahead) farther than ``OFF_ITS_WAY_M`` from it: moved by people, say. Its
        next order would start at that node by its id, and it would drive from where it really stands in a
        straight line to the next node, off every lane (found by trying it: a vehicle driven to another parking
        row in MANUAL mode did). Not one standing on the lane its plan goes on by from that node: restarted
        there, it is sent on from where it stands (``_first_deviation``)."""
        if state.driving or state.node_states or not state.position_initialized or state.map_id != MAP_ID:
            return None
        node = self.corridor.nodes.get(track.placed_at or state.last_node_id)
        if node is None:
            return None
        metres = distance(state.pose, node.x, node.y)
        if metres <= OFF_ITS_WAY_M or (track.placed_at is None and standing_past(self.corridor, track) is not None):
            return None
        return node.id, metres

    def _taken_where_set_down(self, track: Track, state: VehicleState, node: str, metres: float) -> bool:
        """Moved off its way with nothing aboard and set down on a free place of its side (a parking spot, a
        charger, a dock, a holding bay: :mod:`fleet.dispatch.off_way`): the vehicle is taken from there, planned
        anew as at a start, its next order a new one starting there (one it accepts where it stands). Before, it
        stood out of dispatch until people drove it back to the node it had last reached."""
        job = track.job
        if job is not None and (job.aboard or (job.order is not None and job.order.state in LOADED_STATES)):
            return False  # a load aboard: people see to it (drive it back), as the alarm says
        place = set_down_at(self.corridor, state.pose, self.corridor.nodes[node].jurisdiction)
        if place is None or not self._nobody_else_at(track, place.id):
            return False
        log.warning("%s set down at %s by people, %.0f m from %s (the node it last reached): taken from there",
                    track.id, place.id, metres, node)
        track.placed_at, track.plan, track.reached, track.vda_order_id = place.id, None, -1, None
        track.needs_plan = True
        return True

    def _nobody_else_at(self, track: Track, place: str) -> bool:
        """No other vehicle stands at ``place``, holds it, is bound for it or was taken from it."""
        if self.planner.table.holders_for_good(place) - {track.id}:
            return False
        node = self.corridor.nodes[place]
        return not any(place in (other.placed_at, base_end(self.corridor, other))
                       or (other.plan is not None and other.plan.end == place)
                       or (other.state is not None and stands_on(node, other.state.pose))
                       for other in self.tracks.values() if other is not track)

    def _take_out(self, track: Track, why: str, t: float) -> None:
        """The vehicle cannot go on: it keeps for good its place and the way released to it, which it may still
        drive (others are routed around it), and an order not yet loaded goes back to waiting for another vehicle
        (``_take_back_order``). Before, it kept only where that way ended: an AGV e-stopped on its way had
        another planned through the node it stood at, and the lane it stood on."""
        log.warning("vehicle %s unavailable: %s", track.id, why)
        node, *ahead = released_way(self.corridor, track)
        begun = self._transfer_begun(track)  # (then the other waits for it on the pad: _follow_meetings)
        self._apply(self.planner.fail(track.id, node, t, ahead), t)
        if not begun:
            self._break_meeting(track)
        self._take_back_order(track, why, t)
        self._plans_changed = True

    def _take_back_order(self, track: Track, why: str, t: float) -> None:
        """An order the unavailable vehicle has not loaded goes back to waiting for another one: at once when
        it cannot carry it soon (a fatal fault, out of service), else once it has stood ``reassign_after_s``.
        Taken back at once, an emergency stop of the whole fleet and its release gave the orders out anew, to
        the vehicles that stood first, while the others still drove their released ways to those orders'
        docks: vehicles stalled for minutes, each before a dock taken by another, with orders waiting."""
        job = track.job
        if job is None or job.order is None or job.order.state not in (OrderState.ASSIGNED, OrderState.TO_PICKUP) \
                or t < track.keeps_order_until:
            return
        state = track.state
        driven_by_people = state is not None and not state.operating_mode.takes_orders  # (no cancel: as before)
        if track.id in self.planner.table.holders_for_good(job.order.pickup) and not driven_by_people \
                and not self._way_given_back(track, job.order, why, t):
            return  # (another vehicle would wait for good before the pickup)
        self._advance(track, OrderState.CREATED, f"{track.id} unavailable ({why}): to be re-assigned")
        track.job = None

    def _way_given_back(self, track: Track, order: OrderPublic, why: str, t: float) -> bool:
        """The unavailable vehicle holds ``order``'s pickup, on the way released to it: take that way back, so that
        the order can go to another vehicle. Standing at a node and online, it is sent a ``cancelOrder``; once its
        state shows it done, with nothing released ahead, it holds just the node it stands at, and has a new order
        that ends there (VDA 5050: a cancelled order takes no update). True once the pickup is free of it.
        Otherwise the order waits for it, with an alarm that says why: offline, it cannot be told; between
        nodes, a cancel would strand it where no new order can start; on the pickup, it stands in the way.
        Before, the order went to another vehicle, which stood stalled for good before the pickup ("every goal
        (vn_dock_1) is taken for good by another vehicle") while the stopped one still had its way released."""
        state = track.state
        keeps = self._keeps_its_way(track, state, order.pickup)
        if keeps is not None:
            self._order_waits(track, order, why, keeps)
            return False
        if state is None or state.driving:
            return False  # (braking to a standstill: asked again next tick)
        if track.cancel_sent is None:
            log.warning("%s unavailable (%s) with its way to %s released: cancelling its order", track.id, why,
                        order.pickup)
            track.cancel_sent = (f"cancel-{uuid.uuid4().hex[:8]}", t, -INF)
        cancel, since, _ = track.cancel_sent
        if not self._cancel_done(state, cancel):
            track.cancel_sent = self._cancel_again(track, track.cancel_sent, t)
            if t - since > self._deaf_after_s():
                self._order_waits(track, order, why, f"it has not done the cancelOrder sent {t - since:.0f} s ago")
            return False
        if any(n.released for n in state.node_states):
            return False
        self._placed_after_cancel(track, state, t)
        return True

    def _order_waits(self, track: Track, order: OrderPublic, why: str, keeps: str) -> None:
        """The alarm that ``order`` waits for ``track``'s vehicle, out of dispatch (``why``), which keeps the way
        released to it to the order's pickup (``keeps``: why it does)."""
        self.alarms.raise_alarm(
            AlarmKind.ORDER_WAITS_FOR_STOPPED, track.id,
            f"order {order.id} waits for {track.id} ({why}): {keeps}. The way released to it, to the pickup "
            f"{order.pickup}, stays held: it goes on to load once it can (its stop released, say); or cancel the "
            "order", {"order": order.id, "pickup": order.pickup})

    def _keeps_its_way(self, track: Track, state: VehicleState | None, pickup: str) -> str | None:
        """Why the unavailable vehicle's released way cannot be taken back from it (None: it can)."""
        if track.connection not in ("ONLINE", None) or state is None:
            return f"it is {track.connection or 'not heard from'}: it cannot be told to give its way up"
        if (age := track.state_age or 0.0) > self.settings.silent_after_s:  # (its last state may say it drives)
            return f"it has been silent for {age:.0f} s: it cannot be told to give its way up"
        if state.driving:
            return None
        if (apart := between_nodes(self.corridor, state)) is not None:
            return f"{apart}: a cancel would stop it where no new order can start"
        if state.last_node_id == pickup:
            return f"it stands on {pickup}"
        return None

    def _cancel_again(self, track: Track, sent: tuple[str, float, float], t: float) -> tuple[str, float, float]:
        """A ``cancelOrder`` not yet done (``sent``: its id, when first and last sent), sent (again, with the same id:
        a vehicle does an action id once) once ``RESEND_AFTER_S`` passed since it last was: ``sent`` as it is now."""
        cancel, since, last = sent
        if t - last <= RESEND_AFTER_S:
            return sent
        self.link.send_actions(track.id, [InstantAction(cancel, ActionType.CANCEL_ORDER)])
        return cancel, since, t

    @staticmethod
    def _cancel_done(state: VehicleState, action_id: str) -> bool:
        """The vehicle reports the ``cancelOrder`` ``action_id`` done (finished, or failed: it had no order)."""
        return any(a.action_id == action_id and a.status in (ActionStatus.FINISHED, ActionStatus.FAILED)
                   for a in state.action_states)

    def _placed_after_cancel(self, track: Track, state: VehicleState, t: float) -> None:
        """Its order cancelled, the vehicle holds just the node it stands at (the rest of its way is given back)
        and has a new order that ends there."""
        node = state.last_node_id
        track.cancel_sent = None
        if track.unavailable is not None:
            self._apply(self.planner.fail(track.id, node, t), t)
        self._order_anew(track, TimedPlan(track.id, (Step(node, t, INF),)), 0, t)

    # --- planning -------------------------------------------------------------------------------------------------

    def _delivery(self, order: OrderPublic) -> Job:
        """The job an order gives its vehicle: in relay mode, up to the handoff pad (until handed over)."""
        if self.relay is not None and order.state != OrderState.TO_DROP:
            return Job(JobKind.HAND_OVER, (self.relay.pad,), order)
        return Job(JobKind.DELIVER, (order.drop,), order, crossed=order.state == OrderState.TO_DROP)

    def _request(self, track: Track, start: str, start_time: float) -> PlanRequest:
        job = track.job
        profile = self._around_held_arrivals(self._empty_profile(track, start) if job is None or job.order is None
                                             or job.order.state in PICKUP_STATES or job.kind == JobKind.CANCEL_PICK
                                             else self._loaded_profile(track, job, start), start)
        if job is None or track.unavailable is not None or job.kind == JobKind.CANCEL_PICK:
            return PlanRequest(track.id, start, (start,), start_time, profile)
        stops: tuple[Stop, ...] = ()
        hold_at: tuple[str, ...] = ()
        meets: frozenset[str] = frozenset()
        keep_free = 0
        if job.order is not None:
            order = job.order
            source = order.source
            if order.state in PICKUP_STATES:
                # Only as far as the pickup (loaded there, it is planned on): a plan on to the gate would hold a
                # gate lane for good from the moment of assignment, while the vehicle drives to the dock and
                # loads, so that a side's few gate lanes, not its vehicles, set the corridor's throughput.
                pickup = Stop(order.pickup, self.settings.load_s, action="pickup")  # at the start, too
                return PlanRequest(track.id, start, (order.pickup,), start_time, profile, (pickup,),
                                   priority=order.priority,
                                   never_wait_at=self._inbound_gates if self.relay is None else frozenset())
            if self.relay is not None and job.partner is not None and not job.handed_over:
                stops += (Stop(self.relay.pad, self.relay.transfer_s, action=CUSTODY),)  # the meeting stays
                meets = frozenset({job.partner})
            if not job.cleared and not job.crossed and order.state not in (OrderState.CROSSING, OrderState.TO_DROP):
                on_the_way = self._gates_on_the_way(stops[0].node if stops else start, job.goals[0], source)
                if on_the_way:
                    hold_at = on_the_way
                    # relay: this side's vehicles that are to receive a load reach the pad only through these
                    # gate lanes, so waits for clearance (and then for a partner) never take the last free one
                    keep_free = int(self.relay is not None and start not in on_the_way)
                elif self.relay is not None and job.partner is None:
                    # past its side's gates with no partner yet (a restart, a meeting called off): it waits for
                    # one just short of the pad, where the pad's own gate check still applies
                    hold_at = self._relay_waits[source]
                else:  # past its side's gates already (a restart found it there): the crossing check remains
                    job.cleared = True
        wait_at = self._bays_on_the_way(start, (hold_at or job.goals)[0]) if not stops and job.order is not None \
            and job.order.state in LOADED_STATES and self.corridor.nodes[start].kind not in HARMLESS_WAITS else ()
        goals = self._receiving_goals(track.id, job.order, self.relay.pad) if self.relay is not None \
            and job.order is not None and job.kind == JobKind.DELIVER and meets else job.goals
        request = PlanRequest(track.id, start, goals, start_time, profile, stops, hold_at,
                              priority=job.order.priority if job.order else 0, meets=meets, keep_free=keep_free,
                              wait_at=wait_at, never_wait_at=self._never_wait_at(job))
        # a load no order carries any more stays on its side, off the crossing lanes and the border line: on
        # Bac Luan II a holding bay was reached over the handoff pad, a turn on the line with the load aboard
        return self.planner.short_of_the_border(request) if job.aboard else request

    def _loaded_profile(self, track: Track, job: Job, start: str) -> VehicleProfile:
        """Through operation: a cleared vehicle past its gates, or across, keeps off its departure side's yard.
        With every bay across taken, the planner's last resort, "the nearest place it may wait", was a holding
        bay back in that yard, over the handoff pad (crossing lanes, which its clearance allowed): the load went
        back with it, and on ``target_2030`` such vehicles stood in the yard they had left, waiting for docks
        across. Now it waits across, or stands short of the crossing (issue #13, finding 14)."""
        if not self._out_of_its_yard(job, start):  # (in it, not past its gates: a restart; nothing to keep it from)
            return track.profile
        assert job.order is not None
        return _keeping_off(track.profile, self._yards[job.order.source])

    def _never_wait_at(self, job: Job) -> frozenset[str]:
        """Through operation: the gates on the way in from across, the only way into a yard, are no place to wait
        for anyone, a departure clearance least of all, nor a pickup (finding 13). Relay: for a loaded deliverer
        (finding 9). A cleared vehicle past its gates waits at no gate: the outbound ones across are the way out
        for that side's departures (finding 14)."""
        if self.relay is None and self._past_its_gates(job):
            return self._gates
        if self.relay is None or (job.kind == JobKind.HAND_OVER and job.order is not None):
            return self._inbound_gates
        return frozenset()

    def _out_of_its_yard(self, job: Job, node: str) -> bool:
        """Through operation: the job's load is cleared, past its gates (or across), and ``node`` lies outside
        its departure yard: the way back into that yard is over the handoff pad, a turn on the border line."""
        if not self._yards or not self._past_its_gates(job):
            return False
        assert job.order is not None
        return node not in self._yards[job.order.source]

    def _past_its_gates(self, job: Job) -> bool:
        """Loaded and cleared at its side's gate (or across already)."""
        return job.order is not None and job.order.state in LOADED_STATES and (job.cleared or job.crossed)

    def _empty_profile(self, track: Track, start: str) -> VehicleProfile:
        """Relay: a vehicle with no load and no meeting keeps off the pad and the lanes to it (issue #13,
        finding 9), unless it stands there already (every way on is over the pad)."""
        if self.relay is None or start in self.relay.to_pad:
            return track.profile
        return dataclasses.replace(track.profile, avoid=self.relay.to_pad)

    def _on_the_way(self, source: str, target: str, nodes: list[Node], detour: float) -> tuple[str, ...]:
        """Those of ``nodes`` on a route from ``source`` to ``target`` at most ``detour`` times the fastest. The
        map's travel times do not change: each question is worked out once (a full plan asks it for most of its
        vehicles, some 2,400 full plans a busy day)."""
        key = (source, target, tuple(n.id for n in nodes), detour)
        found = self._ways.get(key)
        if found is None:
            times = self._fastest_from(source)
            fastest = times.get(target, (INF, INF))[0]
            found = self._ways[key] = tuple(sorted(
                n.id for n in nodes if n.id in times
                and times[n.id][0] + self._fastest_from(n.id).get(target, (INF, INF))[0] <= detour * fastest))
        return found

    def _gates_on_the_way(self, source: str, target: str, side: str) -> tuple[str, ...]:
        """The customs gates of ``side`` a vehicle may wait at between ``source`` and ``target``: those on a
        route at most 20 % longer than the fastest (the parallel gate lanes, not an inbound gate behind a
        U-turn). None when it is past them already."""
        # only its outbound gates: an inbound one is the way in for the vehicles from across (a relay receiver's way
        # back from the pad); waiting there for clearance, departing vehicles closed it (finding 13)
        gates = [g for g in self.corridor.nodes_of(NodeKind.GATE, jurisdiction=side) if g.id not in self._inbound_gates]
        return self._on_the_way(source, target, gates, 1.2)

    def _bays_on_the_way(self, source: str, target: str) -> tuple[str, ...]:
        """The holding and inspection bays a loaded vehicle may wait at, between ``source`` and ``target``, when
        it can get neither (issue #13, finding 5): a gate lane or a dock is for the vehicles that can go on.
        Waiting for a gate lane, it waits at its side's inspection bays (on the way to the gates); cleared
        but with no way to its drop dock yet, it crosses and waits at a holding bay on the far side."""
        return self._on_the_way(source, target, self.corridor.nodes_of(*BAY_KINDS), BAY_DETOUR)

    def _plan_everyone(self, t: float, should_stop: Callable[[], bool] | None = None) -> bool:
        """The full plan at start: every vehicle from where it stands or the end of the base it still drives. False,
        and nothing changed, when ``should_stop`` stopped it (the plans the vehicles have stand)."""
        requests, parked = [], []
        # where each base ends, asked once per vehicle: nothing before its own plan is adopted changes it
        bases = {track.id: base_end_at(self.corridor, track) for track in self.tracks.values()}
        # a vehicle out of dispatch holds where it stands and the way it may still drive (``_take_out``), not just
        # where its base ends: planned as one to stay there, it had others planned, and released, through that way
        out = {track.id: (released_way(self.corridor, track), t) for track in self.tracks.values()
               if track.unavailable is not None}
        for track in self.tracks.values():
            start = bases[track.id][0]
            if track.job is None and track.record.in_service and track.state is not None \
                    and self.corridor.nodes[start].kind not in WAITING_KINDS:
                track.job = self._park_job(track, start)
                parked.append(track)
            if track.id not in out:
                requests.append(self._request(track, start, t))
        started = time.perf_counter()
        try:
            result = self.planner.plan_all(requests, should_stop=should_stop, broken_down=out)
        except PlanInterrupted:
            for track in parked:  # given its job again by the next plan, should it still be idle there
                track.job = None
            return False
        finally:
            self.planner_seconds.append(time.perf_counter() - started)
        self._planned_once = True
        for track in self.tracks.values():  # a stall so far is forgotten: this plan is every vehicle's news
            track.stalled_since, track.stalled_because, track.retry_at = None, None, -INF
        for vid, plan in result.plans.items():
            self._adopt(self.tracks[vid], plan, t, bases[vid])
        for vid, why in result.stalled.items():  # waiting safely for now; tried again like any stalled replan
            self._note_stall(self.tracks[vid], why, t)
        for track in self.tracks.values():
            if track.unavailable is not None:
                self._take_out(track, track.unavailable, t)
        return True

    def _park_job(self, track: Track, at: str) -> Job:
        """Park on the side it stands on; when every spot there is taken for good and it may cross now, park on
        the other side, driving empty across (the gate rule still decides at the crossing), unless an operator
        holds every arrival gate there (it would wait for the hold on the bridge). A vehicle parks on
        the side it delivered to, so deliveries one way fill that side's parking: with 200 AGVs in
        ``target_2030`` vehicles done at a dock found no spot and stood on the dock for good."""
        side = self._side_of(track, at)
        other = next(s for s in self.corridor.jurisdictions if s != side)
        here = self._parking(side)
        if self._free_spot(here, track.id) or not self._profile_now(track).cross_border \
                or self._arrivals_closed(other) is not None:
            return Job(JobKind.PARK, here)
        there = self._parking(other)
        if not self._free_spot(there, track.id):
            return Job(JobKind.PARK, here)
        log.info("%s: every parking spot on the %s side is taken: parking on the other side", track.id, side)
        return Job(JobKind.PARK, there)

    def _side_of(self, track: Track, node: str) -> str:
        """The side the vehicle is on at ``node``: in relay its home side, which it never leaves (the handoff pad,
        on the border line, is a node of one side on the map: a vehicle of the other side on it was sent to park, or
        to hold a cancelled load, on a side it cannot reach, and stood on the pad for good)."""
        return track.record.home if self.relay is not None else self.corridor.nodes[node].jurisdiction

    def _free_spot(self, spots: tuple[str, ...], vehicle_id: str) -> bool:
        """One of ``spots`` is not taken for good by another vehicle (parked there, or on its way to park)."""
        return any(not self.planner.table.holders_for_good(spot) - {vehicle_id} for spot in spots)

    def _replan(self, track: Track, t: float) -> None:
        """Plan the vehicle again from where its base ends. Stalled (someone stands in its way for now): it
        waits where the planner left it safely and is tried again a little later."""
        start = base_end(self.corridor, track)
        started = time.perf_counter()
        try:
            result = self.planner.replan(self._request(track, start, t), now=t)
        except PlannerError as exc:
            log.warning("no plan for %s: %s", track.id, exc)
            track.retry_at = t + RETRY_PLAN_S
            return
        finally:
            self.planner_seconds.append(time.perf_counter() - started)
        self._apply(result, t, planned_for=track.id)
        if track.id in result.stalled and self._charger_taken(track, t):
            return
        if track.id in result.stalled:
            # said once a stall (every retry at INFO was 27 % of the loop thread's replanning in bench_fleet)
            log.log(logging.INFO if track.stalled_since is None else logging.DEBUG, "%s stalled: %s", track.id,
                    result.stalled[track.id])
            self._note_stall(track, result.stalled[track.id], t)
        else:
            track.stalled_since = track.stalled_because = None

    @staticmethod
    def _note_stall(track: Track, why: str, t: float) -> None:
        """The vehicle's new plan only has it wait (the planner's fallback: a bay, where it stands): tried again a
        little later, stalled since its first such plan."""
        track.needs_plan, track.retry_at = True, t + RETRY_PLAN_S
        track.stalled_since = t if track.stalled_since is None else track.stalled_since
        track.stalled_because = why

    def _charger_taken(self, track: Track, t: float) -> bool:
        """Sent to charge, the vehicle found its charger held for good by another (standing there, or sent there
        too): it does not wait for it but is free again, so that the next assignment round sends it to a charger
        no one holds, if there is one. Before, it waited for as long as the other stood there (hours, in a day
        of target_2030), and it had the whole fleet planned again every ``FULL_REPLAN_AFTER_S`` meanwhile."""
        job = track.job
        if job is None or job.kind != JobKind.CHARGE \
                or any(not self.planner.table.holders_for_good(goal) - {track.id} for goal in job.goals):
            return False
        log.info("%s: charger %s taken by another vehicle: free for the next assignment round", track.id,
                 ", ".join(job.goals))
        track.job = None
        track.needs_plan, track.retry_at = True, t  # planned to stay where its base ends
        track.stalled_since = track.stalled_because = None
        return True

    def _apply(self, result: FleetPlan, t: float, planned_for: str | None = None) -> None:
        """Adopt the plans of a replan (of ``planned_for``, whose stall the caller sees to) or of a breakdown's: every
        other vehicle it reports stalled, planned again with it and left waiting (the planner's fallback), or left
        on the lane into a place held for good, is noted so and tried again a little later. Before, only the
        replanned vehicle's stall was: another waited at its bay for good, its order ``to_drop``, with no alarm and
        no reason shown (the fresh-clone CI's end-to-end run: 19 of 20 orders delivered, the last vehicle at a CN
        inspection bay)."""
        for vid, plan in result.plans.items():
            self._adopt(self.tracks[vid], plan, t)
        for vid, why in result.stalled.items():
            if vid != planned_for:
                self._note_stall(self.tracks[vid], why, t)

    def _adopt(self, track: Track, plan: TimedPlan, t: float, base: tuple[str, int | None] | None = None,
               released: int = -1) -> None:
        """Take a new plan: it starts where the vehicle's base ends (or the base end lies on it). ``base``: that
        node and its sequence id (``base_end_at``), when the caller has them already. ``released``: the step of
        the plan up to which it was released to the vehicle already, released again at once."""
        end, seq = base if base is not None else base_end_at(self.corridor, track)
        index = _first_step_at(plan, end)
        if index is None:  # planned from where the planner thought the vehicle was: plan again from the truth
            track.needs_plan = True
            return
        new_order = seq is None
        old = track.plan
        # standing at the node it had reached: it has been there since then (a dock's load or unload time runs on)
        since = track.arrived_at.get(track.reached) if old is not None and 0 <= track.reached < len(old.steps) \
            and old.steps[track.reached].node == end else None
        track.way_to_plan = {} if seq is None else self._way_to_plan(track, old, seq) if old is not None \
            else way_reported_to_plan(track, seq)
        if track.record.released_way is not None:  # planned in this process: its own record of the way serves now
            track.record = track.record.model_copy(update={"released_way": None})
        track.plan, track.first, track.released, track.adopted_at = plan, index, max(index, released), index
        track.waits_because = None  # (asked again at its next release)
        track.seq0 = (seq if seq is not None else 0) - 2 * index
        state = track.state
        track.reached = index if state is not None and state.last_node_id == end and not [
            n for n in state.node_states if n.released] else index - 1
        track.arrived_at = {index: t if since is None else since} if track.reached == index else {}
        track.approach_s = self._approach_s(track, end, seq) if track.reached < index else 0.0
        track.needs_plan = False
        if track.reached == index and since is None:
            # found standing there (a restart of the fleet manager, the vehicle at its gate): an arrival all the
            # same. Before, the order said ``loaded`` for as long as the vehicle waited there for customs
            self._arrived(track, index, t)
        if new_order:
            track.vda_order_id, update_id = f"{track.id}-{uuid.uuid4().hex[:8]}", 0
        else:
            holds_it = state is not None and state.order_id == track.vda_order_id
            update_id = max(track.update_id, state.order_update_id if state is not None and holds_it else 0) + 1
        if not _same_stay(old, plan):
            self._plans_changed = True
        self._send(track, update_id)

    @staticmethod
    def _way_to_plan(track: Track, old: TimedPlan, start: int) -> dict[int, str]:
        """The released way the vehicle may still drive before a new plan that starts at sequence id ``start``:
        what was left of it before the old plan, and the old plan's steps after the one it last reached (from where
        the old plan was taken: those of every update it released, not only the last one's, which left out a
        vehicle's way behind where the last update began). What lies behind the node it last reached is left out
        (it is never looked up again; kept, an order extended all day long carried thousands of passed nodes from
        plan to plan)."""
        state = track.state
        behind = state.last_node_sequence_id if state is not None and state.order_id == track.vda_order_id else -1
        way = {s: node for s, node in track.way_to_plan.items() if behind <= s < start}
        for k in range(max(track.reached + 1, track.adopted_at), len(old.steps)):
            s = track.seq0 + 2 * k
            if s >= start:
                break
            way[s] = old.steps[k].node
        return way

    def _approach_s(self, track: Track, end: str, start: int | None) -> float:
        """The drive from the node the vehicle last reached to ``end``, where its released way ends (sequence id
        ``start``; None: a new order starts there), along that way: the nodes of it the vehicle reports still to
        drive and those the fleet released after them (``Track.way_to_plan``). A plan starts at ``end``, timed as
        if the vehicle stood there now: after a restart (or any replan) while it drove from its gate to the bridge,
        it was reported "390 s behind its plan" on reaching the bridge deck. Taken as the fastest route from where
        it stood, a released way that went a long way round first was a delay: on the relay day vehicles waiting
        for a partner, sent on from one waiting place to the next, were "357 s behind" (through the inspection
        yard) or "1787 s behind" (twice round the ring road) on reaching the last one, having never stopped."""
        state = track.state
        if state is None or state.last_node_id not in self.corridor.nodes:
            return 0.0
        ahead: list[str] = []
        if start is not None:
            way = dict(track.way_to_plan)
            ours = track.vda_order_id is not None and state.order_id == track.vda_order_id
            if ours:
                way.update((n.sequence_id, n.node_id) for n in state.node_states if n.released)
            behind = state.last_node_sequence_id if ours else -1
            ahead = [way[s] for s in sorted(way) if behind < s < start]
        nodes = [state.last_node_id, *ahead, end]
        return sum(self._drive_s(here, there) for here, there in itertools.pairwise(nodes))

    def _drive_s(self, here: str, there: str) -> float:
        """The drive from ``here`` to ``there``: the lane between them (a released way's next node), else the
        fastest route (``_fastest_from``, which would search from every node of a long way)."""
        lane = self.corridor.graph.get_edge_data(here, there)
        return float(lane["travel_time"]) if lane is not None else self._fastest_from(here).get(there, (0.0, 0.0))[0]

    def _fastest_from(self, node: str) -> Mapping[str, tuple[float, float]]:
        """``{target: (time_s, length_m)}`` over the fastest routes from ``node`` on the whole map (no profile's
        limits): ``TravelTimes.from_node``'s answer, kept here by node alone. Asking it with a ``VehicleProfile()``
        made, hashed and compared field by field each time was most of the cost of ``_approach_s``, asked for
        each vehicle that adopts a plan while it drives (``_on_the_way`` asks it too). The map does not change, so
        neither does the answer."""
        times = self._fastest.get(node)
        if times is None:
            times = self._fastest[node] = self._travel.from_node(node, VehicleProfile())
        return times

    def _absorb_delay(self, track: Track, k: int, t: float) -> None:
        try:
            result = self.planner.delay(track.id, k, t)
        except (PlannerError, ValueError, KeyError) as exc:
            log.warning("delay of %s not absorbed: %s", track.id, exc)
            return
        for vid, plan in result.plans.items():
            other = self.tracks[vid]
            if other.plan is not None and [s.node for s in plan.steps] == [s.node for s in other.plan.steps]:
                other.plan = plan  # same route, new times: nothing to send
        self._plans_changed = True

    def _release_cleared(self, t: float, news_only: bool = False) -> bool:
        """Plan the vehicles whose clearance came past their gates and release them, before anything else (True:
        some were). A tick looks at the gates at its start, after reading the states and, for customs news that
        came meanwhile (``news_only``), between its later phases: news that came during a tick waited for all of
        it and then the next tick's start (bench_fleet, the clearance's tail)."""
        if news_only and not self._clearance_news:
            return False
        cleared = self._plan_cleared(t)
        if cleared:
            self._release_all(t, first=cleared)
        return bool(cleared)

    def _plan_cleared(self, t: float) -> list[str]:
        """Vehicles waiting at a gate whose clearance came are planned past it first (the release follows in
        this same tick); those planned (in relay, each deliverer and its partner). The gate rule is asked again
        only after customs news, or once a second (a customs link timing out is no event)."""
        if not self._clearance_news and t - self._last_gate_check < GATE_RECHECK_S:
            return []
        self._clearance_news, self._last_gate_check = False, t
        news_since, self._news_since = self._news_since, None
        planned: list[str] = []
        for track in self.tracks.values():
            if track.job is None:  # (no load to be cleared: most of a busy day's vehicles, at every tick)
                continue
            gate = self._cleared_at_gate(track)
            if gate is not None:
                if self.relay is not None:
                    if self._pair_up(track, t, self.relay):
                        planned += [track.id, track.job.partner or track.id]
                    continue
                track.job.cleared, track.needs_plan = True, True
                if news_since is not None:
                    self._cleared_since[track.id] = news_since
                if track.state is not None:
                    self._replan(track, t)
                    planned.append(track.id)
                    if track.stalled_because is not None and track.plan is not None and track.plan.end == gate:
                        # stalled, and the planner's fallback keeps it there (another may take it across to a
                        # bay): news to an operator, as a stall is logged once
                        log.info("%s cleared at its gate, its way on taken for now: %s", track.id,
                                 track.stalled_because)
        return planned

    # --- relay: the meeting at the handoff pad --------------------------------------------------------------

    def _free_on(self, side: str) -> list[Track]:
        """Relay: the free vehicles of ``side``, each of which may receive a load at the pad."""
        return [tr for tr in self.tracks.values() if tr.record.home == side and is_free(tr)]

    def _no_meeting_yet(self, deliverer: Track, relay: Relay) -> str:
        """Why a deliverer its gate lets go waits there with no partner (``_pair_up``): said in its gate's queue,
        which showed it "crossing allowed" while it stood."""
        if self._meeting_on_its_way(relay):
            return "another meeting is on its way to the handoff pad: this one is set up after it"
        job = deliverer.job
        assert job is not None and job.order is not None
        target = job.order.target
        if not self._free_on(target):
            return f"no vehicle of the {target} side is free to take the load on at the handoff pad"
        on_the_pad = sorted(self.planner.table.holders_for_good(relay.pad) - {deliverer.id})
        if on_the_pad:  # (a vehicle broken down there, or out of service: said, not "tried again" for hours)
            blocker = self.tracks.get(on_the_pad[0])
            why = f" ({blocker.unavailable})" if blocker is not None and blocker.unavailable is not None else ""
            return f"the handoff pad is taken by {on_the_pad[0]}{why}: no meeting there until it leaves"
        return "its meeting at the handoff pad is not planned yet: tried again"

    def _pair_up(self, deliverer: Track, t: float, relay: Relay) -> bool:
        """A loaded vehicle cleared at its side's gate: find the free vehicle of the arrival side nearest to the
        pad and time both to meet there (``plan_relay``). None free, or another meeting still on its way to the
        pad: it waits at the gate and is tried again."""
        job = deliverer.job
        assert job is not None and job.order is not None
        order = job.order
        source, target = order.source, order.target
        free = self._free_on(target)
        if not free or deliverer.state is None or self._meeting_on_its_way(relay):
            return False
        to_pad = self._travel.to_nearest([relay.pad])
        receiver = min(free, key=lambda tr: (to_pad.get(base_end(self.corridor, tr), INF), tr.id))
        self._set_meeting(deliverer, receiver, order)
        delivering, receiving = (PlanRequest(tr.id, base_end(self.corridor, tr), goals, t, tr.profile,
                                             priority=order.priority)
                                 for tr, goals in ((deliverer, self._parking(source)),
                                                   (receiver, self._receiving_goals(receiver.id, order, relay.pad))))
        started = time.perf_counter()
        try:
            meeting = plan_relay(self.planner, delivering, receiving, relay.pad, relay.transfer_s)
        except PlannerError as exc:
            log.info("relay %s -> %s not planned now: %s", deliverer.id, receiver.id, exc)
            deliverer.job, receiver.job = Job(JobKind.HAND_OVER, (relay.pad,), order), None
            for track in (deliverer, receiver):
                self._replan(track, t)  # plan_relay let go of both: each gets its own plan back
            return False
        finally:
            self.planner_seconds.append(time.perf_counter() - started)
        log.info("relay of %s: %s meets %s at %s at %.0f s", order.id, deliverer.id, receiver.id, relay.pad,
                 meeting.meet_at)
        self._adopt(deliverer, meeting.deliverer, t)
        self._adopt(receiver, meeting.receiver, t)
        return True

    def _receiving_goals(self, receiver: str, order: OrderPublic, pad: str) -> tuple[str, ...]:
        """Where a receiver takes the load from the pad: the drop dock; while another vehicle holds that for good
        (a deliverer loaded there, waiting for a gate lane), a holding bay of its side on the way, from which it
        goes on once the dock is free (as a cleared vehicle does in through operation, finding 5). Waiting for
        the dock before the meeting, the deliverer held its gate lane, and the deliverer at the dock waited for
        that lane: no meeting was paired again (issue #13, finding 10)."""
        if not self.planner.table.holders_for_good(order.drop) - {receiver}:
            return (order.drop,)
        side = self.corridor.nodes[order.drop].jurisdiction
        bays = self._on_the_way(pad, order.drop, self.corridor.nodes_of(NodeKind.HOLDING, jurisdiction=side),
                                BAY_DETOUR)
        return bays or (order.drop,)

    def _meeting_on_its_way(self, relay: Relay) -> bool:
        """A meeting at the pad with a vehicle not there yet. Meetings are paired one after another: two on their
        way at once, each side's vehicles on one lane to the pad, were seen to end in a ring (one meeting's
        vehicles on the pad waiting for partners queued behind the other's), which no plan undoes."""
        return any(None in arrivals for arrivals in self._open_meetings(relay.pad))

    def _open_meetings(self, pad: str) -> Iterator[tuple[float | None, float | None]]:
        """For each meeting not yet handed over: when its deliverer and its receiver reached the pad (None: not
        there)."""
        now = self.now()
        for tr in self.tracks.values():
            if tr.job is not None and tr.job.kind == JobKind.HAND_OVER and tr.job.partner is not None \
                    and not tr.job.handed_over:
                yield custody_arrival(tr, now, pad), custody_arrival(self.tracks[tr.job.partner], now, pad)

    def _follow_meetings(self, t: float, relay: Relay) -> None:
        """Both vehicles of a meeting at the pad: the order is crossing; once the transfer has taken its time,
        the custody handoff is recorded (both vehicles, both gate decisions) and the order rides on with the
        receiver, the deliverer drives home."""
        for deliverer in self.tracks.values():
            job = deliverer.job
            if job is None or job.kind != JobKind.HAND_OVER or job.partner is None or job.order is None:
                continue
            receiver = self.tracks[job.partner]
            arrived = [custody_arrival(tr, self.now(), relay.pad) for tr in (deliverer, receiver)]
            if None in arrived:
                continue
            if job.order.state in SHORT_OF_THE_LINE:
                self._advance(deliverer, OrderState.CROSSING, f"{deliverer.id} and {receiver.id} at {relay.pad}: "
                              "the transfer begins", {"receiver": receiver.id})
            held_up = self._handoff_held_up(deliverer, receiver, relay.pad)
            deliverer.waits_because = receiver.waits_because = held_up
            if held_up is not None or t - max(a for a in arrived if a is not None) < relay.transfer_s:
                continue
            order = job.order
            self.gate.record_crossing(receiver.id, order.direction, order.consignments,
                                      receiver.crossing_decision_seq, handed_over_by=deliverer.id,
                                      handed_over_by_decision_seq=deliverer.crossing_decision_seq, at=relay.pad)
            cause = {"kind": "vehicle", "vehicle_id": receiver.id, "from_vehicle_id": deliverer.id,
                     "decision_audit_seq": receiver.crossing_decision_seq,
                     "from_decision_audit_seq": deliverer.crossing_decision_seq}
            self._write_moves()  # (the move to crossing above, made in this same tick)
            order = self.orders.transition(order.id, OrderState.TO_DROP, f"handed over at {relay.pad} from "
                                           f"{deliverer.id} to {receiver.id}", cause, vehicle_id=receiver.id)
            deliverer.job = Job(JobKind.PARK, job.goals)
            if receiver.job is not None:
                receiver.job.order, receiver.job.handed_over = order, True
            for track in (deliverer, receiver):
                # stalled on the pad (a fallback's plan that ends there): no plan on, and nothing else would
                # give it one while the others only queue for a lane (finding 9); a receiver bound for a holding
                # bay, its drop dock taken (finding 10): on to the dock when it is free
                track.needs_plan |= track.plan is not None and (track.plan.end == relay.pad or (
                    track is receiver and receiver.job is not None and track.plan.end not in receiver.job.goals))
            self._save_vda(deliverer)
            self._save_vda(receiver)

    def _handoff_held_up(self, deliverer: Track, receiver: Track, pad: str) -> str | None:
        """Why the load may not change hands at the pad now (None: it may once the transfer has had its time): a
        vehicle of the meeting cannot go on (a fault, offline, an emergency stop, out of service), or the gate rule
        no longer lets one of them across (a hold, a revocation, a customs link down, a gate held: both clearances
        are asked at the handoff, as at the pad's entry). Both wait on the pad meanwhile, the load aboard the
        deliverer, the order ``crossing``; a clearance lost there is flagged to both customs. Before, the handoff
        was recorded whatever had happened since both came: a load held by customs mid-transfer was handed over and
        driven into the far side, and a deliverer whose partner broke down there drove home with it."""
        for track in (deliverer, receiver):
            if track.unavailable is not None:
                return f"the handoff at {pad} waits for {track.id}, which cannot go on: {track.unavailable}"
        for track in (deliverer, receiver):
            if not self._allowed_now(track):
                reasons = self._reasons_not_across(track)
                self.alarms.raise_alarm(
                    AlarmKind.CROSSING_FLAGGED, deliverer.id,
                    f"{deliverer.id}: clearance lost during the transfer to {receiver.id} at {pad} ({track.id}: "
                    f"{reasons}); the load stays aboard {deliverer.id} on the pad until the gate rule allows both "
                    "again")
                return f"the handoff at {pad} waits: {track.id} may not take the load across: {reasons}"
        return None

    def _transfer_begun(self, track: Track) -> bool:
        """Relay: the vehicle and its partner both stand at the pad for their transfer (the order ``crossing``)."""
        job = track.job
        if self.relay is None or job is None or job.partner is None or job.handed_over:
            return False
        partner = self.tracks[job.partner]
        now = self.now()
        return custody_arrival(track, now, self.relay.pad) is not None \
            and custody_arrival(partner, now, self.relay.pad) is not None

    def _break_meeting(self, track: Track) -> None:
        """The vehicle will not come to its meeting at the pad: its partner goes home if it was to receive,
        and waits for another partner if it was to hand over."""
        job = track.job
        if self.relay is None or job is None or job.partner is None or job.handed_over:
            return
        partner = self.tracks[job.partner]
        other = partner.job
        receiving = job.kind == JobKind.DELIVER
        if other is not None and other.partner == track.id:
            partner.job = Job(JobKind.HAND_OVER, (self.relay.pad,), other.order) if receiving else None
            partner.needs_plan = True
        job.partner = None
        if receiving:  # it carries nothing of the order: no job left (it was kept, and the vehicle never free)
            track.job = None

    def _parking(self, side: str) -> tuple[str, ...]:
        return tuple(n.id for n in self.corridor.nodes_of(NodeKind.PARKING, jurisdiction=side))

    def _replan_pending(self, t: float) -> None:
        """Replan the vehicles that need it, at most ``replans_per_tick`` (the rest wait for the next tick)."""
        stalled_long = [tr.id for tr in self.tracks.values() if tr.stalled_since is not None
                        and t - tr.stalled_since > FULL_REPLAN_AFTER_S and tr.unavailable is None
                        and not self._queueing(tr)]
        if stalled_long and t - self._last_full_replan > FULL_REPLAN_AFTER_S and not self._transfer_under_way():
            # Vehicles left waiting where they stand can block each other for good (each on the other's only
            # way); one vehicle's replan cannot move the other. A full replan promotes the blockers.
            log.warning("vehicles stalled for over %.0f s (%s): planning the whole fleet again", FULL_REPLAN_AFTER_S,
                        ", ".join(stalled_long))
            started = time.perf_counter()
            if self._plan_everyone(t, self._clearance_stops_the_plan()):
                self._last_full_replan, self._full_plan_yields = t, 0
            else:  # stalled as before: tried again next tick, after the release
                self._full_plan_yields += 1
                self._clearance_news = True  # (the next tick asks the gate rule whatever the time since the last)
                log.info("full plan given up after %.0f ms for a vehicle cleared at its gate (%d in a row)",
                         (time.perf_counter() - started) * 1000, self._full_plan_yields)
            return
        due = []
        for track in self.tracks.values():
            if track.__class__ is RestingTrack or track.unavailable is not None:
                continue
            plan = track.plan
            if track.job is None and plan is not None and track.reached == len(plan.steps) - 1 \
                    and plan.steps[-1].node not in self._rests and self._offered.get(track.id) is plan \
                    and self.link.factsheet(track.id) is not None:
                # idle on a dock or a gate, offered work and given none: clear the way. Not before an assignment
                # round has offered it work (one put off by a busy tick, or one while customs' word on it was still
                # to come: _offers), nor a vehicle whose factsheet has not come (of a size unknown, it is not sent
                # driving): at a busy start the order waiting at its dock is its own
                track.job = self._park_job(track, plan.end)
                track.needs_plan = True
            if track.needs_plan and track.state is not None and t >= track.retry_at:
                due.append(track)
        due.sort(key=lambda tr: tr.retry_at)
        for done, track in enumerate(due[:self.settings.replans_per_tick]):  # the longest waiting first: none starves
            if done and (self._over_budget() or self._clearance_news):  # customs news goes first (_release_cleared)
                break
            self._replan(track, t)

    def _clearance_stops_the_plan(self) -> Callable[[], bool] | None:
        """A full plan's ``should_stop`` on the loop's thread: since the plan began, customs news let a vehicle
        waiting at its gate go (one that could not before). None, the plan runs to its end, when the caller drives
        ``tick()`` itself (the simulator's fast mode, deterministic) or after ``FULL_PLAN_YIELDS_MAX`` plans dropped
        in a row. A vehicle's release past its gate waited for the full plan (bench_fleet: the clearance's p99)."""
        if self._deadline is None or self._full_plan_yields >= FULL_PLAN_YIELDS_MAX:
            return None
        may_go_before = self._may_go_at_gate()
        events_seen = self._customs_events

        def newly_cleared() -> bool:
            nonlocal events_seen
            if self._customs_events == events_seen:
                return False
            events_seen = self._customs_events
            return bool(self._may_go_at_gate() - may_go_before)

        return newly_cleared

    def _may_go_at_gate(self) -> set[str]:
        """The vehicles waiting at a gate that the gate rule lets go now (and no operator holds the gate)."""
        return {tr.id for tr in self.tracks.values() if self._cleared_at_gate(tr) is not None}

    def _cleared_at_gate(self, track: Track) -> str | None:
        """The gate the vehicle waits at, if the gate rule lets it go now and no operator holds the gate."""
        gate = waiting_at_gate(track, self._outbound_gates) if track.unavailable is None else None
        return gate if gate is not None and self._allowed_now(track) else None

    def _transfer_under_way(self) -> bool:
        """Relay: both vehicles of a meeting are on the pad and the handoff is not yet recorded. The whole fleet is
        not planned again meanwhile: from the pad, both were seen to get plans without the custody stop (the
        planner's fallback) and drive off untransferred, while the next meeting, paired once both were there,
        came onto the lanes to the pad: a ring (a day of kim_thanh, jammed from about 07:00). It waits at most
        the transfer's time."""
        return self.relay is not None and any(None not in arrivals for arrivals in self._open_meetings(self.relay.pad))

    def _queueing(self, track: Track) -> bool:
        """Stalled only because each of its goals is taken for good by vehicles waiting at a gate for their
        clearance or at a pickup dock for their load (or on their way to wait there), but for the gate lanes it
        is to keep free (relay): a queue, which planning the whole fleet again cannot shorten. Not a queue: left
        standing where it may not wait (a waypoint, the planner's last resort), it is in the way of others, say of
        the vehicle on its way to the gate lane it waits for (finding 11): a full replan plans it first."""
        request = self.planner.requests.get(track.id)
        if request is None or self.corridor.nodes[request.start].kind not in WAITING_KINDS:
            return False
        free = 0
        for goal in request.hold_at or request.goals:
            holders = self.planner.table.holders_for_good(goal) - {track.id}
            if not holders:
                free += 1
            elif not all(h in self.tracks and (bound_for_gate(self.tracks[h]) or bound_for_pickup(self.tracks[h]))
                         for h in holders):
                return False
        return free <= request.keep_free

    # --- assignment -------------------------------------------------------------------------------------------------

    def _assign(self, t: float) -> None:
        """Assign the most urgent waiting orders to the nearest free vehicles: only when something new came
        (an order waiting anew, a vehicle newly free) or every ``ASSIGN_RETRY_S``."""
        if self._over_budget() and t - self._last_assign < ASSIGN_DEFER_MAX_S:
            return
        free = [track for track in self.tracks.values() if track.__class__ is RestingTrack or is_free(track)]
        free_ids = {track.id for track in free}
        news = self._orders_news or not free_ids <= self._free_before
        self._free_before = free_ids
        if not free or not (news or t - self._last_assign >= ASSIGN_RETRY_S):
            return
        self._orders_news, self._last_assign = False, t
        cap = self.settings.assign_max_orders
        unkept = (o for o in self.orders.waiting(self._waiting_read(), ready_by=self.clock())
                  if not self._kept_by_customs(o))
        max_trips = None
        if self.relay is not None:  # a receiver kept free for every load on its way to the pad (finding 10)
            waiting = list(unkept)
            max_trips = orders_to_give_out(self.tracks.values(), self.corridor.jurisdictions)
        else:  # no more loads before a side's gates than its gate lanes can take (finding 15)
            left = room_left(self.tracks.values(), {side: lanes * self.settings.loads_per_gate_lane
                                                    for side, lanes in self._gate_lanes.items()})
            if any(loads > 0 for loads in left.values()):
                waiting = list(unkept)
                given = within_gate_capacity(waiting, left)
                waiting, max_trips = (given, None) if given else (waiting, 0)  # 0: low vehicles still go to charge
            else:
                # no trip to give out, whatever waits: customs is asked about the orders the round takes only, not
                # about all it read (most rounds of a busy day, the gate lanes full: a day of target_2030 asked
                # about 791,115 orders in 12,358 rounds, a seventh of the assignment's CPU)
                waiting, max_trips = list(itertools.islice(unkept, cap)), 0
        waiting = waiting[:cap]
        if not waiting:
            self._offered = self._offers(free, t)  # nothing to give anyone
            return
        sheets = {tr.id: sheet for tr in free if (sheet := self._capabilities(tr, t)) is not None}
        free = [tr for tr in free if tr.id in sheets]
        self._offered = self._offers(free, t)
        if not free:
            return
        if max_trips == 0 and not any(self._battery(tr) < self.settings.low_battery_percent / 100 for tr in free):
            self._write_moves()  # no trip to give out and no vehicle to send to charge: the round ends as it would
            return
        if len(free) > self.settings.assign_max_vehicles:
            to_pickup = self._travel.to_nearest(sorted({o.pickup for o in waiting}))
            free = sorted(free, key=lambda tr: to_pickup.get(self._base_end(tr), INF))[
                :self.settings.assign_max_vehicles]
        wall = self.clock()
        transport = [self._transport_order(o, wall) for o in waiting]
        status = [VehicleStatus(tr.id, self._base_end(tr), t, self._battery(tr), self._profile_now(tr),
                                payload_kg=sheets[tr.id].max_load_mass)
                  for tr in free]
        energy = EnergyModel(self.settings.battery_percent_per_km / 100, self.settings.reserve_battery_percent / 100,
                             self.settings.low_battery_percent / 100)
        planned_ends = {tr.plan.end for tr in self.tracks.values() if tr.plan is not None}
        chargers = [n.id for n in self.corridor.nodes_of(NodeKind.CHARGER)
                    if n.id not in planned_ends and not self.planner.table.holders_for_good(n.id)]
        trips: tuple[Trip, ...]
        to_charger: Mapping[str, str]
        try:
            if max_trips == 0:  # no trip to give out (the gate lanes are full): only the low vehicles to chargers
                trips, to_charger = (), chargers_only(self.corridor.graph, transport, status, chargers, energy,
                                                      self._travel)
            else:
                assignment = assign_online(self.corridor.graph, transport, status, chargers, energy, self._weights,
                                           now_s=t, time_limit_s=self.settings.assign_time_limit_s,
                                           travel=self._travel, pairs=False, max_trips=max_trips,  # one order a trip
                                           work_limit=self.settings.assign_work_limit)
                trips, to_charger, self._left_out = assignment.trips, assignment.to_charger, assignment.unassigned
        except PlannerError as exc:
            log.warning("assignment failed: %s", exc)
            return
        assert all(len(trip.orders) == 1 for trip in trips)  # pairs=False
        self._orders_news = bool(trips)  # more may wait behind this round's caps: go on next tick
        self._write_moves()
        assigned = self.orders.transition_many([
            Move(trip.orders[0], OrderState.ASSIGNED, f"assigned to {trip.vehicle_id}",
                       {"kind": "system", "cost": round(trip.cost, 1)}, vehicle_id=trip.vehicle_id)
            for trip in trips])
        for order in assigned:
            track = self.tracks[order.vehicle_id or ""]
            track.job = self._delivery(order)
            track.needs_plan = True
        for vehicle_id, charger in to_charger.items():
            track = self.tracks[vehicle_id]
            track.job = Job(JobKind.CHARGE, (charger,))
            track.needs_plan = True

    def _base_end(self, track: Track) -> str:
        """``base_end``: for a resting vehicle, as noted when it came to rest (``_resting_at``)."""
        return self._resting_at[track.id] if track.__class__ is RestingTrack else base_end(self.corridor, track)

    @staticmethod
    def _battery(track: Track) -> float:
        """The vehicle's charge as the assignment reads it (a fraction, full when it has reported nothing)."""
        return min(1.0, (track.state.battery_charge if track.state else 100) / 100)

    def _transport_order(self, order: OrderPublic, wall: float) -> TransportOrder:
        """The order as the assignment sees it, on the dispatch clock. Ready no later than it is due: an order
        past its latest delivery with no earliest start (ready now), or one due before this process started,
        was an invalid request, raised while the round was built: every tick failed there, and the replanning and
        releases after it never ran (issue #13, finding 12). ``wall``: the clock's reading for the round."""
        due = (order.latest_delivery or wall + 86400) - self.epoch
        ready = max(0.0, (order.earliest_start or wall) - self.epoch)
        return TransportOrder(order.id, order.pickup, self.relay.pad if self.relay else order.drop,
                              len(order.consignments), min(ready, due), due, float(order.priority),
                              mass_kg=len(order.consignments) * self.settings.container_mass_kg)

    def _kept_by_customs(self, order: OrderPublic) -> bool:
        """One of its consignments is under inspection, held or revoked by either side: the container waits in the
        yard, not on an AGV (which would only wait with it, and at the gate hold one of the side's few lanes
        for as long as a physical inspection takes: hours). Assigned once customs lets it go on."""
        return self.gate.any_in(order.consignments, KEPT_BY_CUSTOMS)

    def _capabilities(self, track: Track, t: float) -> Factsheet | None:
        """The vehicle's factsheet if it can do transport work (pick and drop); None: it takes no order. Its top
        speed goes into its profile (plans drive each lane at the lower of the lane's and the vehicle's). Every
        order crosses the border (or meets at the pad), so a vehicle that has published no factsheet yet takes
        none (safety first: its size, payload and actions are unknown) and is asked for it."""
        sheet = self.link.factsheet(track.id)
        if sheet is None:
            if t - track.factsheet_asked >= FACTSHEET_ASK_S:
                if track.factsheet_asked == -INF:  # said once: a vehicle that never sends one is asked on and on
                    log.info("%s has published no factsheet: asking for it; no order meanwhile", track.id)
                    track.factsheet_first_asked = t
                track.factsheet_asked = t
                self.link.send_actions(track.id, [InstantAction(f"factsheet-{uuid.uuid4().hex[:8]}",
                                                                ActionType.FACTSHEET_REQUEST)])
            asked_for = t - track.factsheet_first_asked
            if asked_for > FACTSHEET_ALARM_S:
                self.alarms.raise_alarm(AlarmKind.VEHICLE_FAULT, track.id, f"{track.id} has published no factsheet in "
                                        f"{asked_for:.0f} s of asking: it takes no order and stays where it stands")
            return None
        read = self._sheets_read.get(track.id)
        if read is None or read.sheet is not sheet:
            read = self._sheets_read[track.id] = self._read_sheet(track, sheet)
        if track.profile.max_speed != read.max_speed:  # planned at its own speed where it is slower than the map's
            track.profile = dataclasses.replace(track.profile, max_speed=read.max_speed)
        return sheet if read.takes_orders else None

    def _read_sheet(self, track: Track, sheet: Factsheet) -> _SheetRead:
        """A factsheet as the assignment reads it, once per sheet published. A top speed that is no positive
        number (a vendor's bug, a lie) cannot time a plan: before, it made every tick fail at the assignment
        round, for the whole fleet (a vehicle started with a bad parameter, or anyone on the vehicle network
        publishing its factsheet); now the vehicle takes no order, and an alarm says why, until it publishes
        another."""
        speed = sheet.speed_max
        if not speed > 0:
            why = f"{track.id}'s factsheet says speedMax {speed} m/s: not a speed to plan with, it takes no order"
            if self.alarms.raise_alarm(AlarmKind.VEHICLE_FAULT, track.id, why, {"speed_max": speed}) is not None:
                log.warning("%s", why)
            return _SheetRead(sheet, None, False)
        cap = speed if speed < self._top_speed * (1 - SPEED_ROUNDING) else None
        return _SheetRead(sheet, cap, ORDER_ACTIONS <= set(sheet.actions))

    def _offers(self, free: list[Track], t: float) -> dict[str, TimedPlan | None]:
        """What this round offered each free vehicle (its plan then), for the replan step to clear the way of one
        idle on a dock or a gate that was offered work and given none; not a vehicle customs' word on which was
        still to come (offered no crossing for that, and parked, it would have left the order at its dock)."""
        settled = self._authorities_settled  # (then no vehicle's authorization is pending: most rounds ask none)
        return {tr.id: tr.plan for tr in free if settled or not self._authorization_pending(tr, t)}

    def _authorization_pending(self, track: Track, t: float) -> bool:
        """Registered to cross, and an authority has said nothing of it while its first word may still be coming:
        never heard from yet (a fresh deployment whose customs link is not up; the stop's CI: the demo's AGVs,
        offered the orders at their docks before the simulators had authorized them, drove off to park first), or
        first heard less than ``AUTHORIZATIONS_SETTLE_S`` ago (the demo again: a simulator sends its authorizations
        one event at a time, and three of four AGVs, offered work between its first and the rest, drove off their
        docks and fetched their orders 40 s later). Settled, an authority silent about a vehicle does not authorize
        it: it clears the way."""
        if not track.profile.cross_border or self._authorities_settled:
            return False
        settling = {name for name in self.gate.authorities
                    if (heard := self._first_heard.get(name)) is None or t - heard < AUTHORIZATIONS_SETTLE_S}
        return any(v.event_id is None and name in settling for name, v in self.gate.vehicle_state(track.id).items())

    def _profile_now(self, track: Track) -> VehicleProfile:
        """Its profile, less the crossing while both authorities do not authorize it: no cross-border work then."""
        authorized = all(v.authorized for v in self.gate.vehicle_state(track.id).values())
        return track.profile if authorized or not track.profile.cross_border else \
            dataclasses.replace(track.profile, cross_border=False)

    # --- release ------------------------------------------------------------------------------------------------------

    def _release_all(self, t: float, first: Collection[str] = ()) -> None:
        """Release each vehicle as far as the precedence of the plans allows, the vehicles ``first`` names before
        the others (a cleared vehicle's update past its gate waited behind the updates to the vehicles before it).
        A vehicle found waiting on another's event is not asked again until that vehicle's progress, its own plan
        or release, or the graph changed (``release_limit``): a tick costs little for the many that wait
        (docs/simulation-speed.md)."""
        if self._plans_changed:
            plans = {vid: tr.plan for vid, tr in self.tracks.items() if tr.plan is not None}
            self._dependencies = release_waits(self.planner.timed, plans)
            self._plans_changed = False
            self._release_waits.clear()
        done = Progress(self._progress)  # read for the vehicles asked about only
        waits = self._release_waits
        ahead = dict.fromkeys(first)
        in_order = itertools.chain((self.tracks[vid] for vid in ahead),
                                   (tr for tr in self.tracks.values() if tr.id not in ahead)) if ahead else \
            self.tracks.values()  # (most ticks: none first, and no filter to pass each vehicle through)
        for track in in_order:
            if track.__class__ is RestingTrack or track.plan is None or track.unavailable is not None \
                    or track.released == len(track.plan.steps) - 1:
                continue  # (all of it released already: nothing to ask)
            own = done.of(track.id)  # (as it was before this tick's releases, which may change it)
            wait = waits.get(track.id)
            if wait is not None and wait.plan is track.plan and wait.released == track.released \
                    and wait.own == own and done.of(wait.vehicle) == wait.progress:
                continue
            limit, waited = release_limit(self._dependencies, track.plan, track.released, done,
                                          ready=functools.partial(self._may_release, track, t=t))
            if limit > track.released:
                track.first, track.released = track.released, limit  # an update starts at the old base end
                self._send(track, track.update_id + 1)
                news_since = self._cleared_since.pop(track.id, None)
                if news_since is not None:
                    for listener in self.clearance_listeners:
                        listener(time.perf_counter() - news_since)
            if waited is None:
                waits.pop(track.id, None)
            else:
                waits[track.id] = ReleaseWait(track.plan, track.released, own, waited, done.of(waited))

    def _progress(self, vehicle_id: str) -> tuple[int, bool] | None:
        """How far the vehicle has come on its plan (the release rule's ``Progress``); None without a plan."""
        track = self.tracks.get(vehicle_id)
        if track is None or track.plan is None:
            return None
        return track.reached, has_left(self.corridor, track, self._clear_m)

    def _may_release(self, track: Track, step: int, t: float) -> bool:
        assert track.plan is not None
        before = step - 1
        plan = track.plan
        if plan.steps[before].action == "pickup" and (track.job is None or track.job.order is None
                                                      or track.job.order.state not in LOADED_STATES):
            return False  # on only once the vehicle reports the pick FINISHED (_follow_pick)
        if plan.steps[before].action in ("drop", "handoff") and plan.steps[before].depart > \
                plan.steps[before].arrive:
            dwell = plan.steps[before].depart - plan.steps[before].arrive
            if track.reached < before or t - track.arrived_at.get(before, t) < dwell:
                return False
        if plan.steps[before].action == CUSTODY and track.job is not None and track.job.partner is not None \
                and not track.job.handed_over:
            return False  # the transfer at the pad is not done
        if plan.steps[before].node in self._gates and track.job is not None and track.job.cleared \
                and self._carries_uncleared(track.job):
            # the release past the gate it was cleared at: released as before whatever the rule says now (were the
            # clearance lost since, the vehicle waits at the last node before the crossing, and is cleared there)
            decision = self._decide(track)
            if decision is not None:
                self._clear(track, decision, f"released past gate {plan.steps[before].node}")
        lane = self.corridor.lane_between(plan.steps[before].node, plan.steps[step].node)
        if lane.crossing and plan.steps[before].node in self._pre_crossing:
            if track.reached < before:
                return False
            meeting = self._meeting_wait(track, plan.steps[step].node)
            decision = self._decide(track) if meeting is None else None
            if decision is None:  # its own rule's reason first
                track.waits_because = meeting if meeting is not None and self._allowed_now(track) \
                    else self._not_across(track)
                return False
            track.waits_because = None
            # its own record: other threads append to the log meanwhile (customs events, staff)
            track.crossing_decision_seq = decision.audit_seq
            if decision.consignments:  # (an empty release taken back before must not be recorded with this one)
                self._empty_crossings.pop(track.id, None)
            else:
                self._empty_crossings[track.id] = decision
            # not cleared at its gate (its clearance lost on the way since, or a restart found it past its gates)
            if track.job is not None and self._carries_uncleared(track.job):
                self._clear(track, decision, f"released across from {plan.steps[before].node}")
        return True

    def _send(self, track: Track, update_id: int) -> None:
        """Send the track's order as update ``update_id``, unless it would tell the vehicle nothing new: the same
        order, nodes, edges, sequence ids, releases and actions as the last update sent, from where this one
        starts (``OrderContent.repeats``), and the vehicle reports having taken that update. A full plan of the
        fleet leaves most vehicles' orders as they were (in bench_fleet 176-197 of the 200 updates after a full
        plan repeated the last one), and each update is a publish on the loop thread that a clearance arriving
        meanwhile waits behind. The update id is not used up: the vehicle never saw it, so the next update is
        still its last one's + 1 (VDA 5050). A release, or one taken back, changes what the order says: sent."""
        if track.plan is None or track.vda_order_id is None:
            return
        state = track.state
        taken = state is not None and state.order_id == track.vda_order_id and state.order_update_id == track.update_id
        actions = node_actions(track)
        # what the update is made of (an order's nodes, edges and actions follow from these alone, times play no
        # part): the same as the last update's, it says the same, and building it to compare was a fifth of the
        # cost of adopting a full plan's 200 new plans
        basis = (track.vda_order_id, track.plan.nodes, track.plan.horizon, track.seq0, track.first, track.released,
                 actions)
        if taken and basis == track.sent_basis:
            return
        order = vda_order(self.corridor, track.vda_order_id, update_id, track.plan, track.seq0, track.first,
                          track.released, actions, self._first_deviation(track))
        content = OrderContent(order.order_id, order.nodes, order.edges)
        if taken and content.repeats(track.sent_content):
            # the same basis builds the same content, which repeats the last update sent again: not built again
            # (a parked vehicle whose last order ended was built anew at every full plan: 157,000 of the 166,000
            # orders a day of target_2030 built)
            track.sent_basis = basis
            return
        track.update_id, track.sent_content, track.sent_basis, track.sent_order = update_id, content, basis, order
        track.sent_at = self.now()
        if track.untaken_since is None:
            track.untaken_since = track.sent_at
        self.link.send_order(track.id, order)
        self._save_vda(track)

    def _first_deviation(self, track: Track) -> float | None:
        """The first node's allowed deviation of an order or update, when the vehicle stands on its way past that
        node, farther than the usual deviation (:func:`standing_past`: restarted between two nodes): one that takes
        in where it stands, so that it accepts the order there, and the updates that start there until it has driven
        on. Before, it refused every order ("order starts at vn_deck_out_0, the vehicle is at vn_deck_out_0, 1.6 m
        away") and stood on the bridge for good; and (until 2026-12-05) every update after its new order, one that
        released the crossing say, was sent with the usual deviation and refused ("moved off its way")."""
        assert track.plan is not None
        state = track.state
        if state is None or state.last_node_id != track.plan.steps[track.first].node:
            return None
        past = standing_past(self.corridor, track)
        return past + OrderNode.allowed_deviation_xy if past is not None and past > OrderNode.allowed_deviation_xy \
            else None

    def _save_vda(self, track: Track) -> None:
        self._unsaved.add(track.id)

    def _save_unsaved(self) -> None:
        """The VDA order ids sent this tick, in one transaction (a restart re-syncs from the vehicles' own
        reports should the service die between a send and this write); behind the loop on its thread."""
        if not self._unsaved:
            return
        rows = []
        for vehicle_id in sorted(self._unsaved):
            track = self.tracks[vehicle_id]
            order_id = track.job.order.id if track.job is not None and track.job.order is not None else None
            rows.append(SentOrder(track.id, track.vda_order_id, track.update_id, order_id,
                                  released_way(self.corridor, track)))
        self._unsaved.clear()
        if self._writer is not None:
            self._writer.put(rows)
        else:
            self.registry.set_vda_orders(rows)

    # --- the customs gate ---------------------------------------------------------------------------------------

    def _direction_and_load(self, track: Track) -> tuple[str, list[str]]:
        job = track.job
        if job is not None and job.order is not None and (job.order.state in LOADED_STATES or job.partner):
            return job.order.direction, job.order.consignments  # a relay receiver: the load it is to take on
        node = self.corridor.nodes[base_end(self.corridor, track)]
        return self.corridor.direction_from(node.jurisdiction), list(job.aboard) if job is not None else []

    def _evaluate(self, track: Track) -> Any:
        direction, aboard = self._direction_and_load(track)
        return self.gate.evaluate(track.id, direction, aboard)

    def _held_gate(self, track: Track) -> str | None:
        """The operator's held gate that keeps the vehicle short of the crossing: one on its plan, or, bound for
        the other side and not yet across, one of that side's arrival gates when all of them are held (its plan
        may still end at its departure gate: it waits there, off the bridge)."""
        plan = track.plan
        if plan is None or not self._gate_holds:  # (asked for every vehicle on every tick: mostly none held)
            return None
        on_plan = next((s.node for s in plan.steps if s.node in self._gate_holds), None)
        job = track.job
        if on_plan is not None or job is None or job.crossed or not job.goals:
            return on_plan
        here = self.corridor.nodes[plan.steps[min(track.reached, len(plan.steps) - 1)].node].jurisdiction
        # (relay: a deliverer's goal is the pad, its load bound for the other side all the same)
        target = job.order.target if job.order is not None and job.order.state in LOADED_STATES \
            else self.corridor.nodes[job.goals[0]].jurisdiction
        return self._arrivals_closed(target) if target != here else None

    def _held_arrivals(self, side: str) -> list[str]:
        """The arrival gates of ``side`` an operator holds."""
        return sorted(g for g, s in self._arrival_gates.items() if s == side and g in self._gate_holds)

    def _arrivals_closed(self, side: str) -> str | None:
        """Every arrival gate of ``side`` is held: the first of them (None: some way in is open)."""
        held = self._held_arrivals(side)
        return held[0] if held and len(held) == sum(s == side for s in self._arrival_gates.values()) else None

    def _around_held_arrivals(self, profile: VehicleProfile, start: str) -> VehicleProfile:
        """The vehicle keeps off the held arrival gates of a side that has one open still (a parallel lane). With
        all of them held it is not kept off: short of the crossing the hold keeps it (``_held_gate``), and one
        across already goes on through (it must not stop on the bridge)."""
        if not self._gate_holds:
            return profile
        avoid = frozenset(g for side in self.corridor.jurisdictions if self._arrivals_closed(side) is None
                          for g in self._held_arrivals(side)) - {start}
        return _keeping_off(profile, avoid) if avoid else profile

    def _hold_reason(self, gate: str) -> str:
        return f"gate {gate} held: {self._gate_holds[gate]}"

    def _decide(self, track: Track) -> GateDecision | None:
        """The gate rule for this vehicle now, recorded (with the event ids it relied on) when it allows: that
        decision, or None."""
        if self._held_gate(track) is not None:
            return None
        if not self._evaluate(track).allowed:
            return None
        direction, aboard = self._direction_and_load(track)
        decision = self.gate.decide(track.id, direction, aboard)
        return decision if decision.allowed else None

    def _allowed_now(self, track: Track) -> bool:
        """The gate rule (and the operator's gate holds) would let the vehicle cross now (nothing recorded)."""
        return self._held_gate(track) is None and self._evaluate(track).allowed

    def _not_across(self, track: Track) -> str:
        """Why the gate rule keeps the vehicle short of the crossing now."""
        return f"short of the crossing: {self._reasons_not_across(track)}"

    def _reasons_not_across(self, track: Track) -> str:
        """The gate rule's reasons (an operator's hold first) not to let the vehicle across now."""
        held = self._held_gate(track)
        reasons = [self._hold_reason(held)] if held is not None else list(self._evaluate(track).reasons)
        return "; ".join(reasons) or "the gate rule does not allow it now"

    def _meeting_wait(self, track: Track, onto: str) -> str | None:
        """Relay: why the vehicle may not enter the pad (``onto``) for its meeting now; None: it may. It may not
        while its partner, not yet on the pad, is kept short of it (a hold, a revocation, a gate held): the first
        there stood on the border line for as long as that lasted. (Waiting also for the partner to come to its
        last node before the pad cost kim_thanh's day two thirds of its deliveries: not done.)"""
        job = track.job
        if self.relay is None or onto != self.relay.pad or job is None or job.partner is None or job.handed_over:
            return None
        partner = self.tracks.get(job.partner)
        if partner is None or partner.plan is None or partner.job is None or partner.job.handed_over:
            return None
        at = _first_step_at(partner.plan, onto)
        if at is None or partner.reached >= at or self._allowed_now(partner):
            return None
        return f"waits off the pad: {job.partner} may not enter it, {self._not_across(partner)}"

    @staticmethod
    def _carries_uncleared(job: Job) -> bool:
        """The job carries its order's load, not yet cleared (a relay receiver's job names the order it is to take
        on, never carried by it before the handoff)."""
        return job.order is not None and not job.crossed and job.order.state in NOT_YET_CLEARED

    def _clear(self, track: Track, decision: GateDecision, reason: str) -> None:
        """The order aboard is cleared: the release past its gate, or across, goes out on ``decision`` (recorded)."""
        self._advance(track, OrderState.CLEARED, reason, {"kind": "gate", "decision_audit_seq": decision.audit_seq,
                                                          "relied_on": list(decision.relied_on)})

    def _left_for_the_crossing(self, state: VehicleState | None) -> bool:
        """The vehicle has set off across from the last node before the crossing (no release can be taken back
        from it), or stands on the border line (relay: on the pad)."""
        if state is None:
            return False
        node = self.corridor.nodes.get(state.last_node_id)
        if node is None:
            return False
        return node.kind in BORDER_LINE_KINDS or (node.id in self._pre_crossing and distance(
            state.pose, node.x, node.y) > TAKE_BACK_RADIUS_M)

    def _unclear_if_lost(self, track: Track) -> None:
        """A cleared order whose clearance is gone (a hold, a revocation, a customs link down, an operator's gate
        hold) before its vehicle set off across: it awaits clearance again, with the gate rule's reasons. The
        vehicle goes no further than the last node before the crossing (``_may_release``; a release across it
        has there is taken back, ``_take_back_if_uncleared``), and the order is cleared again when the rule
        allows it there."""
        job = track.job
        if job is None or job.order is None or job.order.state != OrderState.CLEARED or job.crossed \
                or self._left_for_the_crossing(track.state):
            return
        held = self._held_gate(track)
        cause: dict[str, Any] = {"kind": "gate"}
        if held is not None:
            reasons = [self._hold_reason(held)]
        elif self._evaluate(track).allowed:
            return
        else:  # the fleet acts on a denial: recorded, so both authorities read why the release was taken back
            denial = self.gate.decide(track.id, *self._direction_and_load(track))
            reasons, cause["decision_audit_seq"] = list(denial.reasons), denial.audit_seq
        self._advance(track, OrderState.AWAITING_CLEARANCE, "clearance lost before the crossing: " + "; ".join(reasons),
                      cause | {"reasons": reasons})

    def _take_back_if_uncleared(self, track: Track, t: float) -> None:
        """A vehicle at the last node before the crossing, with the crossing in its released base, whose
        clearance is gone (a hold, a revocation, a customs link down, an operator's gate hold): cancel its order
        (it stops where it stands) and send it a new one that ends there. Read from the vehicle's own state, so
        it holds whatever the fleet planned since (a restart, a replan after the vehicle was offline)."""
        state = track.state
        if state is None or state.last_node_id not in self._pre_crossing:
            return
        if not self._released_across(state):
            return
        if self._left_for_the_crossing(state):
            return  # already on the crossing lane: it goes on to the far side
        node = self.corridor.nodes[state.last_node_id]
        if self._allowed_now(track):
            return
        if track.connection not in ("ONLINE", None):  # cannot be told: flag it, take it back once it is back
            self.alarms.raise_alarm(AlarmKind.CROSSING_FLAGGED, track.id, f"{track.id}: clearance lost at {node.id} "
                                    f"while the crossing is released and the vehicle is {track.connection}")
            return
        log.warning("clearance of %s lost before the crossing: taking the release back", track.id)
        self.link.send_actions(track.id, [InstantAction(f"cancel-{uuid.uuid4().hex[:8]}", ActionType.CANCEL_ORDER)])
        plan = track.plan
        index = _first_step_at(plan, node.id) if plan else None
        if plan is None or index is None:
            plan, index = TimedPlan(track.id, (Step(node.id, t, INF),)), 0
        self._order_anew(track, plan, index, t)
        self.alarms.raise_alarm(AlarmKind.CROSSING_FLAGGED, track.id,
                                f"{track.id}: clearance lost at {node.id}; crossing release taken back")

    def _order_anew(self, track: Track, plan: TimedPlan, index: int, t: float) -> None:
        """After a ``cancelOrder`` (VDA 5050: the cancelled order takes no update): a new order on ``plan``, whose
        step ``index`` is the node the vehicle stands at, released to there (the rest of the plan its horizon)."""
        track.plan, track.vda_order_id, track.way_to_plan = plan, f"{track.id}-{uuid.uuid4().hex[:8]}", {}
        track.seq0, track.first, track.released, track.reached = -2 * index, index, index, index
        track.adopted_at = index
        track.arrived_at = {index: t}
        track.needs_plan, self._plans_changed = True, True
        self._send(track, 0)

    def _released_across(self, state: VehicleState) -> bool:
        """The base the vehicle reports from the last node before the crossing goes over it: its first node ahead
        (past the one it stands at, which a vendor may keep listing: before, that failed every tick, for the whole
        fleet) lies over a crossing lane; a base that is no lane from there (a vendor's bug, a forgery) goes over
        when any of its nodes is on the border line or across (when unsure, the release is taken back)."""
        ahead = [n.node_id for n in state.node_states if n.released and n.node_id != state.last_node_id]
        if not ahead:
            return False
        try:
            return self.corridor.lane_between(state.last_node_id, ahead[0]).crossing
        except KeyError:
            return crosses(self.corridor, self.corridor.nodes[state.last_node_id].jurisdiction, ahead)

    # --- what the API asks -------------------------------------------------------------------------------------------

    def _advance(self, track: Track, to: OrderState, reason: str, extra: dict[str, Any] | None = None) -> None:
        job = track.job
        if job is None or job.order is None or job.order.state == to:
            return
        cause = {"kind": "vehicle", "vehicle_id": track.id, **(extra or {})}
        if track.state is not None:
            cause |= {"last_node": track.state.last_node_id, "order_update_id": track.state.order_update_id}
        order = job.order
        if to not in TRANSITIONS[order.state]:
            raise OrderError(f"order {order.id} is {order.state}: it cannot become {to}", field="state", status=409)
        self._moves.append(Move(order.id, to, reason, cause))
        job.order = order.model_copy(update={"state": to, "vehicle_id": None if to == OrderState.CREATED
                                             else order.vehicle_id})
        if to == OrderState.CROSSING:  # the custody handoff was just recorded: the order's state goes with it now
            self._write_moves()

    def _write_moves(self) -> None:
        """The order transitions the loop made since the last write, in one transaction: the store's writer lock
        and an fsync once a tick, not once a transition (each waited behind the other writers, bench_fleet).
        Written at the end of every tick and before any other order write of the loop; if the batch is refused
        (an order changed meanwhile), each move is tried alone so that the others are kept. The moves a write
        the store itself refused (``StoreError``: the server lost, a lock timed out) did not store are kept for the
        next write, first: dropped, the loop went on from states the store never got (an order ``loaded`` in
        memory stayed ``to_pickup`` in the store for good, and every later move of it was refused)."""
        moves, self._moves = self._moves, []
        if not moves:
            return
        written = 0
        try:
            try:
                self.orders.commit_transitions(moves)
                written = len(moves)
            except OrderError:
                for move in moves:
                    try:
                        self.orders.commit_transitions([move])
                    except OrderError as exc:
                        log.warning("order %s not moved to %s: %s", move.order_id, move.to, exc)
                    written += 1
        except StoreError:
            self._moves[:0] = moves[written:]
            raise

    def vehicles(self) -> list[VehicleView]:
        return self.snapshot().vehicles()

    def vehicle(self, vehicle_id: str) -> VehicleView:
        return self.snapshot().vehicle(vehicle_id)

    def gates(self) -> list[GateView]:
        return self.snapshot().gates()

    def vehicles_json(self) -> bytes:
        return self.snapshot().vehicles_json()

    def vehicle_json(self, vehicle_id: str) -> bytes:
        return self.snapshot().vehicle_json(vehicle_id)

    def gates_json(self) -> bytes:
        return self.snapshot().gates_json()

    def built_json(self, view: JsonView, vehicle_id: str | None = None) -> bytes | None:
        seen = self._seen
        return seen.built_json(view, vehicle_id) if seen is not None else None

    def snapshot(self) -> Snapshot:
        """What to show: the last tick's if the loop runs on its thread (no waiting for a tick), else one taken
        now under the lock. A reader that needs both the vehicle and the gate views asks one snapshot for both,
        so that they show the same moment."""
        seen = self._seen
        if seen is not None:
            return seen
        with self._lock:
            return self._take_snapshot()

    def _take_snapshot(self, tracks: dict[str, Track] | None = None) -> Snapshot:
        return Snapshot({vid: copy.copy(track) for vid, track in self.tracks.items()} if tracks is None else tracks,
                        self._gate_views)

    def _reseen(self, track: Track | None = None) -> None:
        """After the API changed a track, or a gate's hold: what it shows changes at once."""
        if self._seen is not None:
            changed = {track.id: copy.copy(track)} if track is not None else {}
            self._seen = self._take_snapshot({**self._seen.tracks, **changed})
            self.views_changed.set()

    def act(self, vehicle_id: str, action: VehicleAction, by: str, reason: str) -> None:
        kind = {VehicleAction.PAUSE: ActionType.PAUSE, VehicleAction.RESUME: ActionType.RESUME,
                VehicleAction.CANCEL: ActionType.CANCEL_ORDER, VehicleAction.EMERGENCY_STOP: ActionType.EMERGENCY_STOP,
                VehicleAction.RELEASE_EMERGENCY_STOP: ActionType.RELEASE_EMERGENCY_STOP}[action]
        with self._lock:
            if vehicle_id not in self.tracks:
                raise KeyError(vehicle_id)
            state = self.tracks[vehicle_id].state
            if action == VehicleAction.CANCEL and state is not None and (why := between_nodes(self.corridor, state)):
                # found by trying it: a vehicle cancelled on its way braked between nodes, where no new order can
                # start (VDA 5050: a new order starts where the vehicle stands), and stood there for good
                raise OrderError(f"{why}: a cancel would stop it where no new order can start. Pause it (it keeps "
                                 "its order), stop it (emergency stop), or cancel its order (it is planned anew)",
                                 field="action", status=409)
            self.link.send_actions(vehicle_id, [InstantAction(f"{action}-{uuid.uuid4().hex[:8]}", kind)])
            self.staff.record(role=by, action=str(action), target=f"vehicle:{vehicle_id}", reason=reason)
        self.wake()

    def emergency_stop_all(self, by: str, reason: str) -> None:
        for vehicle_id in list(self.tracks):
            self.act(vehicle_id, VehicleAction.EMERGENCY_STOP, by, reason)

    def release_emergency_stop_all(self, by: str, reason: str) -> None:
        for vehicle_id in list(self.tracks):
            self.act(vehicle_id, VehicleAction.RELEASE_EMERGENCY_STOP, by, reason)

    def set_in_service(self, vehicle_id: str, in_service: bool, by: str, reason: str) -> None:
        with self._lock:
            track = self.tracks[vehicle_id]
            self._set_service(track, in_service, reason)
            if in_service and track.plan is None:  # people have seen to it: the base it reports is believed again
                track.record = track.record.model_copy(update={"released_way": None})  # (_base_beyond_its_stored_way)
            if not in_service:
                # taken out now, not at the next tick's look at it: that tick's first step releases vehicles
                # cleared at their gates, and one taken out of service while it waited at its gate was released
                # past it and drove on to the last node before the bridge, to stand there for good
                self._watch_health(track, self.now())
            self.staff.record(role=by, action="in_service" if in_service else "out_of_service",
                              target=f"vehicle:{vehicle_id}", reason=reason)
        self.wake()

    def _set_service(self, track: Track, in_service: bool, reason: str) -> None:
        """In or out of service (the reason kept while out), stored and shown at once; under the loop's lock."""
        self.registry.set_service(track.id, in_service, None if in_service else reason)
        track.record = track.record.model_copy(update={"in_service": in_service,
                                                       "service_reason": None if in_service else reason})
        self._reseen(track)

    def cancel_order(self, order_id: str, reason: str, by: str) -> OrderPublic:
        """Cancel an order: at once if nothing is loaded; a load is driven to the nearest holding bay on the
        side it is on (one already on the crossing lanes finishes to the far side's bay first)."""
        with self._lock:
            order = self.orders.get(order_id)
            track = self.tracks.get(order.vehicle_id or "")
            if order.state not in ACTIVE_STATES:
                raise OrderError(f"order {order_id} is already {order.state}: nothing was changed", field="state",
                                 status=409)
            if order.state == OrderState.CROSSING:
                where = "is on the crossing lanes" if self.relay is None else "changes hands at the handoff pad"
                raise OrderError(f"order {order_id} {where}: it finishes to the far side first; cancel it again "
                                 "once it is there", field="state", status=409)
            job = track.job if track is not None else None
            carries = job is not None and job.order is not None and job.order.id == order_id  # (a job of this order)
            if carries and track is not None and job is not None and not job.crossed \
                    and self._out_of_its_yard(job, base_end(self.corridor, track)):
                raise OrderError(f"order {order_id} is cleared and past its gates, on the way to the bridge, from "
                                 "which the only way on is across: it finishes to the far side first; cancel it again "
                                 "once it is there", field="state", status=409)
            pick = self._pick_released(track) if carries and track is not None \
                and order.state not in LOADED_STATES else None
            dock = None if pick is None or track is None or track.plan is None else track.plan.steps[pick].node
            said = f"cancelled by {by}: {reason}" + (
                "" if dock is None or track is None else f"; the pick at {dock} was released to {track.id}: it is "
                "stopped there (cancelOrder), and a load it took all the same goes to a holding bay, never across")
            cancelled = self.orders.transition(order_id, OrderState.CANCELLED, said, {"kind": "dispatcher", "by": by})
            self.staff.record(role=by, action="cancel_order", target=f"order:{order_id}", reason=reason)
            if carries and track is not None:
                self._break_meeting(track)
                if order.state in LOADED_STATES:
                    track.job = self._hold_the_load(track, base_end(self.corridor, track), order)
                elif dock is not None:
                    assert pick is not None
                    track.job = self._cancelling_pick(track, pick, cancelled)  # (its order as it now is: no move)
                else:
                    track.job = None
                track.needs_plan = True
                self._reseen(track)
        self.wake()
        return cancelled

    @staticmethod
    def _pick_released(track: Track) -> int | None:
        """The plan step of the pick the fleet released to the vehicle (sent, so that no update takes it back), or
        None."""
        k = None if track.plan is None else pickup_step(track.plan)
        return None if k is None or k > track.released or track.vda_order_id is None else k

    def _cancelling_pick(self, track: Track, pick: int, order: OrderPublic) -> Job:
        """The job of a vehicle whose order was cancelled with its pick at plan step ``pick`` released to it: it
        would load the container all the same (VDA 5050: an update cannot take a released node's actions back) and,
        taken for empty, drive off with it, free for any order, across the border too. It is sent a ``cancelOrder``
        once it stands at a node (``_undo_the_pick``), and its own report then says whether the load came aboard.
        Until then the load counts as aboard (the gate rule asks with it, its plans stay short of the border) and
        the registry keeps it, so that a restart holds it rather than forgets it."""
        assert track.plan is not None and track.vda_order_id is not None
        dock = track.plan.steps[pick].node
        hold = self._hold_the_load(track, dock, order, unconfirmed=True)
        log.warning("order %s cancelled with its pick at %s released to %s: stopping it there", order.id, dock,
                    track.id)
        return Job(JobKind.CANCEL_PICK, (dock,), order, aboard=hold.aboard,
                   pick=(track.vda_order_id, step_action_id(track, pick, ActionType.PICK)))

    def _undo_the_pick(self, track: Track, state: VehicleState, t: float) -> None:
        """A vehicle whose order was cancelled with its pick released (``_cancelling_pick``): its pick done or failed
        on its own, that says whether the load is aboard; else, once it stands at a node, on our order and
        online, it is sent a ``cancelOrder`` (a running pick stops; one a vendor's vehicle finishes is reported so),
        and once that is done its report says. Not between nodes: a cancel would strand it where no order can
        start."""
        job = track.job
        assert job is not None and job.pick is not None
        vda, pick_id = job.pick
        pick = next((a for a in state.action_states if a.action_id == pick_id), None) \
            if state.order_id == vda else None
        loaded = (pick is not None and pick.status == ActionStatus.FINISHED) or bool(state.loads)
        if job.cancel is None:
            if pick is not None and pick.status in (ActionStatus.FINISHED, ActionStatus.FAILED):
                self._pick_undone(track, state, t, loaded=loaded, cancelled=False)
                return
            if state.order_id != vda:
                if refused_what_was_sent(track):  # (it never held the pick)
                    self._pick_undone(track, state, t, loaded=loaded, cancelled=False)
                return
            if state.driving or track.connection not in ("ONLINE", None) \
                    or between_nodes(self.corridor, state) is not None:
                return
            job.cancel = (f"cancel-{uuid.uuid4().hex[:8]}", t, -INF)
        if not self._cancel_done(state, job.cancel[0]) or any(n.released for n in state.node_states):
            job.cancel = self._cancel_again(track, job.cancel, t)
            return
        if pick is not None and pick.status in (ActionStatus.INITIALIZING, ActionStatus.RUNNING):
            return  # (a vendor's vehicle that finishes its pick after the cancel: how it ends says)
        self._pick_undone(track, state, t, loaded=loaded, cancelled=True)

    def _pick_undone(self, track: Track, state: VehicleState, t: float, *, loaded: bool, cancelled: bool) -> None:
        """The vehicle of a cancelled order reports whether it loaded the container: a hold (to a holding bay, the
        load kept in the registry) or free. After a ``cancelOrder`` it has a new order where it stands."""
        job, held = track.job, track.record.held_load
        assert job is not None and job.order is not None and held is not None
        if cancelled:
            self._placed_after_cancel(track, state, t)
        if loaded:
            log.warning("%s loaded %s of cancelled order %s all the same: to a holding bay", track.id,
                        ", ".join(job.aboard), job.order.id)
            held = held.model_copy(update={"unconfirmed": False})
            self._set_held_load(track, held)
            track.job = _holding(held)
        else:
            log.info("%s did not load cancelled order %s: free", track.id, job.order.id)
            self._set_held_load(track, None)
            track.job = None
        track.needs_plan = True
        self._reseen(track)

    def _hold_the_load(self, track: Track, node: str, order: OrderPublic, unconfirmed: bool = False) -> Job:
        """The job of a vehicle whose order ended with the load aboard (cancelled, or its drop failed): to a
        holding or inspection bay on the side it is on, where a person can see to it, never across (none such
        can be reached from its outbound gate: it waits there); the gate rule is still asked with the load's
        consignments (``Job.aboard``), never as for an empty vehicle. It waits until an operator says the load
        was taken off (``load_removed``); the registry keeps the load, so that a restart does not forget it."""
        side = self._side_of(track, node)
        # as the job's plans will be asked for (``_request``): an empty vehicle's profile, short of the border
        profile = self.planner.profile_short_of_the_border(self._empty_profile(track, node), node)
        reach = self._travel.from_node(node, profile)
        bays = [n.id for n in self.corridor.nodes_of(NodeKind.HOLDING, NodeKind.INSPECTION, jurisdiction=side)
                if n.id in reach]
        # none short of the border (a load cancelled at its outbound gate, from which the only way on is across):
        # it waits where it stands, for the load to be taken off there
        held = HeldLoad(consignments=list(order.consignments), bays=bays or [node], unconfirmed=unconfirmed)
        self._set_held_load(track, held)
        return _holding(held)

    def _set_held_load(self, track: Track, held: HeldLoad | None) -> None:
        """The load the vehicle holds (None: taken off), in the registry and in the track's copy of its record."""
        self.registry.set_held_load(track.id, held)
        track.record = track.record.model_copy(update={"held_load": held})

    def load_removed(self, vehicle_id: str, by: str, reason: str) -> None:
        """An operator says the load a vehicle holds (``_hold_the_load``) was taken off by hand: it is free."""
        with self._lock:
            track = self.tracks[vehicle_id]
            job = track.job
            if job is not None and job.kind == JobKind.CANCEL_PICK:
                raise OrderError(f"{vehicle_id} has not said yet whether it loaded the containers of its cancelled "
                                 "order (it is being stopped at its dock): if it did, it takes them to a holding bay; "
                                 "say they were taken off once it stands there", field="vehicle_id", status=409)
            if job is None or job.kind != JobKind.HOLD:
                raise OrderError(f"{vehicle_id} holds no load that an order left aboard", field="vehicle_id",
                                 status=409)
            if job.held_at is None:
                raise OrderError(f"{vehicle_id} is still on its way to a holding bay with its load: say the load "
                                 "was taken off once it stands there", field="vehicle_id", status=409)
            self._set_held_load(track, None)
            track.job, track.needs_plan = None, True
            self.alarms.clear(AlarmKind.LOAD_HELD, vehicle_id)
            self.staff.record(role=by, action="load_removed", target=f"vehicle:{vehicle_id}", reason=reason,
                              detail={"consignments": list(job.aboard)})
            self._reseen(track)
        self.wake()

    def _gate_views(self, tracks: Mapping[str, Track]) -> list[GateView]:
        """Each gate's hold and queue: the waiting vehicles among ``tracks`` (``_waiting_place``), with the gate
        rule's answer now."""
        queues: dict[str, list[WaitingVehicle]] = {}
        for track in tracks.values():
            place = self._waiting_place(track)
            if place is not None:
                gate, at = place
                queues.setdefault(gate, []).append(self._waiting_vehicle(track, at))
        return [GateView(id=node.id, side=node.jurisdiction, held=node.id in self._gate_holds,
                         hold_reason=self._gate_holds.get(node.id), queue=queues.get(node.id, []))
                for node in self.corridor.nodes_of(NodeKind.GATE)]

    def _waiting_place(self, track: Track) -> tuple[str, str] | None:
        """(the gate whose queue lists the vehicle, the node it waits at), or None: it waits for nothing at a gate.
        Loaded at its outbound gate for its clearance; or past it at the last node before the crossing (relay:
        before the pad), held there by the gate rule, a hold or its partner's wait: listed at the gate it came
        through on its plan, else (planned from there: a release taken back, a restart) the first of its side's
        outbound gates that lead there. Before, only those at the gates were listed: a loaded vehicle held short
        of the bridge said why in its own view, while the gates showed nobody waiting."""
        gate = waiting_at_gate(track, self._outbound_gates)
        if gate is not None:
            return gate, gate
        at = waiting_before_crossing(track, self._pre_crossing)
        behind = self._gates_before.get(at or "", ())
        if track.plan is None or at is None or not behind:
            return None
        came_through = (s.node for s in reversed(track.plan.steps[:track.reached]) if s.node in behind)
        return next(came_through, behind[0]), at

    def _waiting_vehicle(self, track: Track, at: str) -> WaitingVehicle:
        """A queue's entry: the gate rule's answer for the vehicle now, an operator's hold that keeps it first; past
        its gate with nothing of those, what the loop last said keeps it (relay: its partner kept off the pad); and
        last, that the vehicle itself cannot go on (out of service, a fault, offline)."""
        direction, aboard = self._direction_and_load(track)
        decision = self.gate.evaluate(track.id, direction, aboard)
        gate = self._held_gate(track)
        # the rule honours a hold (the rule's answer is its reasons: none, it allows)
        reasons = ([self._hold_reason(gate)] if gate is not None else []) + list(decision.reasons)
        if at in self._pre_crossing and not reasons and track.waits_because is not None:
            reasons = [track.waits_because]
        if not reasons and self.relay is not None and track.job is not None and track.job.partner is None \
                and at not in self._pre_crossing:
            reasons = [self._no_meeting_yet(track, self.relay)]
        if track.unavailable is not None:  # (the console said "crossing allowed" of one out of service at its gate)
            reasons.append(f"{track.id} cannot go on: {track.unavailable}")
        authorities = {name: {"vehicle_authorized": v.authorized,
                              "consignments": {c: str(self.gate.consignment_state(c)[name].status) for c in aboard}}
                       for name, v in self.gate.vehicle_state(track.id).items()}
        return WaitingVehicle(vehicle_id=track.id, order_id=track.job.order.id if track.job and track.job.order
                              else None, at=at, direction=direction, consignments=aboard,
                              allowed=not reasons, reasons=reasons, authorities=authorities)

    def waiting_orders(self, limit: int, among: Collection[str] | None = None) -> list[WaitingOrder]:
        """The orders waiting for a vehicle (at most ``limit``, the most urgent first; ``among``: those of these
        ids that wait, however many more urgent ones there are), each with what holds it back now
        (:mod:`fleet.dispatch.waiting`)."""
        with self._lock:
            tracks = self.tracks.values()
            available = [tr for tr in tracks if tr.unavailable is None and tr.record.in_service and tr.state]
            left = room_left(tracks, {side: lanes * self.settings.loads_per_gate_lane
                                      for side, lanes in self._gate_lanes.items()})
            fleet = FleetNow(
                available=len(available),
                crossers=sum(self._profile_now(tr).cross_border for tr in available) if self.relay is None else None,
                free=sum(is_free(tr) for tr in tracks),
                gate_room={side: (left[side], lanes) for side, lanes in self._gate_lanes.items()}
                if self.relay is None else {},
                receivers=None if self.relay is None else orders_to_give_out(tracks, self.corridor.jurisdictions),
                left_out=self._left_out, now=self.clock())
            waiting = self.orders.waiting(limit) if among is None else self.orders.waiting_among(among)[:limit]
            return [waiting_order(order, self._kept_sentences(order), fleet) for order in waiting]

    def _waiting_read(self) -> int:
        """How many waiting orders an assignment round reads (the most urgent first)."""
        return WAITING_LOOKAHEAD * self.settings.assign_max_orders

    def _kept_sentences(self, order: OrderPublic) -> list[str]:
        return [f"{consignment} ({clearance.status}, {authority})" for consignment in order.consignments
                for authority, clearance in self.gate.consignment_state(consignment).items()
                if clearance.status in KEPT_BY_CUSTOMS]

    def hold_gate(self, gate_id: str, by: str, reason: str) -> None:
        self._gate_node(gate_id)
        with self._lock, self.store.transaction() as conn:
            conn.execute(gate_holds.delete().where(gate_holds.c.gate == gate_id))
            conn.execute(gate_holds.insert().values(gate=gate_id, held_at=self.clock(), held_by=by, reason=reason))
            self.staff.insert(conn, role=by, action="hold_gate", target=f"gate:{gate_id}", reason=reason)
            self._gate_holds[gate_id] = reason
            self._route_around(gate_id)
            self._reseen()
        self.bus.publish(Topic.GATE, {"gate": gate_id, "held": True, "reason": reason, "by": by})
        self.wake()

    def release_gate(self, gate_id: str, by: str, reason: str) -> None:
        self._gate_node(gate_id)
        with self._lock, self.store.transaction() as conn:
            conn.execute(gate_holds.delete().where(gate_holds.c.gate == gate_id))
            self.staff.insert(conn, role=by, action="release_gate", target=f"gate:{gate_id}", reason=reason)
            self._gate_holds.pop(gate_id, None)
            self._reseen()
        self.bus.publish(Topic.GATE, {"gate": gate_id, "held": False, "reason": reason, "by": by})
        self.wake()

    def _route_around(self, gate_id: str) -> None:
        """A held arrival gate: the vehicles planned through it, not yet released past it, are planned again (round
        it by the other gate lane of that side, or to wait short of the crossing, ``_around_held_arrivals``)."""
        if gate_id not in self._arrival_gates:
            return
        for track in self.tracks.values():
            plan = track.plan
            if plan is not None and gate_id in plan.nodes[track.released + 1:]:
                track.needs_plan, track.retry_at = True, -INF

    def _gate_node(self, gate_id: str) -> None:
        node = self.corridor.nodes.get(gate_id)
        if node is None or node.kind != NodeKind.GATE:
            raise KeyError(gate_id)


@dataclasses.dataclass(frozen=True)
class _SheetRead:
    """A vehicle's factsheet as the assignment reads it (``Dispatcher._capabilities``)."""

    sheet: Factsheet
    max_speed: float | None  # its top speed where it is slower than the map's fastest lane
    takes_orders: bool  # it can pick and drop


def _same_stay(old: TimedPlan | None, new: TimedPlan) -> bool:
    """Both plans are to stay for good at the same node, doing the same there: a parked or stalled vehicle planned
    again, only the time its stay starts differs. That changes no order of vehicles the release rule reads (nobody
    is planned at the node after a vehicle that stays there for good), so the precedence of the plans is not
    built again for it: a stalled vehicle's retry (some 12,000 in a day of target_2030) rebuilt it over every
    plan each time."""
    return old is not None and len(old.steps) == 1 and len(new.steps) == 1 and not (old.meets or new.meets) \
        and not (old.horizon or new.horizon) and old.steps[0].node == new.steps[0].node \
        and old.steps[0].action == new.steps[0].action


def _first_step_at(plan: TimedPlan, node: str) -> int | None:
    """The index of the plan's first step at ``node`` (None: none is). A loop, not ``next()`` over a generator,
    which cost three times as much: asked at each plan adopted (81,000 in the first 8 h of target_2030)."""
    for index, step in enumerate(plan.steps):
        if step.node == node:
            return index
    return None


@functools.lru_cache(maxsize=1024)
def _keeping_off(profile: VehicleProfile, nodes: frozenset[str]) -> VehicleProfile:
    """``profile`` kept off ``nodes`` too. Kept: each full plan asks it for most of its loaded vehicles, with a few
    profiles and node sets (both immutable: the same arguments, the same answer), and the dataclass made anew each
    time was a quarter of the cost of a vehicle's plan request."""
    return dataclasses.replace(profile, avoid=profile.avoid | nodes)


def _holding(held: HeldLoad) -> Job:
    """The job of a vehicle holding ``held``: to one of its bays, waiting there with the load aboard."""
    return Job(JobKind.HOLD, tuple(held.bays), aboard=tuple(held.consignments))
