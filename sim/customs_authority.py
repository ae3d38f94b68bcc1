"""A customs authority simulator: a realistic stream of signed events over ZeroMQ, with fault modes.

Per consignment: declaration -> channel (VN: green 65% / yellow 25% / red 10%; CN: inspection ~7%) ->
inspection -> release, with lognormal delays (medians: green 5 min, yellow 45 min, red 3 h), occasional
holds and revocations; vehicle authorizations; heartbeats. Simulated time runs ``time_scale`` times faster
than real time. Two simulators started with the same ``--seed`` and ``--consignments`` talk about the
same consignments, as the two real customs systems would.

Fault modes: ``duplicates`` (resend some events), ``reorder`` (swap neighbours after numbering),
``delay`` (hold some events back), ``outage`` (go silent for a while, then send the backlog),
``forge`` (some events signed with a key that is not the authority's).
"""

from __future__ import annotations

import json
import math
import random
import re
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import typer

T = TypeVar("T")
FAULTS = ("duplicates", "reorder", "delay", "outage", "forge")
CHANNEL_SHARES = {"VN": {"green": 0.65, "yellow": 0.25, "red": 0.10}, "CN": {"green": 0.93, "red": 0.07}}
MEDIAN_S = {"green": 300.0, "yellow": 2700.0, "red": 10800.0}
SIDE_PATTERN = r"^[A-Z]{2}$"  # as the fleet's config names a side


@dataclass(frozen=True)
class Profile:
    consignments: int = 20
    vehicles: int = 5
    arrival_spread_s: float = 3600.0  # declarations arrive over this much simulated time
    backlog: int = 0  # of which the first this many arrive within the first simulated minute (a queue at start)
    quick: int = 0  # of which the first this many are green and released within 2.5 simulated minutes, never held
    heartbeat_s: float = 15.0
    sigma: float = 0.5  # lognormal shape of every delay
    hold_rate: float = 0.03
    revoke_rate: float = 0.01
    faults: frozenset[str] = frozenset()
    fault_rate: float = 0.05
    outage_s: float = 300.0
    seed: int = 1


@dataclass(order=True)
class Scheduled:
    """An event to send at simulated time ``at``; ``fields`` lack seq, issued_at and signature."""

    at: float
    fields: dict[str, Any] = field(compare=False)
    forged: bool = field(default=False, compare=False)


def consignment_ids(profile: Profile) -> list[tuple[str, str]]:
    """(id, direction) pairs both authorities derive from the shared seed: half exports, half imports."""
    rng = random.Random(profile.seed)
    pairs = []
    for i in range(profile.consignments):
        origin, destination = ("VN", "CN") if rng.random() < 0.5 else ("CN", "VN")
        pairs.append((f"{origin}-{profile.seed % 10000:04d}{i:08d}", f"{origin}->{destination}"))
    return pairs


def build_schedule(authority: str, side: str, profile: Profile) -> list[Scheduled]:
    """Every event this authority will issue, in simulated time order (before faults)."""
    rng = random.Random(f"{profile.seed}/{authority}")
    shares = CHANNEL_SHARES.get(side, CHANNEL_SHARES["CN"])
    events: list[Scheduled] = [Scheduled(0.0, {"type": "vehicle.authorized", "vehicle_id": f"agv_{v:03d}"})
                               for v in range(1, profile.vehicles + 1)]

    def lognormal(median: float) -> float:
        return rng.lognormvariate(math.log(median), profile.sigma)

    for number, (consignment, direction) in enumerate(consignment_ids(profile)):
        def at(t: float, kind: str, payload: dict[str, Any] | None = None,
               c: str = consignment, d: str = direction) -> None:
            events.append(Scheduled(t, {"type": kind, "consignment_id": c, "direction": d, "payload": payload or {}}))

        quick = number < profile.quick
        t = rng.uniform(0, 60.0 if number < profile.backlog else profile.arrival_spread_s)
        at(t, "declaration.accepted")
        channel = "green" if quick else rng.choices(list(shares), weights=list(shares.values()))[0]
        t += rng.uniform(5, 30 if quick else 60)
        at(t, "channel.assigned", {"channel": channel})
        if channel != "green":
            t += rng.uniform(10, 120)
            at(t, "inspection.required", {"channel": channel})
            t += lognormal(MEDIAN_S[channel])
            at(t, "inspection.passed")
            t += rng.uniform(10, 120)
        else:
            t += rng.uniform(20, 60) if quick else lognormal(MEDIAN_S["green"])
        at(t, "released")
        if quick:
            continue
        if rng.random() < profile.hold_rate:
            t += rng.uniform(30, 600)
            at(t, "hold", {"reason": "risk alert"})
            t += lognormal(900.0)
            at(t, "hold.lifted")
        if rng.random() < profile.revoke_rate:
            t += rng.uniform(30, 600)
            at(t, "revoked", {"reason": "declaration amended"})
            if rng.random() < 0.5:
                t += lognormal(1800.0)
                at(t, "released")
    horizon = max((e.at for e in events), default=0.0)  # none: the link's heartbeats alone
    events += [Scheduled(k * profile.heartbeat_s, {"type": "heartbeat"})
               for k in range(int(horizon // profile.heartbeat_s) + 2)]
    return sorted(events)


def write_schedule(path: Path, t0: float, items: list[Scheduled]) -> Path:
    """A schedule for ``xborder customs simulate --schedule``: its events (unsigned) at simulated seconds after
    ``t0`` (a wall-clock time), e.g. a simulation scenario's customs decisions (:mod:`sim.ros_mode`)."""
    path.write_text(json.dumps({"t0": t0, "events": [{"at": e.at, "fields": e.fields} for e in items]}),
                    encoding="utf-8")
    return path


def read_schedule(path: Path) -> tuple[float, list[Scheduled]]:
    """``(t0, events)`` of a :func:`write_schedule` file; ``ValueError`` says what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return float(data["t0"]), sorted(Scheduled(float(e["at"]), dict(e["fields"])) for e in data["events"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a customs schedule ({{t0, events: [{{at, fields}}]}}): {exc!r}") from None


def sign_schedule(schedule: list[Scheduled], signer, issue_time: Callable[[float], float],
                  first_seq: int = 1) -> list[Scheduled]:
    """Number the events in issue order (their seq, from ``first_seq``), stamp issued_at (``issue_time`` of their
    simulated time: the wall-clock moment they are due) and sign them."""
    signed = []
    for seq, item in enumerate(schedule, start=first_seq):
        fields = {"consignment_id": None, "vehicle_id": None, "direction": None, "payload": {}, **item.fields}
        signed.append(replace(item, fields=signer.event(fields.pop("type"), seq=seq, issued_at=issue_time(item.at),
                                                        **fields)))
    return signed


def apply_faults(signed: list[Scheduled], profile: Profile, forger) -> list[Scheduled]:
    """Perturb the *sending* of already numbered, signed events: times, order, copies, forged extras."""
    rng = random.Random(f"{profile.seed}/faults")
    out = list(signed)
    if "delay" in profile.faults:
        out = [replace(e, at=e.at + rng.uniform(60, 900)) if rng.random() < profile.fault_rate else e for e in out]
    if "outage" in profile.faults and out:
        start = rng.uniform(0.2, 0.6) * max(e.at for e in out)
        out = [replace(e, at=start + profile.outage_s) if start <= e.at < start + profile.outage_s else e for e in out]
    out.sort()
    if "reorder" in profile.faults:
        for i in range(len(out) - 1):
            if rng.random() < profile.fault_rate:
                out[i], out[i + 1] = replace(out[i + 1], at=out[i].at), replace(out[i], at=out[i + 1].at)
    if "duplicates" in profile.faults:
        out += [replace(e, at=e.at + rng.uniform(1, 120)) for e in out if rng.random() < profile.fault_rate]
    if "forge" in profile.faults:
        for e in list(out):
            if e.fields["type"] != "heartbeat" and rng.random() < profile.fault_rate:
                f = e.fields
                forged = forger.event("released" if f["consignment_id"] else f["type"], f["consignment_id"],
                                      f["vehicle_id"], f["direction"], seq=f["seq"] + 100_000)
                out.append(Scheduled(e.at + rng.uniform(0, 60), forged, forged=True))
    return sorted(out)


@dataclass(frozen=True)
class LinkKeys:
    """An authority's side of a secure link: its CURVE pair, the fleet's CURVE and Ed25519 public keys."""

    curve: Any  # fleet.transports.curve.CurvePair
    server_curve: bytes  # Z85
    fleet_key: Any  # Ed25519PublicKey: every reply must carry the fleet's signature

    @classmethod
    def from_files(cls, curve_key: Path, server_curve: Path, fleet_key: Path) -> LinkKeys:
        from fleet.customs.signing import parse_public_key
        from fleet.transports.curve import CurvePair, check_curve_key

        return cls(CurvePair.from_secret_file(curve_key), check_curve_key(server_curve.read_text()),
                   parse_public_key(fleet_key.read_text()))


class AuthorityLink:
    """A DEALER connection with at-least-once delivery: resend until ACK/NACK, reconnecting on silence.

    With ``keys`` the DEALER is a CURVE client and a reply counts only if the fleet's signature on it
    verifies (one that does not is dropped, as if never received, and the event is resent).

    ``endpoints``: one ROUTER, or every fleet manager of an active/standby pair. Only the leader binds its
    ROUTER, and the DEALER queues to completed connections only (``ZMQ_IMMEDIATE``), so each event goes to
    whichever leads; one sent to a leader that died unanswered is resent after ``timeout_s`` and reaches the
    next (which acknowledges a resend of a stored event as a duplicate).
    """

    def __init__(self, endpoints: str | list[str], keys: LinkKeys | None = None, timeout_s: float = 2.0,
                 retries: int = 5) -> None:
        import zmq

        self.zmq, self.timeout_ms, self.retries = zmq, int(timeout_s * 1000), retries
        self.endpoints = [endpoints] if isinstance(endpoints, str) else list(endpoints)
        self.endpoint = " or ".join(self.endpoints)
        self.keys = keys
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        self.socket = self._connect()
        self.checkpoints: list[dict[str, Any]] = []  # every distinct signed checkpoint seen in replies

    def _connect(self):
        from fleet.transports.curve import make_client

        socket = self.context.socket(self.zmq.DEALER)
        socket.setsockopt(self.zmq.LINGER, 0)
        socket.setsockopt(self.zmq.MAXMSGSIZE, 1 << 20)
        socket.setsockopt(self.zmq.IMMEDIATE, 1)  # to a fleet manager that answered the handshake: the leader
        socket.setsockopt(self.zmq.SNDTIMEO, self.timeout_ms)  # none yet (a failover): a try that timed out
        if self.keys:
            make_client(socket, self.keys.curve, self.keys.server_curve)
        for endpoint in self.endpoints:
            socket.connect(endpoint)
        return socket

    def _trusted(self, raw: bytes) -> dict[str, Any] | None:
        from fleet.customs.signing import signature_valid

        try:
            reply = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        if not isinstance(reply, dict) or (self.keys and not signature_valid(reply, self.keys.fleet_key)):
            return None
        checkpoint = reply.get("checkpoint")
        if checkpoint and (not self.checkpoints or self.checkpoints[-1] != checkpoint):
            self.checkpoints.append(checkpoint)
        return reply

    def send(self, event: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(event).encode()
        for _ in range(self.retries):
            try:
                self.socket.send(payload)
            except self.zmq.Again:  # no fleet manager connected within the timeout
                continue
            while self.socket.poll(self.timeout_ms):
                reply = self._trusted(self.socket.recv())
                if reply is None or reply.get("event_id") not in (event.get("event_id"), None):
                    continue
                if reply.get("resend") is not True:  # an ACK, or a final refusal
                    return reply
                time.sleep(self.timeout_ms / 4000)  # the fleet could not store it: send it again
                break
            else:
                self.socket.close()
                self.socket = self._connect()
        raise ConnectionError(f"no answer from {self.endpoint} after {self.retries} tries")

    def close(self) -> None:
        self.socket.close()


class Stopped(Exception):
    """SIGTERM or SIGINT (Ctrl-C) while sending: stop, still keeping the checkpoints received so far."""


def _stop_on_signal(signum: int, _frame: object) -> None:
    raise Stopped(signal.Signals(signum).name)


def _key_file(option: str, path: Path, load: Callable[[Path], T]) -> T:
    """``load(path)``, or a usage error naming the option and the file: missing, a directory, not such a key."""
    try:
        return load(path)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise typer.BadParameter(f"{path}: {reason}", param_hint=option) from None


app = typer.Typer(help="Customs authority simulators.", no_args_is_help=True)


@app.command()
def simulate(
    authority: str = typer.Option(..., "--authority", help="e.g. VN_CUSTOMS"),
    key: Path = typer.Option(..., "--key", help="the authority's private key (xborder keys generate)"),
    connect: list[str] = typer.Option(["tcp://127.0.0.1:5560"], "--connect",
                                      help="the fleet's customs ROUTER; repeat it for each fleet manager of an "
                                           "active/standby pair (the events go to the one that leads)"),
    patience_s: float = typer.Option(60.0, "--patience-s", min=1.0,
                                     help="how long to keep resending an unanswered event (a failover, a restart) "
                                          "before giving up"),
    side: str | None = typer.Option(None, "--side", help="VN or CN (default: from the authority name)"),
    consignments: int = typer.Option(20, min=0),
    vehicles: int = typer.Option(5, min=0),
    spread_s: float = typer.Option(Profile.arrival_spread_s, "--spread-s", min=0.0,
                                   help="simulated seconds over which the declarations arrive"),
    backlog: int = typer.Option(0, "--backlog", min=0, help="of which this many in the first simulated minute"),
    quick: int = typer.Option(0, "--quick", min=0, help="of which the first this many are green and released "
                                                        "within 2.5 simulated minutes (a demo's first crossings)"),
    time_scale: float = typer.Option(60.0, "--time-scale", min=0.0,
                                     help="simulated seconds per real second; 0 = as fast as possible"),
    faults: str = typer.Option("", help=f"comma-separated: {','.join(FAULTS)}"),
    seed: int = typer.Option(1),
    curve_key: Path | None = typer.Option(None, "--curve-key", help="this authority's CURVE secret key file"),
    server_key: Path | None = typer.Option(None, "--server-key", help="the fleet's CURVE public key (fleet.curve.pub)"),
    fleet_key: Path | None = typer.Option(None, "--fleet-key", help="the fleet's Ed25519 public key (fleet.pub)"),
    checkpoints: Path | None = typer.Option(None, "--checkpoints", help="keep the fleet's signed checkpoints here"),
    first_seq: int = typer.Option(1, "--first-seq", min=1,
                                  help="the first event's seq: continue a stream that an earlier run began "
                                       "(as a real customs system does after a restart)"),
    schedule_file: Path | None = typer.Option(None, "--schedule", help="send these events (a JSON schedule: "
                                              "`xborder sim run --ros` writes one from a scenario) instead of "
                                              "drawing consignments; --consignments, --vehicles, --spread-s and "
                                              "--backlog are then not used"),
) -> None:
    """Publish a realistic stream of signed events to the fleet and report what it acknowledged.

    With --curve-key, --server-key and --fleet-key the link is CURVE-encrypted and every reply must carry
    the fleet's signature."""
    import zmq
    from rich.console import Console
    from rich.progress import Progress

    from fleet.customs.envelope import AUTHORITY_PATTERN
    from fleet.customs.signing import EventSigner, load_private_key, parse_public_key
    from fleet.transports.curve import CurvePair, check_curve_key

    chosen = frozenset(f for f in faults.split(",") if f)
    if chosen - set(FAULTS):
        raise typer.BadParameter(f"unknown fault(s) {sorted(chosen - set(FAULTS))}; choose from {FAULTS}")
    if not re.match(AUTHORITY_PATTERN, authority):
        raise typer.BadParameter(f"{authority!r}: an authority's name matches {AUTHORITY_PATTERN}",
                                 param_hint="--authority")
    side = side or authority[:2]
    if not re.match(SIDE_PATTERN, side):
        raise typer.BadParameter(f"{side!r}: a side is two capital letters (VN, CN)", param_hint="--side")
    profile = Profile(consignments=consignments, vehicles=vehicles, arrival_spread_s=spread_s,
                      backlog=backlog, quick=quick, faults=chosen, seed=seed)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signer = EventSigner(authority, _key_file("--key", key, load_private_key))
    forger = EventSigner(authority, Ed25519PrivateKey.generate())
    t0 = time.time()
    if schedule_file is None:
        schedule = build_schedule(authority, side, profile)
    else:
        try:
            t0, schedule = read_schedule(schedule_file)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--schedule") from None
    stream = apply_faults(sign_schedule(schedule, signer, lambda at: t0 + (at / time_scale if time_scale else 0.0),
                                        first_seq),
                          profile, forger)
    given = [curve_key, server_key, fleet_key]
    if any(given) and not all(given):
        raise typer.BadParameter("--curve-key, --server-key and --fleet-key go together")
    keys = LinkKeys(_key_file("--curve-key", curve_key, CurvePair.from_secret_file),
                    _key_file("--server-key", server_key, lambda p: check_curve_key(p.read_text())),
                    _key_file("--fleet-key", fleet_key, lambda p: parse_public_key(p.read_text()))) \
        if curve_key and server_key and fleet_key else None
    try:
        link = AuthorityLink(connect, keys, retries=max(1, math.ceil(patience_s / 2.0)))
    except zmq.ZMQError as exc:
        raise typer.BadParameter(f"{' '.join(connect)}: not a ZeroMQ endpoint ({exc})",
                                 param_hint="--connect") from None
    tally: Counter[str] = Counter()
    console = Console()
    answered, ended, code = 0, "", 0
    previous = {signum: signal.signal(signum, _stop_on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        with Progress(console=console) as progress:
            task = progress.add_task(f"{authority} -> {link.endpoint}", total=len(stream))
            for item in stream:
                if time_scale > 0:
                    time.sleep(max(0.0, t0 + item.at / time_scale - time.time()))
                reply = link.send(item.fields)
                answered += 1
                tally[reply.get("outcome", "?")] += 1
                if reply.get("status") == "NACK":
                    tally["NACK: " + str(reply.get("reason", ""))[:60]] += 1
                progress.advance(task)
    except Stopped as exc:
        ended = f"stopped by {exc}"
    except ConnectionError as exc:  # nobody answered for --patience-s
        ended, code = f"{exc}; gave up", 1
    finally:  # also when the fleet stops answering: what it signed so far is the authority's evidence
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        link.close()
        if checkpoints:
            checkpoints.write_text("".join(json.dumps(c, sort_keys=True) + "\n" for c in link.checkpoints))
    for outcome, count in sorted(tally.items()):
        console.print(f"{count:6d}  {outcome}")
    if ended:
        console.print(f"{ended} after {answered} of {len(stream)} events answered")
    if code:
        raise typer.Exit(code)
