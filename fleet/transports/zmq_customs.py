"""ZeroMQ for the customs authorities: a ROUTER that ingests events and a PUB that shares the outcome.

Each authority connects a DEALER to the ROUTER and sends one event per message (optionally after an
empty delimiter frame, REQ-style); every event is answered with a JSON ACK or NACK carrying its
``event_id``, so an authority can pipeline and match replies. The PUB socket carries
``[topic, json]`` messages: ``decision``, ``crossing``, ``clearance`` and ``alarm`` — the data exchange
both governments agreed on.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import zmq

from fleet.customs.gate import CustomsGate

log = logging.getLogger(__name__)


class ZmqPublisher:
    """A PUB socket safe to call from any thread (sends are serialised by a lock)."""

    def __init__(self, endpoint: str, context: zmq.Context | None = None) -> None:
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.PUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.bind(endpoint)
        self.endpoint = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._lock = threading.Lock()

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        payload = json.dumps(message, sort_keys=True, default=str).encode()
        with self._lock:
            self._socket.send_multipart([topic.encode(), payload])

    def close(self) -> None:
        with self._lock:
            self._socket.close()


class ZmqIngestServer:
    """Serves the ROUTER socket on a background thread until :meth:`stop`."""

    POLL_MS = 100

    def __init__(self, gate: CustomsGate, endpoint: str, context: zmq.Context | None = None) -> None:
        self.gate = gate
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.ROUTER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.bind(endpoint)
        self.endpoint = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="customs-zmq", daemon=True)

    def start(self) -> ZmqIngestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def _serve(self) -> None:
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(self.POLL_MS):
                continue
            while True:
                try:
                    frames = self._socket.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                self._answer(frames)

    def _answer(self, frames: list[bytes]) -> None:
        identity, *envelope, payload = frames if len(frames) >= 2 else (frames[0], b"")
        try:
            reply = self.gate.ingest(payload, via="zmq").as_dict()
        except Exception:  # a bug must not take the border's customs link down with it
            log.exception("customs event from %r could not be processed", identity)
            reply = {"status": "NACK", "outcome": "refused", "event_id": None, "reason": "internal error"}
        self._socket.send_multipart([identity, *envelope, json.dumps(reply).encode()])
