"""The HTTP server, bounded so that no client can starve it or the customs link beside it.

uvicorn alone has no deadline for a request's headers (a connection that trickles them, or sends nothing,
stays open for good) and no cap on open connections, so ~20,000 half-open requests exhaust the process's
file descriptors, and with them the customs ZeroMQ link's reconnects. Here:

* at most ``server.max_connections`` connections are open at once: more are closed as they are accepted;
* a request line and headers must arrive within ``server.header_timeout_s`` (and fit in 16 KiB);
* an idle keep-alive connection is closed after ``server.keep_alive_s``;
* a request body over ``server.max_body_bytes`` is refused with 413 while it streams in (by its
  Content-Length when declared, otherwise once the bytes received pass the limit), never buffered whole.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from fleet.config import Settings

MAX_HEADER_BYTES = 16 * 1024


def _bounded_protocol(max_connections: int, header_timeout_s: float) -> type[H11Protocol]:
    class BoundedH11Protocol(H11Protocol):
        """uvicorn's h11 protocol with a connection cap and a deadline for each request's headers."""

        _header_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                transport.abort()
                return
            self._arm_header_deadline()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE:  # a request has begun but its headers are not all in yet
                self._arm_header_deadline()
            else:
                self._disarm_header_deadline()

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
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.abort()

    return BoundedH11Protocol


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: refuse a request body over ``max_bytes`` with 413 while it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or len(declared) > 18 or int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received, refused = 0, False

        async def bounded_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                refused = True
                await self._refuse(send)
                raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # once refused, what the app still tries to send (an error page) is dropped
                await send(message)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, send: Send) -> None:
        await refuse_too_large(send, self.max_bytes)


async def refuse_too_large(send: Send, max_bytes: int) -> None:
    """413, as a customs NACK (the routes that take bodies are customs' and staff's alike), and close."""
    body = json.dumps({"status": "NACK", "outcome": "refused", "event_id": None, "resend": False,
                       "reason": f"request body larger than {max_bytes} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def api_config(app: Any, settings: Settings) -> uvicorn.Config:
    """The uvicorn configuration for ``app``, with every bound of ``settings.server`` applied."""
    server = settings.server
    return uvicorn.Config(
        BodyLimit(app, server.max_body_bytes), host=server.host, port=server.port,
        http=_bounded_protocol(server.max_connections, server.header_timeout_s),
        timeout_keep_alive=max(1, round(server.keep_alive_s)), limit_concurrency=server.max_connections,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES, backlog=server.max_connections,
        log_level="error", access_log=False)  # a flood of bad requests must not fill the disk with log lines


def run_api(app: Any, settings: Settings) -> None:
    """Serve ``app`` until interrupted."""
    uvicorn.Server(api_config(app, settings)).run()
