"""Random interleavings of valid, duplicated, reordered, forged and equivocating events from both authorities;
after every step the gate's answer must equal an independent reading of DESIGN.md §3's rule (a gap in an
authority's seqs — an issued event not yet delivered — denies)."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from fleet.customs.gate import Authority, CustomsGate, Outcome
from fleet.customs.signing import EventSigner, sign_event
from fleet.store import Store

AUTHORITIES = {"VN_CUSTOMS": "VN", "CN_CUSTOMS": "CN"}
KEYS = {name: Ed25519PrivateKey.generate() for name in AUTHORITIES}
CONSIGNMENTS = ["VN-00000000A1", "CN-00000000B2"]
VEHICLES = ["agv_001", "agv_002"]
DIRECTIONS = ["VN->CN", "CN->VN"]
CONSIGNMENT_TYPES = ["declaration.accepted", "inspection.required", "inspection.passed", "released", "hold",
                     "hold.lifted", "revoked"]
TIMEOUT = 60.0


class GateAgainstReference(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 1_795_000_000.0
        self.tmp = tempfile.TemporaryDirectory()
        self.gate = self.open_gate()
        self.restarts = 0
        self.signers = {n: EventSigner(n, KEYS[n], clock=lambda: self.now) for n in AUTHORITIES}
        self.seqs = {n: itertools.count(1) for n in AUTHORITIES}
        self.pending: list[dict] = []  # issued, not yet delivered: delivery order is free (reordering)
        self.delivered: list[dict] = []
        # the reference's own record of what should have been accepted
        self.accepted: dict[str, dict] = {}
        self.last_heard: dict[str, float] = {}
        self.heard_seqs: dict[str, set[int]] = {n: set() for n in AUTHORITIES}  # validly signed, even if refused
        self.malformed_seqs: dict[str, set[int]] = {n: set() for n in AUTHORITIES}  # validly signed, malformed

    def open_gate(self) -> CustomsGate:
        """A gate that takes a clearance snapshot every 5 events, so restarts load one and a tail."""
        authorities = [Authority(n, s, KEYS[n].public_key()) for n, s in AUTHORITIES.items()]
        return CustomsGate(authorities, Store(Path(self.tmp.name) / "g.db"), TIMEOUT, clock=lambda: self.now,
                           snapshot_every=(5, 1e9))

    def teardown(self) -> None:
        self.gate.store.close()
        self.tmp.cleanup()

    # --- the reference -----------------------------------------------------------------------------------

    def expect(self, event: dict, forged: bool = False) -> Outcome:
        if forged:
            return Outcome.REFUSED
        known = self.accepted.get(event["event_id"])
        if known is not None:
            same = {k: v for k, v in known.items() if k != "order"} == event
            return Outcome.DUPLICATE if same else Outcome.REFUSED
        if any(e["authority"] == event["authority"] and e["seq"] == event["seq"] for e in self.accepted.values()):
            return Outcome.REFUSED
        c = event["consignment_id"]
        if c is not None:
            first = min((e for e in self.accepted.values() if e["consignment_id"] == c),
                        key=lambda e: e["order"], default=None)
            if first is not None and first["direction"] != event["direction"]:
                return Outcome.REFUSED
        return Outcome.ACCEPTED

    def reference_allowed(self, vehicle: str, direction: str, aboard: tuple[str, ...]) -> bool:
        events = list(self.accepted.values())

        def last(kinds: set[str], authority: str, key: str, value: str) -> str | None:
            chosen = [e for e in events if e["authority"] == authority and e[key] == value and e["type"] in kinds]
            return max(chosen, key=lambda e: e["seq"])["type"] if chosen else None

        for authority in AUTHORITIES:
            if self.now - self.last_heard.get(authority, -1e18) > TIMEOUT:
                return False
            heard = self.heard_seqs[authority]  # a malformed event's seq proves nothing below it
            if heard and len(heard | {s for s in self.malformed_seqs[authority] if s < max(heard)}) < max(heard):
                return False  # a gap in its stream below its latest well-formed seq
            vehicle_events = {"vehicle.authorized", "vehicle.revoked"}
            if last(vehicle_events, authority, "vehicle_id", vehicle) != "vehicle.authorized":
                return False
            for c in aboard:
                if last({"released", "revoked"}, authority, "consignment_id", c) != "released":
                    return False
                if last({"hold", "hold.lifted"}, authority, "consignment_id", c) == "hold":
                    return False
        for c in aboard:
            first = min((e for e in events if e["consignment_id"] == c), key=lambda e: e["order"], default=None)
            if first is None or first["direction"] != direction:
                return False
        return True

    def deliver_and_check(self, event: dict, forged: bool = False) -> None:
        expected = self.expect(event, forged)
        result = self.gate.ingest(event, "test")
        assert result.outcome == expected, (result, event)
        if not forged:
            self.heard_seqs[event["authority"]].add(event["seq"])
        if expected == Outcome.ACCEPTED:
            self.accepted[event["event_id"]] = {**event, "order": len(self.accepted)}
            self.last_heard[event["authority"]] = self.now

    # --- rules ---------------------------------------------------------------------------------------------

    @initialize()
    def authorize_a_vehicle(self):
        """Start with agv_001 authorized by both, so crossings are reachable within a few steps."""
        for authority in AUTHORITIES:
            self.deliver_and_check(self.signers[authority].event("vehicle.authorized", vehicle_id=VEHICLES[0],
                                                                 seq=next(self.seqs[authority])))

    @rule(authority=st.sampled_from(sorted(AUTHORITIES)), consignment=st.sampled_from(CONSIGNMENTS))
    def issue_declaration_and_release(self, authority, consignment):
        direction = DIRECTIONS[consignment.startswith("CN")]
        for kind in ("declaration.accepted", "released"):
            self.pending.append(self.signers[authority].event(kind, consignment, direction=direction,
                                                              seq=next(self.seqs[authority])))

    @rule(authority=st.sampled_from(sorted(AUTHORITIES)), kind=st.sampled_from(CONSIGNMENT_TYPES),
          consignment=st.sampled_from(CONSIGNMENTS), wrong_direction=st.booleans())
    def issue_consignment_event(self, authority, kind, consignment, wrong_direction):
        direction = DIRECTIONS[(consignment.startswith("CN")) ^ wrong_direction]
        self.pending.append(self.signers[authority].event(kind, consignment, direction=direction,
                                                          seq=next(self.seqs[authority])))

    @rule(authority=st.sampled_from(sorted(AUTHORITIES)), vehicle=st.sampled_from(VEHICLES), grant=st.booleans())
    def issue_vehicle_event(self, authority, vehicle, grant):
        kind = "vehicle.authorized" if grant else "vehicle.revoked"
        self.pending.append(self.signers[authority].event(kind, vehicle_id=vehicle, seq=next(self.seqs[authority])))

    @rule(authority=st.sampled_from(sorted(AUTHORITIES)))
    def heartbeat(self, authority):
        self.deliver_and_check(self.signers[authority].event("heartbeat", seq=next(self.seqs[authority])))

    @rule(data=st.data())
    def deliver_any_pending(self, data):
        if self.pending:
            event = self.pending.pop(data.draw(st.integers(0, len(self.pending) - 1)))
            self.delivered.append(event)
            self.deliver_and_check(event)

    @rule(authority=st.sampled_from(sorted(AUTHORITIES)), far=st.sampled_from([0, 3, 2**53]))
    def malformed(self, authority, far):
        """A validly signed event with a type no authority issues, at the next seq, a few ahead, or at 2^53."""
        seq = next(self.seqs[authority]) if far == 0 else max(self.heard_seqs[authority], default=0) + far
        fields = self.signers[authority].event("heartbeat", seq=seq)
        event = sign_event({**fields, "type": "no.such.type"}, KEYS[authority])
        assert self.gate.ingest(event, "test").outcome == Outcome.REFUSED
        if seq < 2**53:
            self.malformed_seqs[authority].add(seq)

    @rule(data=st.data())
    def redeliver(self, data):
        if self.delivered:
            self.deliver_and_check(data.draw(st.sampled_from(self.delivered)))

    @rule(data=st.data())
    def equivocate(self, data):
        if self.delivered:
            original = data.draw(st.sampled_from(self.delivered))
            twin = self.signers[original["authority"]].event("released", CONSIGNMENTS[0], direction="VN->CN",
                                                             seq=original["seq"])
            self.deliver_and_check(twin)

    @rule(authority=st.sampled_from(sorted(AUTHORITIES)), consignment=st.sampled_from(CONSIGNMENTS))
    def forge(self, authority, consignment):
        forger = EventSigner(authority, Ed25519PrivateKey.generate(), clock=lambda: self.now)
        self.deliver_and_check(forger.event("released", consignment, direction="VN->CN", seq=10_000), forged=True)

    @precondition(lambda self: self.restarts < 2)
    @rule()
    def restart(self):
        """The service restarts: the state comes back from the latest snapshot and the events after it."""
        self.gate.store.close()
        self.gate = self.open_gate()
        self.restarts += 1

    @rule(seconds=st.sampled_from([1.0, 30.0, 59.0, 61.0, 300.0]))
    def time_passes(self, seconds):
        self.now += seconds

    @invariant()
    def gate_agrees_with_reference(self):
        for vehicle, direction in itertools.product(VEHICLES, DIRECTIONS):
            for aboard in ((), (CONSIGNMENTS[0],), (CONSIGNMENTS[1],), tuple(CONSIGNMENTS)):
                decision = self.gate.evaluate(vehicle, direction, aboard)
                assert decision.allowed == self.reference_allowed(vehicle, direction, aboard), (
                    vehicle, direction, aboard, decision.reasons)
                assert decision.allowed == (decision.reasons == ())


TestGateAgainstReference = GateAgainstReference.TestCase
TestGateAgainstReference.settings = settings(max_examples=60, stateful_step_count=50, deadline=None)
