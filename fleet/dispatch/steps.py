"""The dispatch loop's pure steps: what follows from one vehicle's track (and the map) alone, with no I/O,
no clock and no lock, beside the thin loop (:mod:`fleet.dispatch.loop`) that reads states, calls the planner
and sends orders -- as ``agv_agent.logic`` beside its node.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

import networkx as nx
from agv_agent.protocol import ActionState, VehicleState

from fleet.dispatch.tracks import JobKind, Track
from fleet.dispatch.vda import node_action_id
from fleet.dispatch.views import VehicleView
from fleet.orders.model import LOADED_STATES
from fleet.vehicles.link import ORDER_REFUSALS, OrderStatus, order_status
from planner.corridor import Corridor, NodeKind
from planner.routing import VehicleProfile, restricted_view
from planner.schedule import TimedPlan
from planner.schedule.handoff import CUSTODY


def nodes_before_crossing(corridor: Corridor) -> set[str]:
    """The last nodes before the border: where a crossing lane starts from a node no crossing lane ends at."""
    crossing = corridor.crossing_lanes
    ends = {lane.target for lane in crossing}
    return {lane.source for lane in crossing if lane.source not in ends}


def ways_out(corridor: Corridor, line: frozenset[str]) -> frozenset[str]:
    """``line`` and each side's nodes that reach none of its parking spots but over it: its outbound gates and
    the lanes beyond them (``line``: the handoff pad in relay, the border line in through operation)."""
    lanes = set(line)
    for side in corridor.jurisdictions:
        view = restricted_view(corridor.graph, VehicleProfile(cross_border=False, home=side, avoid=line))
        home = _reaching(view, [n.id for n in corridor.nodes_of(NodeKind.PARKING, jurisdiction=side)])
        lanes.update(n for n in view if n not in home)
    return frozenset(lanes)


def _reaching(graph: nx.DiGraph, targets: list[str]) -> set[str]:
    """``targets`` and every node with a path to one of them: the union of their ``nx.ancestors``, in one search
    (on a filtered view, each ``nx.ancestors`` first counts the view's nodes, a pass over the whole map)."""
    seen, stack = set(targets), list(targets)
    while stack:
        for node in graph.predecessors(stack.pop()):
            if node not in seen:
                seen.add(node)
                stack.append(node)
    return seen


def inbound_gates(corridor: Corridor, out: frozenset[str]) -> frozenset[str]:
    """The customs gates not on a way out (``ways_out``): those on the way in from across, into a side's yard.
    Nobody waits there for a departure clearance, nor for anything else: they are the only way in for the
    vehicles coming from across (issue #13, findings 9 and 13)."""
    return frozenset(n.id for n in corridor.nodes_of(NodeKind.GATE) if n.id not in out)


def base_end_at(corridor: Corridor, track: Track) -> tuple[str, int | None]:
    """Where the vehicle will stop if told nothing more, and that node's sequence id on the vehicle's current
    order (None: the vehicle is not on our order, and none was sent to it, so a new order starts there).

    Node and sequence id come from one source, because the vehicle takes an update only if it starts at
    exactly that (node, sequence id). An update sent but not yet reported back (the state still shows an
    older update of the same order) counts: the vehicle will have it, and the next update must start where
    it ends. Mixing the two (the track's released node with the state's older sequence id) sent updates that
    the vehicle refused, and left it standing at the last node before the crossing with the fleet waiting
    for it to report a step it would never report: the standstill at the gates of issue #13. So does a new
    order sent and not yet reported (the state shows none of it): the next one is an update of it. A new order
    built in its place while it was on its way (a replan) overtook it: the vehicle took the first, refused the
    second as "busy", and drove to its pickup and loaded there with the fleet not following."""
    state = track.state
    if track.plan is not None and not holds_what_was_sent(track):
        return track.plan.steps[track.released].node, track.seq0 + 2 * track.released
    ours = state is not None and bool(state.order_id) and state.order_id == track.vda_order_id
    if ours and state is not None:
        released = last_released(state)
        if released is not None and released[0] in corridor.nodes:
            return released
    seq = state.last_node_sequence_id if ours and state is not None else None
    if track.plan is not None and track.reached >= 0 and track.vda_order_id is not None:
        # (an order sent that the vehicle does not show yet counts as its own too: the next is an update of it.
        # Taken for none, a replan in the tick of a new order (to a vehicle restarted between two nodes, say) sent
        # a second new order from the first one's base end, which the vehicle refused: "busy with order ...")
        return track.plan.steps[track.released].node, track.seq0 + 2 * track.released if seq is None else seq
    # (no order of ours sent: a new one starts where the vehicle stands, not where the plan's release ends)
    if track.placed_at is not None:
        return track.placed_at, seq
    if state is not None and state.last_node_id in corridor.nodes:
        return state.last_node_id, seq
    return track.record.start_node, seq


def last_released(state: VehicleState) -> tuple[str, int] | None:
    """The last released node the vehicle reports still to drive (node id, sequence id); None: it has driven its
    whole base."""
    released = [n for n in state.node_states if n.released]
    return (released[-1].node_id, released[-1].sequence_id) if released else None


def believed_released(track: Track, state: VehicleState) -> list[str]:
    """The released nodes ahead of the vehicle that the border watch judges it by (in order): those of the base
    its state reports that the fleet released to it (``released_by_fleet``), else what the fleet released to it.
    A node it reports beyond its release, or the base of an order it was never sent, is a vendor's bug or a
    forgery, no release: taken for one, a vehicle reporting an order of its own released over the bridge drove
    over it unseen. After a restart of the fleet manager, before it has planned the vehicle again, what the
    registry kept of the way last released to it (``VehicleRecord.released_way``) is what it was released: the
    nodes of the base it reports of the fleet's last order that lie on that way, else the way. Before, the base it
    reported was taken as it came, and a vehicle restarted too (on the crossing lane, say: it knows no order) was
    judged by nothing released, stopped as past its base and taken out of service on the bridge. A store from
    before the way was kept (None) leaves the reported base taken as it comes."""
    ours = track.vda_order_id is not None and state.order_id == track.vda_order_id
    reported = [n for n in state.node_states if n.released and ours]
    if track.plan is None or track.vda_order_id is None:
        way = track.record.released_way
        if way is None:
            return [n.node_id for n in reported]
        return [n.node_id for n in reported if n.node_id in way] or list(way)
    believed = [n.node_id for n in reported if released_by_fleet(track, n.node_id, n.sequence_id)]
    return believed or [step.node for step in track.plan.steps[track.reached + 1:track.released + 1]]


def released_by_fleet(track: Track, node_id: str, sequence_id: int) -> bool:
    """The fleet released ``node_id`` at ``sequence_id`` of its order to the vehicle: a step of its plan up to the
    release, or a node of the released way before the plan (``Track.way_to_plan``). Before the plan's first
    step, a node the fleet has no record of was taken as the vehicle said: after a restart of the fleet manager, a
    vehicle planned at its gate that then reported nodes over the bridge at such sequence ids (a vendor's bug, a
    forged state) was believed released across. The way it was released before a restart is recorded at its
    first plan (``way_reported_to_plan``)."""
    k, odd = divmod(sequence_id - track.seq0, 2)
    if track.plan is None or odd:
        return False
    if k < 0:
        return track.way_to_plan.get(sequence_id) == node_id
    return k <= min(track.released, len(track.plan.steps) - 1) and track.plan.steps[k].node == node_id


def way_reported_to_plan(track: Track, start: int) -> dict[int, str]:
    """The released way before a plan that goes on with the vehicle's order from sequence id ``start`` when the
    fleet had no plan before it (its first after a restart of the fleet manager, or one dropped as not driven): the
    released nodes the vehicle reports before ``start``, by sequence id; while the registry keeps the way last
    released to it before the restart (``VehicleRecord.released_way``), only those on that way."""
    state, way = track.state, track.record.released_way
    if state is None or state.order_id != track.vda_order_id:
        return {}
    return {n.sequence_id: n.node_id for n in state.node_states
            if n.released and n.sequence_id < start and (way is None or n.node_id in way)}


def refused_what_was_sent(track: Track) -> bool:
    """The vehicle's state says it refused the last order update sent to it (an order error naming that order
    and update, VDA 5050 ``errorReferences``). Only then is what it is sent built anew from what it reports: an
    update it has not shown yet may be lost (VDA 5050 sends orders with MQTT QoS 0), or only late, and a new one
    built meanwhile from where its base ended before would overtake it (``Dispatcher._see_to_what_was_sent``)."""
    return track.vda_order_id is not None and track.state is not None \
        and order_status(track.state, track.vda_order_id, track.update_id)[0] == OrderStatus.REFUSED


def lost_its_order(track: Track, state: VehicleState) -> bool:
    """The vehicle had taken our order (its state showed it) and now shows another or none, with nothing released:
    it restarted, or dropped the order. The update sent again would be refused ("a new order must have update 0"):
    a new order from where it stands is what it takes. (One that never showed the order may only have it late on
    its way: sent again as it is.)"""
    return track.shown_order_id == track.vda_order_id and state.order_id != track.vda_order_id \
        and not any(n.released for n in state.node_states)


def holds_what_was_sent(track: Track) -> bool:
    """The vehicle's state shows the last order update sent to it (or a later one), or nothing was sent."""
    state = track.state
    return track.vda_order_id is None or (state is not None and state.order_id == track.vda_order_id
                                          and state.order_update_id >= track.update_id)


def held_order(state: VehicleState) -> str:
    """The order the vehicle says it holds, in words: ``update 3 of order X``, or ``no order``."""
    return f"update {state.order_update_id} of order {state.order_id}" if state.order_id else "no order"


def order_refusals(state: VehicleState) -> list[str]:
    """Why the vehicle says it refused an order or update (its errors of those types)."""
    return [e.description for e in state.errors if e.error_type in ORDER_REFUSALS]


def reported_base_end_step(track: Track) -> int | None:
    """The step of the track's plan at which the base the vehicle reports ends (its last released node, or the
    node it stands at when it has driven its whole base); None: that node is not on the plan (the plan was made
    from where the fleet believed the base ended)."""
    state, plan = track.state, track.plan
    if state is None or plan is None:
        return None
    node, seq = last_released(state) or (state.last_node_id, state.last_node_sequence_id)
    k, odd = divmod(seq - track.seq0, 2)
    return k if not odd and 0 <= k <= track.released and plan.steps[k].node == node else None


def reported_step(track: Track, state: VehicleState) -> int | None:
    """The step of the track's plan that is the node the vehicle reports it last reached (its node and its
    sequence id on our order), or None: none of the plan's."""
    plan = track.plan
    if plan is None:
        return None
    k = (state.last_node_sequence_id - track.seq0) // 2
    return k if 0 <= k < len(plan.steps) and plan.steps[k].node == state.last_node_id else None


def reports_unreleased_node(track: Track, state: VehicleState) -> bool:
    """The vehicle reports as reached a node of its plan it was never released to (not believed: a vendor's bug,
    or a forged state; ``Dispatcher._not_released_to``)."""
    k = reported_step(track, state) if state.order_id == track.vda_order_id else None
    return k is not None and k > track.released


#: metres a vehicle may stand beside the straight line of a lane and still be on it: our agent keeps within 0.7 m of
#: the lane it drives (docs/vehicle-protocol.md, section 5)
ON_THE_LANE_M = 1.0


def standing_past(corridor: Corridor, track: Track) -> float | None:
    """How far the vehicle stands past the node it last reached, on the lane its plan goes on by from there (to
    the node after that node's first step), within ``ON_THE_LANE_M`` of it; None when it stands anywhere else.

    A vehicle restarted between two nodes (its process killed mid-edge on the bridge, say) knows no order and
    stands metres past its last node: a new order that starts there is one it accepts only with an allowed
    deviation that takes in where it stands (VDA 5050: an order's first node must be where the vehicle is, within
    that node's deviation range). Not the node ahead: counted as there already, the vehicle would drive from where
    it stands straight to the node after it, off the lanes at a turn. Before its first plan after a restart of the
    fleet manager, the lane is one of the way last released to it (``VehicleRecord.released_way``)."""
    state, plan = track.state, track.plan
    route = [step.node for step in plan.steps] + list(plan.horizon) if plan is not None \
        else track.record.released_way
    if state is None or not route or not state.position_initialized:
        return None
    k = next((i for i, node in enumerate(route[:-1]) if node == state.last_node_id), None)
    if k is None:
        return None
    a, b = corridor.nodes[route[k]], corridor.nodes[route[k + 1]]
    dx, dy, px, py = b.x - a.x, b.y - a.y, state.pose.x - a.x, state.pose.y - a.y
    length = (dx * dx + dy * dy) ** 0.5
    along, beside = (px * dx + py * dy) / length, abs(px * dy - py * dx) / length
    return (px * px + py * py) ** 0.5 if 0.0 < along <= length and beside <= ON_THE_LANE_M else None


def base_end(corridor: Corridor, track: Track) -> str:
    """Where the vehicle will stop if told nothing more: its last released node, else where it is."""
    return base_end_at(corridor, track)[0]


def released_way(corridor: Corridor, track: Track) -> tuple[str, ...]:
    """Where the vehicle stands (the node it last reached, or was set down at), then the way released to it that
    it may still drive, to where its base ends: the released nodes its state shows, and those of its plan released
    in an update it has not shown yet (on its way, it may yet take it). In that order, each node once."""
    state, plan = track.state, track.plan
    ahead = [n.node_id for n in state.node_states if n.released] if state is not None else []
    if plan is not None and not holds_what_was_sent(track):
        ahead += [step.node for step in plan.steps[max(track.reached, 0):track.released + 1]]
    here = track.placed_at or (state.last_node_id if state is not None else "")
    return tuple(dict.fromkeys(n for n in (here, *ahead, base_end(corridor, track)) if n in corridor.nodes))


def waiting_at_gate(track: Track, outbound_gates: Mapping[str, str]) -> str | None:
    """The gate the vehicle waits at, loaded, for its clearance (None: it does not): at the end of a plan that
    has it wait there, or left standing at one of its side's outbound gates (``outbound_gates``: gate -> side)
    by a replan that stalled, with nothing released past it. The planner's fallback plan says no "await
    clearance" (it keeps the vehicle there, or has it wait for a way to a bay), but the vehicle waits for customs
    all the same: its clearance is not to wait for the stalled replan's retry (bench_fleet's clearance tail:
    5 s)."""
    plan, job = track.plan, track.job
    if plan is None or job is None or job.order is None or job.cleared or job.order.state not in LOADED_STATES \
            or not 0 <= track.reached < len(plan.steps):
        return None
    if plan.steps[-1].action == "await_clearance":
        return plan.end if plan.horizon and track.reached == len(plan.steps) - 1 else None
    here = plan.steps[track.reached].node
    stands = track.stalled_since is not None and track.released == track.reached
    return here if stands and outbound_gates.get(here) == job.order.source else None


def gates_before(corridor: Corridor, places: Set[str], outbound_gates: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """For each of ``places`` (the last nodes before the crossing), its side's outbound gates that lead to it
    (``outbound_gates``: gate -> side), in id order: the gates a vehicle waiting there came through."""
    return {place: tuple(sorted(gate for gate, side in outbound_gates.items()
                                if side == corridor.nodes[place].jurisdiction
                                and nx.has_path(corridor.graph, gate, place)))
            for place in places}


def waiting_before_crossing(track: Track, pre_crossing: Set[str]) -> str | None:
    """The last node before the crossing (``pre_crossing``; relay: before the handoff pad) at which the vehicle
    stands, its release stopped there by the gate rule, a hold or its partner's wait (``Track.waits_because``);
    None: it does not wait there."""
    plan = track.plan
    if track.waits_because is None or plan is None or not 0 <= track.reached == track.released < len(plan.steps):
        return None
    here = plan.steps[track.reached].node
    return here if here in pre_crossing else None


def bound_for_gate(track: Track) -> bool:
    """Its plan ends at a gate to wait there for clearance (it may still be on its way)."""
    plan, job = track.plan, track.job
    return plan is not None and job is not None and not job.cleared and plan.steps[-1].action == "await_clearance"


def bound_for_pickup(track: Track) -> bool:
    """Its plan ends at its order's pickup dock, to load there (it may still be on its way): it is planned on
    once loaded."""
    plan, job = track.plan, track.job
    return plan is not None and job is not None and job.order is not None and plan.steps[-1].action == "pickup"


def is_free(track: Track) -> bool:
    """In service, reporting, with no job, at the end of its plan: it may take an order."""
    plan = track.plan
    return track.job is None and track.unavailable is None and track.record.in_service and track.state \
        is not None and plan is not None and track.reached == len(plan.steps) - 1


def has_left(corridor: Corridor, track: Track, clear_m: float) -> bool:
    """The vehicle has driven ``clear_m`` (its length and the gap behind it) off the node it last reached."""
    state, plan = track.state, track.plan
    if state is None or plan is None or track.reached < 0 or track.released <= track.reached:
        return False
    node = corridor.nodes[plan.steps[track.reached].node]
    return ((state.pose.x - node.x) ** 2 + (state.pose.y - node.y) ** 2) ** 0.5 > clear_m


def custody_arrival(track: Track, now: float, pad: str) -> float | None:
    """When the vehicle reached its custody step at the handoff pad (``now`` if not noted); None: not there.
    A plan that ends at the pad without the custody mark counts too: one that keeps a vehicle stalled there
    where it stands (the planner's fallback) must not hold up the transfer for good. A plan that only drives
    over the pad (a fallback on its way to a waiting place beyond) does not: the vehicle never stops there, and
    a transfer counted from it recorded a handoff with the receiver already far past the pad (issue #13)."""
    plan = track.plan
    if plan is None or track.reached < 0:
        return None
    last = len(plan.steps) - 1
    k = next((i for i, s in enumerate(plan.steps) if s.action == CUSTODY or (i == last and s.node == pad)), None)
    if k is None or track.reached < k:
        return None
    return track.arrived_at.get(k, now)


def pickup_step(plan: TimedPlan) -> int | None:
    """The index of the plan's step that loads at the order's pickup dock, if it has one."""
    return next((k for k, s in enumerate(plan.steps) if s.action == "pickup"), None)


def step_action_id(track: Track, step: int, action_type: str) -> str:
    """The id of the node action ``action_type`` at plan step ``step`` of the vehicle's VDA order (it has one)."""
    assert track.vda_order_id is not None
    return node_action_id(track.vda_order_id, track.seq0 + 2 * step, action_type)


def handling_state(track: Track, step: int, action_type: str) -> ActionState | None:
    """What the vehicle reports of its node action ``action_type`` (pick, drop) at plan step ``step`` of the
    order it has from us, or None while it reports nothing of it."""
    state = track.state
    if state is None or track.vda_order_id is None or state.order_id != track.vda_order_id:
        return None
    action_id = step_action_id(track, step, action_type)
    return next((a for a in state.action_states if a.action_id == action_id), None)


def node_actions(track: Track) -> dict[int, tuple[str, ...]]:
    """VDA 5050 node actions by step index: pick at the pickup, drop (or charge) at the plan's end for a
    delivery (a charge) when that end is the job's goal (a plan that ends at a gate to wait there drops
    nothing there), and at a relay's pad drop for the vehicle handing over, pick for the one taking over."""
    plan, job = track.plan, track.job
    if plan is None:
        return {}
    actions: dict[int, tuple[str, ...]] = {k: ("pick",) for k, s in enumerate(plan.steps) if s.action == "pickup"}
    if job is not None and job.partner is not None:
        actions |= {k: ("drop",) if job.kind == JobKind.HAND_OVER else ("pick",)
                    for k, s in enumerate(plan.steps) if s.action == CUSTODY}
    at_goal = job is not None and plan.end in job.goals and not plan.horizon  # not a plan cut short at a gate
    if job is not None and at_goal and job.kind == JobKind.DELIVER:  # nor one that ends at the pickup
        actions[len(plan.steps) - 1] = ("drop",)
    if job is not None and at_goal and job.kind == JobKind.CHARGE:
        actions[len(plan.steps) - 1] = ("startCharging",)
    return actions


#: A vehicle whose last state came within this many seconds is shown as reporting. Views go out only when what they
#: show changes, not for the age of the state alone, so a console adds the time since a view came to the age in it:
#: an idle vehicle reporting all along was shown 25 s old (seen by eye in the demo). Now a view also goes out when a
#: vehicle stops or starts reporting, and a console grows the age only of a vehicle that is not.
REPORTING_S = 3.0


def reporting(track: Track) -> bool:
    return track.state_age is not None and track.state_age < REPORTING_S


def vehicle_view(track: Track) -> VehicleView:
    """What the API and the stream show of a vehicle."""
    state, plan = track.state, track.plan
    route = [s.node for s in plan.steps] if plan else []
    view = VehicleView(id=track.id, home=track.record.home, may_cross=track.record.may_cross,
                       in_service=track.record.in_service, service_reason=track.record.service_reason,
                       connection=track.connection, state_age_s=track.state_age, reporting=reporting(track),
                       order_id=track.job.order.id if track.job and track.job.order else None,
                       job=str(track.job.kind) if track.job else None,
                       released_nodes=route[max(track.reached, 0):track.released + 1] if plan else [],
                       horizon_nodes=route[track.released + 1:] + list(plan.horizon) if plan else [],
                       stalled_because=track.stalled_because or track.waits_because or _cannot_go_on(track),
                       held_load=list(track.job.aboard) if track.job and track.job.kind == JobKind.HOLD else [],
                       held_at=track.job.held_at if track.job else None)
    if state is not None:
        view = view.model_copy(update={
            "last_node": state.last_node_id, "x": state.pose.x, "y": state.pose.y, "theta": state.pose.theta,
            "speed": state.velocity[0], "battery": state.battery_charge, "driving": state.driving,
            "paused": state.paused, "e_stop": state.e_stop, "operating_mode": state.operating_mode,
            "errors": [f"{e.level} {e.error_type}: {e.description}" for e in state.errors]})
    return view


def _cannot_go_on(track: Track) -> str | None:
    """Why a vehicle with a job stands, when it cannot go on (``Track.unavailable``: it refuses every order sent,
    offline, an emergency stop...). Before, a vehicle restarted on the bridge that refused every order stood there
    with its order ``crossing`` and nothing said why."""
    return track.unavailable if track.job is not None else None


def view_key(track: Track) -> tuple[object, ...]:
    """What :func:`vehicle_view` shows, but for the age of the state, as a cheap tuple: equal keys, same view."""
    state, job, record = track.state, track.job, track.record
    shown: tuple[object, ...] = (track.connection, record.in_service, record.service_reason, id(track.plan),
                                 track.reached, track.released, job.kind if job else None,
                                 job.order.id if job and job.order else None, track.stalled_because,
                                 track.waits_because, track.unavailable,
                                 job.held_at if job else None, reporting(track))
    if state is None:
        return shown
    return (*shown, state.last_node_id, state.pose, state.velocity[0], state.battery_charge, state.driving,
            state.paused, state.e_stop, state.operating_mode, state.errors)
