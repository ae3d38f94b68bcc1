"""Wires the FastAPI app: the services on ``app.state`` (started and stopped by the lifespan), one router per
resource under /api/v1, the live stream, Prometheus metrics at /metrics, and the dispatcher console's static
files (fleet/console) at /."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from fleet.api.deps import KNOWN_QUERY_ONLY, refusal_before_validation
from fleet.api.metrics import FleetMetrics
from fleet.api.routes import alarms, audit, customs, gates, map, orders, stream, summary, vehicles, waiting
from fleet.api.stream import StreamHub
from fleet.customs.envelope import PATTERN_WORDS
from fleet.orders import OrderError
from fleet.orders.reads import OrderReads
from fleet.services import Services
from fleet.store.database import NotLeaderError

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
#: The dispatcher console: plain HTML, CSS and JavaScript modules, no build step (docs/console.md).
CONSOLE_DIR = Path(__file__).resolve().parents[1] / "console"
#: documented on every route: every route needs a token, and most a role
UNAUTHORIZED: dict[int | str, dict[str, object]] = {401: {"description": "missing or unknown bearer token"},
                                                     403: {"description": "this token's role may not do this"}}


def create_app(services: Services) -> FastAPI:
    hub = StreamHub.for_fleet(services.bus, len(services.registry.all()))
    metrics = FleetMetrics(services)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(services.start)
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()
            metrics.close()
            await run_in_threadpool(services.close)

    app = FastAPI(title="xborder fleet manager", version="0.1.0", lifespan=lifespan,
                  description="Cargo AGVs across the Vietnam-China border at Bac Luan II: orders, vehicles, the "
                              "customs gate, audit, alarms and a live stream.")
    app.state.services, app.state.hub = services, hub
    app.state.tokens = {t.token: t.role for t in services.settings.auth.tokens}
    app.state.store, app.state.views = services.store, services.dispatcher
    app.state.order_reads = OrderReads(services.orders, services.bus)
    for module in (map, vehicles, orders, waiting, gates, customs, audit, alarms, stream, summary):
        app.include_router(module.router, prefix=API_PREFIX, responses=UNAUTHORIZED, dependencies=[KNOWN_QUERY_ONLY])
    add_error_handlers(app)

    def health_answer() -> dict[str, object]:
        leadership = services.leadership
        return {"status": "ok"} if leadership is None else \
            {"status": "ok", "role": "leader", "node": leadership.node, "epoch": leadership.epoch}

    app.state.health = health_answer  # the read workers answer it too (fleet/api/read_channel.py)

    @app.get(f"{API_PREFIX}/health", tags=["health"])
    async def health() -> dict[str, object]:
        """Liveness only, without a token; the customs links' state is GET /health/customs (token). With
        ``store.election``, which node answers and its epoch (only the leader serves)."""
        return health_answer()

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    app.mount("/", StaticFiles(directory=CONSOLE_DIR, html=True), name="console")  # last: the routes above win
    return app


def add_error_handlers(app: FastAPI) -> None:
    """How refusals are answered (a leader's app and a standby's alike): never a 500 with a traceback."""
    app.add_exception_handler(OrderError, _order_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(NotLeaderError, _not_leader)
    app.add_exception_handler(ClientDisconnect, _client_gone)


def _order_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OrderError)
    return JSONResponse({"detail": str(exc), "field": exc.field}, status_code=exc.status)


def _client_gone(request: Request, _: Exception) -> Response:
    """The client went away in the middle of its request body: nothing was done, and no one hears the answer."""
    log.info("%s %s: the client went away before its body was read", request.method, request.url.path)
    return Response(status_code=status.HTTP_400_BAD_REQUEST)


def _not_leader(_: Request, exc: Exception) -> JSONResponse:
    """A write that raced the loss of the leadership (the process is about to end): 503, as a standby says."""
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": "1"})


MAX_ECHOED_INPUT_CHARS = 256


class _AsciiJSONResponse(JSONResponse):
    """JSON with everything beyond ASCII escaped: an input echoed back may hold a lone surrogate (``"\\ud800"`` is
    valid JSON text, but no UTF-8 encodes it: the 422 was a 500)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity written as text: Python's JSON reader takes ``NaN``, ``Infinity`` and
    ``1e400`` in a body, and the 422 echoing them back in ``input`` (or a limit's ``ctx``) was a 500, JSON having
    no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _in_plain_words(error: dict[str, Any]) -> str:
    """An error's message, a pattern not matched said as what the pattern means (pydantic says "String should match
    pattern '^[A-Z]{2}-[A-Z0-9]{6,24}$'"); the pattern stays in ``ctx`` for programs."""
    if error.get("type") == "string_pattern_mismatch":
        words = PATTERN_WORDS.get(str(error.get("ctx", {}).get("pattern")))
        if words is not None:
            return words
    return str(error["msg"])


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """FastAPI's 422, plus ``field``: the first offending field's dotted path (``body.pickup``). Each error's
    ``input`` is echoed only when short (a 500 KB body was echoed whole). A route that takes a token answers a
    request without a known one 401 first, and one whose role may not take it 403, whatever its body or query."""
    assert isinstance(exc, RequestValidationError)
    refused = await refusal_before_validation(request)
    if refused is not None:
        return await http_exception_handler(request, refused)
    errors = _finite(jsonable_encoder(exc.errors()))
    for error in errors:
        error["msg"] = _in_plain_words(error)
        if "input" in error and len(echoed := json.dumps(error["input"])) > MAX_ECHOED_INPUT_CHARS:
            error["input"] = f"{echoed[:MAX_ECHOED_INPUT_CHARS]}... ({len(echoed)} characters)"
    field = ".".join(str(p) for p in errors[0]["loc"]) if errors else None
    return _AsciiJSONResponse({"detail": errors, "field": field}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
