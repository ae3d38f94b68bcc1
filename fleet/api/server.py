"""The HTTP server, bounded so that no client can starve it or the customs link beside it.

uvicorn alone has no deadline for a request's headers (a connection that trickles them, or sends nothing,
stays open for good) and no cap on open connections, so ~20,000 half-open requests exhaust the process's
file descriptors, and with them the customs ZeroMQ link's reconnects. Here:

* at most ``server.max_connections`` connections are open at once: more are closed as they are accepted;
* a request line and headers must arrive within ``server.header_timeout_s`` and fit in 16 KiB (else 431);
* an idle keep-alive connection is closed after ``server.keep_alive_s``;
* a request body over ``server.max_body_bytes`` is refused with 413 while it streams in (by its
  Content-Length when declared, otherwise once the bytes received pass the limit), never buffered whole;
* a request body not all there ``server.body_timeout_s`` after the route first reads it is answered 408 (a
  body trickled a byte at a time held its connection for good).

The HTTP parser is httptools (llhttp, in C), not h11: a read worker's answer to ``GET /vehicles`` took 0.098 ms
of CPU with h11 and 0.035 ms with httptools and uvloop (wrk, 50 connections; the loop's process alone: 0.209
and 0.133 ms); docs/operations.md, "Read workers".
"""

from __future__ import annotations

import asyncio
import faulthandler
import json
import socket
from types import FrameType
from typing import Any, Literal

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from fleet.api.main import API_PREFIX
from fleet.api.security_headers import SecurityHeaders
from fleet.config import Settings

CUSTOMS_EVENTS_PATH = f"{API_PREFIX}/customs/events"
MAX_HEADER_BYTES = 16 * 1024
_TOO_LARGE_TEXT = f"request headers larger than {MAX_HEADER_BYTES // 1024} KiB\n".encode()
HEADERS_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\n"
                     b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_TOO_LARGE_TEXT), _TOO_LARGE_TEXT))


def _bounded_protocol(max_connections: int, header_timeout_s: float) -> type[HttpToolsProtocol]:
    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol with a connection cap, and a deadline and a size cap for each request's
        headers (from the connection's start or the request's first byte until its headers are all in)."""

        _header_deadline: asyncio.TimerHandle | None = None
        _awaiting_headers = True  # the next bytes are a request's line and headers
        _header_bytes = 0
        _tail = b""  # the last bytes seen while awaiting headers: their blank line may straddle two reads

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                transport.abort()
                return
            self._arm_header_deadline()

        def data_received(self, data: bytes) -> None:
            if self._awaiting_headers and self._headers_too_large(data):
                self._disarm_header_deadline()
                self.transport.write(HEADERS_TOO_LARGE)
                self.transport.close()
                return
            super().data_received(data)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm_header_deadline()

        def on_headers_complete(self) -> None:
            self._awaiting_headers = False
            self._disarm_header_deadline()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._awaiting_headers, self._header_bytes, self._tail = True, 0, b""

        def _headers_too_large(self, data: bytes) -> bool:
            """Count what ``data`` adds to the headers, up to their blank line, before the parser sees it."""
            seen = self._tail + data
            end = seen.find(b"\r\n\r\n")
            self._header_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._tail))
            self._tail = seen[-3:]
            return self._header_bytes > MAX_HEADER_BYTES

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_deadline()
            super().connection_lost(exc)

        def _arm_header_deadline(self) -> None:
            if self._header_deadline is None:
                self._header_deadline = self.loop.call_later(header_timeout_s, self._headers_too_slow)

        def _disarm_header_deadline(self) -> None:
            if self._header_deadline is not None:
                self._header_deadline.cancel()
                self._header_deadline = None

        def _headers_too_slow(self) -> None:
            self._header_deadline = None
            if self._awaiting_headers and not self.transport.is_closing():
                self.transport.abort()

    return BoundedHttpToolsProtocol


class _BodyRefused(Exception):
    pass


class BodyLimit:
    """ASGI middleware: refuse a request body over ``max_bytes`` with 413 while it streams in, and one not all
    there ``timeout_s`` after the route first reads it with 408."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float = 30.0) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or len(declared) > 18 or int(declared) > self.max_bytes:
            await refuse_too_large(send, self.max_bytes, scope["path"])
            return
        received, refused, complete, deadline = 0, False, False, 0.0

        async def bounded_receive() -> Message:
            nonlocal received, refused, complete, deadline
            if complete:  # (after the body: a wait for the client to go away, which has no deadline)
                return await receive()
            now = asyncio.get_running_loop().time()
            deadline = deadline or now + self.timeout_s  # from the route's first read, however late that is
            try:
                if now >= deadline:
                    raise TimeoutError
                message = await asyncio.wait_for(receive(), deadline - now)
            except TimeoutError:
                refused = True
                await refuse_too_slow(send, self.timeout_s, scope["path"])
                raise _BodyRefused from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                refused = True
                await refuse_too_large(send, self.max_bytes, scope["path"])
                raise _BodyRefused
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # once refused, what the app still tries to send (an error page) is dropped
                await send(message)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except Exception:
            if not refused:
                raise


async def refuse_too_slow(send: Send, timeout_s: float, path: str) -> None:
    """408 and close: the body did not arrive in time."""
    await _refuse(send, 408, f"request body not received within {timeout_s:g} s", path)


async def refuse_too_large(send: Send, max_bytes: int, path: str) -> None:
    """413 and close: the body is over the limit."""
    await _refuse(send, 413, f"request body larger than {max_bytes} bytes", path)


async def _refuse(send: Send, status: int, reason: str, path: str) -> None:
    """Answer ``status`` and close: a NACK on the customs events route, whose protocol answers every refusal so
    (docs/customs-protocol.md), and the API's ``{"detail": ...}`` on every other route."""
    body = json.dumps({"status": "NACK", "outcome": "refused", "event_id": None, "resend": False, "reason": reason}
                      if path == CUSTOMS_EVENTS_PATH else {"detail": reason}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def api_config(app: Any, settings: Settings, loop: Literal["asyncio", "uvloop"] = "asyncio") -> uvicorn.Config:
    """The uvicorn configuration for ``app``, with every bound of ``settings.server`` applied and the browser-facing
    headers on every answer (fleet/api/security_headers.py), its refusals too.

    ``loop``: the read workers run on uvloop (a tenth less CPU a request); the dispatch loop's process keeps
    asyncio's own loop, which its threads (the ROS bridge, the customs link) have been tested with."""
    server = settings.server
    return uvicorn.Config(
        SecurityHeaders(BodyLimit(app, server.max_body_bytes, server.body_timeout_s)),
        host=server.host, port=server.port,
        http=_bounded_protocol(server.max_connections, server.header_timeout_s),
        timeout_keep_alive=max(1, round(server.keep_alive_s)), limit_concurrency=server.max_connections,
        loop=loop, backlog=server.max_connections,
        log_level="error", access_log=False)  # a flood of bad requests must not fill the disk with log lines


class StoppingServer(uvicorn.Server):
    """uvicorn's server, ended within ``stop_limit_s`` of the first stop signal whatever hangs while it stops:
    faulthandler's own C thread writes every thread's stack to stderr, then ends the process (exit code 1),
    even when a call into C holds the interpreter so that no Python thread runs again (destroying a ROS node
    was seen to deadlock for good on a Fast DDS mutex, the GIL held: agv_agent/vehicle_process.py)."""

    def __init__(self, config: uvicorn.Config, stop_limit_s: float) -> None:
        super().__init__(config)
        self.stop_limit_s = stop_limit_s

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            faulthandler.dump_traceback_later(self.stop_limit_s, exit=True)
        super().handle_exit(sig, frame)


def api_server(app: Any, settings: Settings, loop: Literal["asyncio", "uvloop"] = "asyncio") -> StoppingServer:
    """The bounded server of ``app`` (:func:`api_config`), ended within ``server.stop_limit_s`` once stopped."""
    return StoppingServer(api_config(app, settings, loop), settings.server.stop_limit_s)


def run_api(app: Any, settings: Settings, listening: socket.socket) -> None:
    """Serve ``app`` on ``listening`` (bound to ``server.host``:``server.port``) until interrupted."""
    api_server(app, settings).run(sockets=[listening])
