"""Passing a request on to the dispatch loop's own API, from a read worker (fleet/api/read_workers.py): HTTP with
httpx, the live stream's WebSocket with websockets. The leader checks the token and the role as ever; the
worker adds nothing but ``X-Forwarded-For``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import httpx
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from fleet.api.read_channel import SEQ_HEADER
from fleet.api.server import CUSTOMS_EVENTS_PATH, refuse_too_large
from fleet.customs.gate import MAX_EVENT_BYTES

log = logging.getLogger(__name__)

#: Headers that belong to one connection, not to the request or its answer (RFC 9110 §7.6.1).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "host"})
#: Routes that refuse a body smaller than the server's limit while it streams in: the worker buffers a body
#: before passing it on, so it refuses it too (or a body trickled past the limit would wait for its end).
ROUTE_BODY_LIMITS = {CUSTOMS_EVENTS_PATH: MAX_EVENT_BYTES}
#: WebSocket close code when the leader cannot be reached: try again later.
TRY_AGAIN_LATER = 1013


def unavailable(why: str) -> JSONResponse:
    return JSONResponse({"detail": f"the fleet manager's dispatch process does not answer: {why}"},
                        status_code=503, headers={"Retry-After": "1"})


class LeaderProxy:
    """Sends requests on to ``leader`` (``http://127.0.0.1:PORT``), the loop's process, and their answers back.
    ``after_write(answer)`` is awaited before the answer to a write goes back (the worker catches up with it).

    ``leader_keep_alive_s``: how long the leader keeps an idle connection. The worker lets go of its own idle
    connections in half that: at the same expiry (httpx's and uvicorn's defaults are both 5 s) a request sent as
    the leader closes the connection is lost, and a console's poll got a 503 for it."""

    def __init__(self, leader: str, after_write: Callable[[httpx.Response], Awaitable[None]],
                 leader_keep_alive_s: float) -> None:
        self.leader, self.after_write = leader, after_write
        self.client = httpx.AsyncClient(base_url=leader, timeout=httpx.Timeout(60.0, connect=5.0), trust_env=False,
                                        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32,
                                                            keepalive_expiry=leader_keep_alive_s / 2))

    async def close(self) -> None:
        await self.client.aclose()

    def _url(self, scope: Scope) -> httpx.URL:
        """The leader's URL for the request, its path and query exactly as they came (still percent-encoded)."""
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        return httpx.URL(self.leader).copy_with(raw_path=raw_path + (b"?" + query if query else b""))

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        headers = [(k, v) for k, v in request.headers.items() if k not in HOP_BY_HOP]
        if request.client is not None:
            headers.append(("x-forwarded-for", request.client.host))
        body, limit = bytearray(), ROUTE_BODY_LIMITS.get(scope["path"])
        try:
            async for chunk in request.stream():  # the server's own limit (BodyLimit) is applied around this
                body += chunk
                if limit is not None and len(body) > limit:  # refused as it streams in, as the route itself does
                    await refuse_too_large(send, limit, scope["path"])
                    return
        except ClientDisconnect:  # nothing was sent on: no one to answer, nothing to log but a line
            log.info("%s %s: the client went away before its body was read", request.method, scope["path"])
            return
        outgoing = self.client.build_request(request.method, self._url(scope), headers=headers, content=bytes(body))
        try:
            answer = await self._send(outgoing)
        except httpx.TransportError as exc:
            await unavailable(type(exc).__name__)(scope, receive, send)
            return
        if request.method not in ("GET", "HEAD"):
            await self.after_write(answer)
        kept = {k: v for k, v in answer.headers.items() if k not in HOP_BY_HOP and k != SEQ_HEADER}
        response: Response = StreamingResponse(answer.aiter_raw(), status_code=answer.status_code, headers=kept,
                                               background=BackgroundTask(answer.aclose))
        await response(scope, receive, send)

    async def _send(self, outgoing: httpx.Request) -> httpx.Response:
        """Send ``outgoing``; a read the leader dropped unanswered (a kept-alive connection it was closing) is sent
        once more, on a new connection. A write is not: the leader may have made it before the connection broke."""
        try:
            return await self.client.send(outgoing, stream=True)
        except httpx.RemoteProtocolError:
            if outgoing.method not in ("GET", "HEAD"):
                raise
            log.info("the leader dropped a kept-alive connection under %s %s: sent again", outgoing.method,
                     outgoing.url.path)
            return await self.client.send(outgoing, stream=True)

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = WebSocket(scope, receive, send)
        url = self._url(scope).copy_with(scheme="ws")
        await client.accept()
        try:
            upstream = await connect(str(url), open_timeout=5, max_size=None, ping_interval=None, proxy=None)
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            await client.close(TRY_AGAIN_LATER, f"the fleet manager's dispatch process does not answer: "
                                                f"{type(exc).__name__}")
            return
        async with upstream:
            to_client = asyncio.create_task(_leader_to_client(upstream, client))
            to_leader = asyncio.create_task(_client_to_leader(client, upstream))
            await asyncio.wait((to_client, to_leader), return_when=asyncio.FIRST_COMPLETED)
            for task in (to_client, to_leader):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, WebSocketDisconnect, RuntimeError):
                    await task
            if upstream.close_code is not None:  # the leader closed it: the client hears its code and reason
                with contextlib.suppress(RuntimeError):
                    await client.close(upstream.close_code, upstream.close_reason or "")


async def _leader_to_client(upstream: ClientConnection, client: WebSocket) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for message in upstream:
            if isinstance(message, str):
                await client.send_text(message)
            else:
                await client.send_bytes(message)


async def _client_to_leader(client: WebSocket, upstream: ClientConnection) -> None:
    while True:
        message = await client.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await upstream.send(message["text"])
        elif message.get("bytes") is not None:
            await upstream.send(message["bytes"])
