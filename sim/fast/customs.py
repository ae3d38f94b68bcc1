"""Both customs authorities in the fast simulator: signed events on simulated time, ingested through the fleet's
own :meth:`CustomsGate.ingest` like those from a ZeroMQ or HTTPS link.

Per consignment, each authority: the declaration (``demand.declared_before_min`` before the container is ready),
a channel drawn from the scenario's mix, then the channel's delay (an inspection for yellow and red), then the
release, sometimes a hold for a while. The departure side's release also waits for the gate pass: its officer
releases the container once the vehicle carrying it has stood at the gate for the pass time (15 to 45 s).
Heartbeats keep each link alive; a customs outage silences an authority (its events wait and are sent when it
is back); forged events (signed with another key) and equivocating ones (a used seq with other content) are
sent now and then, and must be refused.

:class:`Ledger` is the independent record of what each authority really decided, for the safety check: it is
kept from what the authorities mean, never from the gate's state.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fleet.customs.gate import Authority, CustomsGate
from fleet.customs.signing import EventSigner
from sim.scenario import CustomsSide, Scenario

__all__ = ["CustomsSim", "Ledger", "authority_key"]

Schedule = Callable[[float, Callable[[], None]], None]


def authority_key(seed: int, name: str) -> Ed25519PrivateKey:
    """A key that is the same for the same seed, so a run is repeatable to the byte."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"xborder-sim/{seed}/{name}".encode()).digest())


@dataclass
class Ledger:
    """What each authority has decided, as the authority sees it: (consignment, authority) -> released now?"""

    released: dict[tuple[str, str], bool] = field(default_factory=dict)
    authorized: dict[tuple[str, str], bool] = field(default_factory=dict)

    def cleared(self, consignment: str, authorities: list[str]) -> bool:
        return all(self.released.get((consignment, a), False) for a in authorities)

    def may_cross(self, vehicle: str, authorities: list[str]) -> bool:
        return all(self.authorized.get((vehicle, a), False) for a in authorities)

    def record(self, authority: str, kind: str, consignment: str | None = None,
               vehicle_id: str | None = None) -> None:
        """``authority`` decided ``kind`` about a consignment or a vehicle."""
        if kind in ("released", "hold.lifted"):
            self.released[(consignment or "", authority)] = True
        elif kind in ("hold", "revoked"):
            self.released[(consignment or "", authority)] = False
        elif kind == "vehicle.authorized":
            self.authorized[(vehicle_id or "", authority)] = True


@dataclass
class _Consignment:
    id: str
    direction: str
    ready_at: dict[str, float] = field(default_factory=dict)  # authority -> when its clearance is done
    at_gate: float | None = None
    channel: dict[str, str] = field(default_factory=dict)


class CustomsSim:
    """Both authorities of a scenario, sending to the fleet's ``gate`` at the times ``schedule(t, action)`` runs
    them."""

    def __init__(self, scenario: Scenario, schedule: Schedule, epoch: float, now: Callable[[], float]) -> None:
        self.scenario, self.schedule, self.epoch, self.now = scenario, schedule, epoch, now
        self.gate: CustomsGate | None = None  # the fleet's, once it is built (with these authorities' keys)
        self.rng = random.Random(f"{scenario.seed}/customs")
        self.sides: dict[str, CustomsSide] = dict(scenario.customs)
        self.names = [side.authority for side in self.sides.values()]
        self.side_of = {side.authority: name for name, side in self.sides.items()}
        self.signers = {a: EventSigner(a, authority_key(scenario.seed, a), clock=self._wall) for a in self.names}
        self.forger = EventSigner(self.names[0], authority_key(scenario.seed, "forger"), first_seq=10**9,
                                  clock=self._wall)
        self.ledger = Ledger()
        self.consignments: dict[str, _Consignment] = {}
        self.delivered_release: dict[tuple[str, str], float] = {}  # (consignment, authority) -> seconds
        self.outages = {a: [(o.start_h * 3600, o.start_h * 3600 + o.duration_min * 60)
                            for o in scenario.faults.customs_outages if o.authority == a] for a in self.names}
        self._backlog: dict[str, list[dict]] = {a: [] for a in self.names}
        self.refused: dict[str, int] = {"forged": 0, "equivocating": 0, "genuine": 0}
        self.sent = {"forged": 0, "equivocating": 0, "genuine": 0}
        self._uuid = random.Random(f"{scenario.seed}/event-ids")
        self._last_seq: dict[str, int] = {}

    def authorities(self) -> list[Authority]:
        return [Authority(a, self.side_of[a], self.signers[a].key.public_key()) for a in self.names]

    def _wall(self) -> float:
        return self.epoch + self.now()

    # --- the plan ---------------------------------------------------------------------------------------------

    def start(self, vehicles: list[str], duration_s: float) -> None:
        """Authorize the vehicles allowed to cross, start the heartbeats, plan the outages and the bad events."""
        assert self.gate is not None, "connect the fleet's gate first"
        authorizations = []
        for name in self.names:
            for vehicle in vehicles:
                self.ledger.authorized[(vehicle, name)] = True
                authorizations.append((self.signers[name].event("vehicle.authorized", vehicle_id=vehicle,
                                                                event_id=self._event_id()), None))
        self.schedule(0.0, self._heartbeats)
        results = self.gate.ingest_many(authorizations, "sim")  # one transaction, as a link's batch would be
        self.sent["genuine"] += len(results)
        self.refused["genuine"] += sum(not r.acknowledged for r in results)
        for name in self.names:
            for _, end in self.outages[name]:
                self.schedule(end, partial(self._flush, name))
        faults = self.scenario.faults
        for kind, count in (("forged", faults.forged_events), ("equivocating", faults.equivocating_events)):
            for _ in range(count):
                self.schedule(self.rng.uniform(0.05, 0.95) * duration_s, partial(self._bad_event, kind))

    def declare(self, consignment: str, direction: str, declared_at: float) -> None:
        """Plan both authorities' handling of a consignment declared at ``declared_at`` (seconds)."""
        item = _Consignment(consignment, direction)
        self.consignments[consignment] = item
        departure = direction.split("->")[0]
        for side_name, side in self.sides.items():
            authority = side.authority
            channel = self.rng.choices(list(side.channels), weights=[c.share for c in side.channels.values()])[0]
            item.channel[authority] = channel
            t = declared_at
            self.schedule(t, partial(self._issue, authority, "declaration.accepted", consignment, direction))
            t += self.rng.uniform(5, 60)
            self.schedule(t, partial(self._issue, authority, "channel.assigned", consignment, direction,
                                     {"channel": channel}))
            delay = side.channels[channel].sample_s(self.rng)
            if channel != "green":
                t += self.rng.uniform(10, 120)
                self.schedule(t, partial(self._issue, authority, "inspection.required", consignment, direction,
                                         {"channel": channel}))
                t += delay
                self.schedule(t, partial(self._issue, authority, "inspection.passed", consignment, direction))
                t += self.rng.uniform(10, 60)
            else:
                t += delay
            item.ready_at[authority] = t
            if side_name == departure:
                continue  # released at the gate pass (at_gate)
            self.schedule(t, partial(self._release, authority, consignment))

    def at_gate(self, consignment: str) -> None:
        """The vehicle carrying ``consignment`` stands at its departure gate: the gate pass starts."""
        item = self.consignments.get(consignment)
        if item is None or item.at_gate is not None:
            return
        item.at_gate = self.now()
        low, high = self.scenario.gate_pass_s
        authority = self.sides[item.direction.split("->")[0]].authority
        when = max(item.ready_at[authority], item.at_gate + self.rng.uniform(low, high))
        self.schedule(when, lambda: self._release(authority, consignment))

    def _release(self, authority: str, consignment: str) -> None:
        item = self.consignments[consignment]
        self._issue(authority, "released", consignment, item.direction)
        side = self.sides[self.side_of[authority]]
        if self.rng.random() < side.hold_rate:
            t = self.now() + self.rng.uniform(30, 600)
            lift = t + side.hold.sample_s(self.rng)
            self.schedule(t, lambda: self._issue(authority, "hold", consignment, item.direction,
                                                 {"reason": "risk alert"}))
            self.schedule(lift, lambda: self._issue(authority, "hold.lifted", consignment, item.direction))

    # --- sending ----------------------------------------------------------------------------------------------

    def _silent(self, authority: str) -> bool:
        t = self.now()
        return any(start <= t < end for start, end in self.outages[authority])

    def _event_id(self) -> str:
        return str(uuid.UUID(int=self._uuid.getrandbits(128), version=4))

    def _issue(self, authority: str, kind: str, consignment: str | None = None, direction: str | None = None,
               payload: dict | None = None, vehicle_id: str | None = None) -> None:
        """The authority decides: the ledger knows at once; the fleet when the event arrives."""
        self.ledger.record(authority, kind, consignment, vehicle_id)
        event = self.signers[authority].event(kind, consignment, vehicle_id, direction, payload,
                                              event_id=self._event_id())
        self._last_seq[authority] = event["seq"]
        if self._silent(authority):
            self._backlog[authority].append(event)
            return
        self._deliver([event], "genuine")

    def _deliver(self, events: list[dict], kind: str) -> None:
        """Send events as one batch of a link: checked one after the other, committed together."""
        assert self.gate is not None, "connect the fleet's gate first"
        self.sent[kind] += len(events)
        for event, result in zip(events, self.gate.ingest_many([(e, None) for e in events], "sim"), strict=True):
            if not result.acknowledged:
                self.refused[kind] += 1
            elif event["type"] == "released" and kind == "genuine":
                self.delivered_release[(event["consignment_id"], event["authority"])] = self.now()

    def _flush(self, authority: str) -> None:
        """The authority is back: what it decided while silent goes out as one batch."""
        backlog, self._backlog[authority] = self._backlog[authority], []
        if backlog:
            self._deliver(backlog, "genuine")

    def _heartbeats(self) -> None:
        """Every authority not silenced beats, in one batch: they beat at the same instants (a transaction per
        beat was 6 % of a day of ``target_2030``, 11,520 beats)."""
        beats = [self.signers[a].event("heartbeat", event_id=self._event_id()) for a in self.names
                 if not self._silent(a)]
        if beats:
            self._deliver(beats, "genuine")
        self.schedule(self.now() + self.scenario.heartbeat_s, self._heartbeats)

    def _bad_event(self, kind: str) -> None:
        """A release nobody decided: forged (another key), or equivocating (the authority's key, a used seq)."""
        waiting = sorted(c for c, item in self.consignments.items()
                         if not self.ledger.cleared(c, self.names))
        if not waiting:
            return
        consignment = self.rng.choice(waiting)
        item = self.consignments[consignment]
        authority = self.rng.choice(self.names)
        if kind == "equivocating" and (authority not in self._last_seq or self._silent(authority)
                                       or self._backlog[authority]):
            return  # equivocate only on a seq the fleet already holds
        if kind == "forged":
            self.forger.authority = authority
            event = self.forger.event("released", consignment, None, item.direction, event_id=self._event_id())
        else:
            event = self.signers[authority].event("released", consignment, None, item.direction,
                                                  seq=self._last_seq[authority], event_id=self._event_id())
        self._deliver([event], kind)
