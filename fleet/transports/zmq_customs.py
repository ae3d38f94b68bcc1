"""ZeroMQ for the customs authorities: a ROUTER that ingests events and a PUB that shares the outcome.

Each authority connects a DEALER to the ROUTER and sends one event per message (optionally after an
empty delimiter frame, REQ-style); every event is answered with a JSON ACK or NACK carrying its
``event_id``, so an authority can pipeline and match replies. The PUB socket carries
``[topic, json]`` messages: ``decision``, ``crossing``, ``clearance``, ``alarm``, ``checkpoint`` and
``resend`` — the data exchange both governments agreed on.

With :class:`~fleet.transports.curve.LinkSecurity` both sockets are CURVE servers that admit configured
authorities only; the ROUTER takes the sender's authority from the handshake (never from the message),
and every reply and every published message carries ``signature``: the fleet's Ed25519 signature over the
canonical JSON of the rest (for PUB, including ``topic``), checked like an event's signature.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, cast

import zmq

from fleet.customs.envelope import canonical_json
from fleet.customs.gate import MAX_EVENT_BYTES, CustomsGate, Verified
from fleet.customs.signing import Signer
from fleet.transports.curve import LinkSecurity, make_server

log = logging.getLogger(__name__)

# a frame over this is dropped by ZeroMQ before it is assembled in memory (and the peer disconnected)
MAX_FRAME_BYTES = MAX_EVENT_BYTES


def _encode(message: dict[str, Any], signer: Signer | None) -> bytes:
    """The message's canonical JSON, with ``signature`` (the fleet's, over that JSON) appended when secure."""
    return _signed(canonical_json(message), signer)


def _signed(unsigned: bytes, signer: Signer | None) -> bytes:
    """Canonical JSON with the fleet's signature over it appended as ``signature`` (none without a signer).

    A receiver verifies by re-canonicalising what it parsed, so the signature's place in the text is free;
    appending it saves serialising every reply twice."""
    if signer is None:
        return unsigned
    signature = base64.b64encode(signer.sign(unsigned))
    return unsigned[:-1] + (b',"signature":"' if unsigned != b"{}" else b'"signature":"') + signature + b'"}'


class ZmqPublisher:
    """A PUB socket safe to call from any thread (sends are serialised by a lock)."""

    def __init__(self, endpoint: str, context: zmq.Context | None = None,
                 security: LinkSecurity | None = None) -> None:
        self._context = context or zmq.Context.instance()
        self._signer = Signer(security.signing_key) if security else None
        self._socket = self._context.socket(zmq.PUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.MAXMSGSIZE, 4096)  # subscribers only send subscriptions
        if security:
            make_server(self._socket, security.server)
        self._socket.bind(endpoint)
        self.endpoint = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._lock = threading.Lock()

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        payload = _encode({**message, "topic": topic}, self._signer)
        with self._lock:
            self._socket.send_multipart([topic.encode(), payload])

    def close(self) -> None:
        with self._lock:
            self._socket.close()


class ZmqIngestServer:
    """Serves the ROUTER socket on a background thread until :meth:`stop`."""

    POLL_MS = 100
    MAX_BATCH = 512  # messages committed together at most
    SIGN_CHUNK = 16  # replies signed on one thread at least

    def __init__(self, gate: CustomsGate, endpoint: str, context: zmq.Context | None = None,
                 security: LinkSecurity | None = None) -> None:
        self.gate = gate
        self._context = context or zmq.Context.instance()
        self._security = security
        self._reply_signer = Signer(security.signing_key) if security else None
        self._socket = self._context.socket(zmq.ROUTER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
        # a reconnecting DEALER that reuses its routing id takes it over instead of going unanswered
        self._socket.setsockopt(zmq.ROUTER_HANDOVER, 1)
        if security:
            make_server(self._socket, security.server)
        self._socket.bind(endpoint)
        self.endpoint = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._stop = threading.Event()
        self._sign_pool = ThreadPoolExecutor(2, thread_name_prefix="customs-sign")
        self._thread = threading.Thread(target=self._serve, name="customs-zmq", daemon=True)

    def start(self) -> ZmqIngestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.close()

    def close(self) -> None:
        """Unbind (also when never started); closing again does nothing."""
        self._sign_pool.shutdown()
        self._socket.close()

    def _serve(self) -> None:
        """A two-stage pipeline: while one batch is checked against the state and committed (the fsync), the
        next one, received meanwhile, is already being verified (Ed25519 releases the GIL)."""
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        ticked = time.monotonic()
        pending: tuple[list[list[bytes]], list[Future[list[Verified]]]] | None = None
        while not self._stop.is_set():
            if time.monotonic() - ticked >= self.POLL_MS / 1000:
                self._tick()
                ticked = time.monotonic()
            if not poller.poll(0 if pending else self.POLL_MS):
                if pending:
                    self._answer(*pending)
                    pending = None
                continue
            frames: list[list[zmq.Frame]] = []
            while len(frames) < self.MAX_BATCH:
                try:
                    frames.append(self._socket.recv_multipart(zmq.NOBLOCK, copy=False))
                except zmq.Again:
                    break
            routes, items = self._split(frames)
            verifying = self._verify(items)
            if pending:
                self._answer(*pending)
            pending = routes, verifying
        if pending:
            self._answer(*pending)

    def _tick(self) -> None:
        try:
            self.gate.tick()
        except Exception:  # as in _answer: the link outlives a failing store
            log.exception("customs gate's periodic duties failed")

    def _split(self, batch: list[list[zmq.Frame]]) -> tuple[list[list[bytes]], list[tuple[bytes, str | None]]]:
        """Each message's route back, and its event with the authority its CURVE key authenticated."""
        routes, items = [], []
        for frames in batch:
            identity, *envelope, payload = frames if len(frames) >= 2 else (frames[0], zmq.Frame(b""))
            routes.append([identity.bytes, *(f.bytes for f in envelope)])
            # with CURVE the ZAP handler names the authenticated authority; without it nobody is authenticated
            # (a message property is a str; pyzmq's stub says int | str for any name but "routing_id" and "group")
            items.append((payload.bytes, cast(str, payload.get("User-Id")) if self._security else None))
        return routes, items

    def _verify(self, items: list[tuple[bytes, str | None]]) -> list[Future[list[Verified]]]:
        try:
            return self.gate.verify_many(items)
        except Exception as exc:  # handed on: _answer NACKs the batch as it would a failing commit
            failed: Future[list[Verified]] = Future()
            failed.set_exception(exc)
            return [failed]

    def _answer(self, routes: list[list[bytes]], verifying: list[Future[list[Verified]]]) -> None:
        """Apply a verified batch in one transaction (group commit), then reply to each message."""
        try:
            replies = [result.as_dict() for result in self.gate.apply_verified(verifying, via="zmq")]
        except Exception:  # a bug (or a full disk) must not take the border's customs link down with it
            log.exception("a batch of %d customs events could not be processed", len(routes))
            replies = [{"status": "NACK", "outcome": "refused", "event_id": None, "reason": "internal error",
                        "resend": True}] * len(routes)
        if len(replies) >= 2 * self.SIGN_CHUNK:  # signing releases the GIL too: two threads for a big batch
            half = len(replies) // 2
            parts = [self._sign_pool.submit(self._encode_all, part) for part in (replies[:half], replies[half:])]
            encoded = [reply for part in parts for reply in part.result()]
        else:
            encoded = self._encode_all(replies)
        for route, reply in zip(routes, encoded):
            self._socket.send_multipart([*route, reply])

    def _encode_all(self, replies: list[dict[str, Any]]) -> list[bytes]:
        """Every reply's signed canonical JSON. The replies of a batch carry the same checkpoint: its JSON is
        made once and put first (``checkpoint`` sorts before every other field, so the text stays canonical)."""
        encoded, head = [], (None, b"")
        for reply in replies:
            checkpoint = reply.get("checkpoint")
            rest = {key: value for key, value in reply.items() if key != "checkpoint"}
            if checkpoint is None or not rest or min(rest) < "checkpoint":
                encoded.append(_encode(reply, self._reply_signer))
                continue
            if head[0] is not checkpoint:
                head = (checkpoint, b'{"checkpoint":' + canonical_json(checkpoint) + b",")
            encoded.append(_signed(head[1] + canonical_json(rest)[1:], self._reply_signer))
        return encoded
