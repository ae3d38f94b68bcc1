"""What the dispatcher keeps per vehicle: its job, its plan and how far it has been released and has come."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from agv_agent.protocol import Order, VehicleState

from fleet.dispatch.border_watch import BorderWatch
from fleet.dispatch.vda import OrderContent
from fleet.orders import OrderPublic
from fleet.vehicles.registry import VehicleRecord
from planner.routing import VehicleProfile
from planner.schedule import INF, TimedPlan


class JobKind(StrEnum):
    DELIVER = "deliver"
    PARK = "park"
    CHARGE = "charge"
    HOLD = "hold"  # a cancelled load driven to a holding bay
    HAND_OVER = "hand_over"  # relay: carry the load to the handoff pad, hand it to the partner, go home
    #: its order cancelled with the pick released to it (VDA 5050: no update takes a released node's actions back):
    #: stopped by a ``cancelOrder``, then free, or (the container loaded all the same) a ``HOLD``
    CANCEL_PICK = "cancel_pick"


@dataclass
class Job:
    kind: JobKind
    goals: tuple[str, ...]
    order: OrderPublic | None = None
    cleared: bool = False  # the gate's clearance came: plan past the gate
    crossed: bool = False  # past the border: never again through a gate of the departure side
    partner: str | None = None  # relay: the other vehicle of the meeting at the handoff pad
    handed_over: bool = False  # relay: the transfer at the pad is done
    #: consignments aboard that no order carries any more (its order cancelled once loaded, or its drop failed):
    #: the gate rule is still asked with them, never as for an empty vehicle
    aboard: tuple[str, ...] = ()
    held_at: str | None = None  # HOLD: the bay it waits at, once there (the operators were told: an alarm)
    #: CANCEL_PICK: the pick released to the vehicle (its VDA order id and the pick's action id), and the
    #: ``cancelOrder`` sent to stop it (action id, when first and last sent; planner time)
    pick: tuple[str, str] | None = None
    cancel: tuple[str, float, float] | None = None


@dataclass(frozen=True)
class ReleaseWait:
    """A vehicle the release step found waiting on an event of ``vehicle`` (its plan, how far it was released
    and its own progress then, and that vehicle's progress then): nothing to ask again while all are the same."""

    plan: TimedPlan
    released: int
    own: tuple[int, bool] | None
    vehicle: str
    progress: tuple[int, bool] | None


@dataclass
class Track:
    """Everything the dispatcher knows about one vehicle."""

    record: VehicleRecord
    profile: VehicleProfile
    state: VehicleState | None = None
    state_age: float | None = None
    connection: str | None = None
    duplicate: str | None = None  # what shows that two sources report under its id (the link's), or None
    job: Job | None = None
    plan: TimedPlan | None = None
    vda_order_id: str | None = None
    shown_order_id: str | None = None  # the last order of ours its state showed (it had taken it)
    update_id: int = 0
    seq0: int = 0  # sequence id of plan.steps[0]
    #: the released way before ``plan.steps[0]`` that the vehicle may still be driving, by sequence id: nodes of
    #: the plans before this one, when this one started where their base ended (same VDA order)
    way_to_plan: dict[int, str] = field(default_factory=dict)
    first: int = 0  # step index at which the vehicle's current base begins (what the last update started at)
    #: step index at which the plan was taken (where the vehicle's base ended then): none before it was released
    adopted_at: int = 0
    released: int = 0  # last released step index
    reached: int = -1  # last step index the vehicle reported reaching
    #: when it took its plan, the fastest drive still ahead of it to the plan's first step (where its released way
    #: ended): its arrival there that much after the plan's time is no delay (``Dispatcher._follow``)
    approach_s: float = 0.0
    arrived_at: dict[int, float] = field(default_factory=dict)
    crossing_decision_seq: int | None = None
    unavailable: str | None = None  # why the vehicle cannot go on (offline, fault, e-stop, out of service)
    #: while unavailable: until when (planner time) it keeps an order it has not loaded (``reassign_after_s``)
    keeps_order_until: float = INF
    #: while unavailable: the ``cancelOrder`` sent to take back the way released to it (action id, when first and
    #: last sent), so that an order it has not loaded can go to another vehicle (``Dispatcher._way_given_back``)
    cancel_sent: tuple[str, float, float] | None = None
    needs_plan: bool = False
    sent_at: float = -INF  # when the current order (update) was last sent
    sent_content: OrderContent | None = None  # what the last update sent (update ``update_id``) said
    sent_basis: tuple[object, ...] | None = None  # what that update was built from (``Dispatcher._send``)
    sent_order: Order | None = None  # that update as sent: sent again as it is while not taken (``RESEND_AFTER_S``)
    not_taken_logged: tuple[str | None, int] | None = None  # (order, update reported) last warned as not taken
    #: since when (planner time) what was sent to it waits to be taken: an order or update it has not taken yet,
    #: sent again since (``RESEND_AFTER_S``) or not; None: its state shows the last one. The clock starts anew
    #: while it cannot go on for another reason (``Dispatcher._watch_health``)
    untaken_since: float | None = None
    #: the last (order, update) of ours its state showed: one taken since restarts ``untaken_since`` (a vehicle
    #: driving takes each update a moment after it is sent, the next one often sent before: never deaf for that)
    last_taken: tuple[str, int] | None = None
    retry_at: float = -INF  # a stalled vehicle is planned again from then on
    stalled_since: float | None = None  # stalled without a break since then (planner time)
    stalled_because: str | None = None  # the planner's reason, while stalled (shown to dispatchers)
    #: why its release stops short of the crossing (or relay, the pad) where it stands: the gate rule, or its
    #: partner not yet ready to meet (shown to dispatchers as ``stalled_because`` when the planner gives none)
    waits_because: str | None = None
    #: what the last look at the vehicle saw, when nothing came of it and nothing would while that stays the same
    #: (``Dispatcher._quiet_key``)
    quiet: tuple[Any, ...] | None = None
    factsheet_asked: float = -INF  # when the vehicle was last asked for its factsheet (it had sent none)
    factsheet_first_asked: float = INF  # when it was first asked (an alarm once it has gone without for long)
    border: BorderWatch = field(default_factory=BorderWatch)  # where it was last seen against the border
    lost_since: float | None = None  # since when (planner time) it has said it does not know where it is
    #: where the vehicle was last seen to move, and when: the node it last reached, its x and y, planner time
    #: (``Dispatcher._watch_standstill``: compared at each look, never searched)
    standing: tuple[str, float, float, float] | None = None
    #: since when (planner time) it has stood with way released ahead and nothing keeping it; None: it moves, or
    #: waits for a release, handles a load, charges, is paused or cannot go on
    should_drive_since: float | None = None
    stuck_still: bool = False  # the alarm that it does not move was raised (marked cleared once it moves)
    #: set down there by people (:mod:`fleet.dispatch.off_way`) and taken from there: where its base ends until
    #: it reports that node as the one it last reached (its next order, a new one, starts there)
    placed_at: str | None = None
    id: str = field(init=False)  # the record's: an attribute, read a few million times a simulated day

    def __post_init__(self) -> None:
        self.id = self.record.id


class _WokenByAnyChange(Track):
    """A track some per-tick scans pass by while it stays as it is: setting any attribute of it makes it a plain
    :class:`Track` again, so that no scan can pass by a vehicle whose track changed since."""

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, "__class__", Track)
        object.__setattr__(self, name, value)


class RestingTrack(_WokenByAnyChange):
    """The track of a vehicle at rest (parked or charging, with nothing to do, nothing sent to it untaken, its
    snapshot unchanged since it was last looked at): the dispatch loop's per-tick scans pass it by
    (``Dispatcher._rest``), which is most of a day's 200 vehicles at most ticks."""


class QuietTrack(_WokenByAnyChange):
    """The track of a vehicle with a job whose last look found nothing that its snapshot, its job or time alone
    could change before a given time (``Dispatcher._busy_quiet_key``): the next looks pass it by while they stay
    so. Every other scan (releases, replans) takes it as any track."""
