"""``/api/v1/stream``: the live state over a WebSocket.

Authenticate with ``?token=`` or, if the URL must not carry it, with a first message ``{"token": "..."}``.
``?topics=vehicle,order`` subscribes to a subset of: vehicle (states, at most 2 Hz per vehicle), order
(transitions), decision, crossing, clearance, authorization, alarm, gate. Each message is
``{"topic": ..., "data": {...}, "sent_at": ...}`` (``sent_at``: when the service sent it, seconds since the
epoch, so a client can tell how late it hears of something). A client that cannot keep up is disconnected
(code 1013: try again later) rather than slowing anyone else down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from fleet.api.deps import Caller, Role, may, role_of
from fleet.api.stream import StreamClient, StreamHub
from fleet.events import Topic

router = APIRouter(tags=["stream"])

TOKEN_WAIT_S = 5.0
#: WebSocket close codes (the 4000s are the application's own): as HTTP's 401 and 403 would say.
UNAUTHORIZED, FORBIDDEN, BAD_REQUEST = 4401, 4403, 4400
MAX_CLOSE_REASON_BYTES = 123  # RFC 6455: a longer one breaks the close frame (the client saw a protocol error)


@router.websocket("/stream")
async def stream(websocket: WebSocket, token: str | None = None, topics: str | None = None) -> None:
    await websocket.accept()
    wanted = {t.strip() for t in (topics or ",".join(Topic)).split(",") if t.strip()}
    unknown = wanted - set(Topic)
    if unknown:
        await websocket.close(BAD_REQUEST, _close_reason(f"choose topics from {','.join(Topic)}; unknown: "
                                                        + ",".join(sorted(unknown))))
        return
    role = role_of(websocket, token or await _first_message_token(websocket))
    if role is None:
        await websocket.close(UNAUTHORIZED, "missing or unknown token")
        return
    if not may(Caller(role), Role.VIEWER, Role.DISPATCHER, Role.OPERATOR):
        await websocket.close(FORBIDDEN, f"role {role} may not read the stream")
        return
    hub: StreamHub = websocket.app.state.hub
    client = hub.connect(wanted)
    try:
        await _pump(websocket, client)
    finally:
        hub.disconnect(client)


def _close_reason(text: str) -> str:
    """``text`` cut to what a close frame carries (at most 123 bytes of UTF-8, whole characters)."""
    return text.encode()[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")


async def _first_message_token(websocket: WebSocket) -> str | None:
    with contextlib.suppress(TimeoutError, WebSocketDisconnect, ValueError, KeyError):
        message = await asyncio.wait_for(websocket.receive_json(), TOKEN_WAIT_S)
        return str(message["token"]) if isinstance(message, dict) else None
    return None


async def _pump(websocket: WebSocket, client: StreamClient) -> None:
    """Send what the client's queue holds until it is dropped or goes away (noticed by a reader beside)."""
    gone = asyncio.create_task(_until_disconnect(websocket))
    try:
        while True:
            item = asyncio.create_task(client.queue.get())
            await asyncio.wait({item, gone}, return_when=asyncio.FIRST_COMPLETED)
            if gone.done():
                item.cancel()
                return
            message = item.result()
            if message is None:
                await websocket.close(status.WS_1013_TRY_AGAIN_LATER, "too slow: the stream's queue overflowed")
                return
            topic, data = message
            await websocket.send_text(json.dumps({"topic": topic, "data": data, "sent_at": time.time()}, default=str))
    except WebSocketDisconnect:
        return
    finally:
        gone.cancel()


async def _until_disconnect(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
