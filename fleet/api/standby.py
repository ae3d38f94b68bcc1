"""A standby fleet manager's API: the same read routes as the leader's, answered from the shared store, and a
clear refusal of everything else.

While ``xborder serve`` waits for the leadership (``store.election``) it serves, on its configured port:

* ``GET`` orders (list, one with its timeline) and the audit log (page, export, verify): read from the store
  as committed, so as current as the leader's own answers;
* ``GET`` vehicles and gates: the leader's views as it last wrote them (:mod:`fleet.live_views`, every
  ``store.election.views_s``), with their age in ``X-Xborder-Views-Age-S``;
* every other request (any write, and reads only the leader has: the map, alarms, the stream, customs):
  **503** with a JSON body naming the leader (``leader``, ``epoch``) and ``Retry-After``: the caller is fine,
  this node is not the one to ask. ``GET /api/v1/health`` is 503 too (``status: standby``), so that a health
  check in front of the pair (docs/deployment.md) sends traffic to the leader only.

Tokens and roles are those of the leader (the same config).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from fastapi import FastAPI, Request, Response, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from fleet.api.deps import KNOWN_QUERY_ONLY
from fleet.api.main import API_PREFIX, UNAUTHORIZED, add_error_handlers
from fleet.api.routes import audit, gates, orders, vehicles
from fleet.api.server import api_server
from fleet.config import Settings
from fleet.events import EventBus
from fleet.live_views import StoredViews, ViewsUnavailable
from fleet.orders import OrderService
from fleet.orders.reads import OrderReads
from fleet.store import Store
from fleet.store.leadership import Leadership, LeaderState
from planner.corridor import Corridor

#: the paths answered from the leader's stored views, whose age each answer gives
_VIEW_PATHS = (f"{API_PREFIX}/vehicles", f"{API_PREFIX}/gates")
_READS = ("GET", "HEAD")


def create_standby_app(settings: Settings, store: Store, leadership: Leadership, corridor: Corridor) -> FastAPI:
    views = StoredViews(store)
    app = FastAPI(title="xborder fleet manager (standby)", version="0.1.0",
                  description="A standby: reads from the shared store; writes go to the leader (503 here).")
    app.state.tokens = {t.token: t.role for t in settings.auth.tokens}
    app.state.store, app.state.views = store, views
    # reads only (every write is refused), each from the store: the leader's changes are not heard here
    app.state.order_reads = OrderReads(OrderService(store, corridor, EventBus(), time.time), bus=None)

    def refusal(why: str) -> JSONResponse:
        holder = leadership.current()
        taking_over = holder is not None and holder.holder == leadership.node
        return JSONResponse({"detail": _refusal_detail(leadership.node, holder, why),
                             "role": "taking_over" if taking_over else "standby", "node": leadership.node,
                             "leader": holder.holder if holder else None,
                             "epoch": holder.epoch if holder else None},
                            status_code=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "1"})

    @app.middleware("http")
    async def standby_only_reads(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.method not in _READS:
            return await run_in_threadpool(refusal, "it takes no writes")
        response = await call_next(request)
        response.headers["X-Xborder-Role"] = "standby"
        if request.url.path.startswith(_VIEW_PATHS) and response.status_code == status.HTTP_200_OK:
            age = time.time() - await run_in_threadpool(views.as_of)
            response.headers["X-Xborder-Views-Age-S"] = f"{age:.2f}"
        return response

    for module in (orders, vehicles, gates, audit):
        app.include_router(module.router, prefix=API_PREFIX, responses=UNAUTHORIZED, dependencies=[KNOWN_QUERY_ONLY])
    add_error_handlers(app)
    app.add_exception_handler(ViewsUnavailable, lambda _request, exc: refusal(str(exc)))

    @app.get(f"{API_PREFIX}/health", tags=["health"])
    def health() -> JSONResponse:
        """503 on a standby: a health check routes to the leader only; the body says who leads."""
        return refusal("it does not serve")

    @app.api_route("/{path:path}", methods=list(_READS), include_in_schema=False)
    def leader_only(path: str) -> JSONResponse:
        return refusal(f"/{path} is served by the leader only")

    return app


def _refusal_detail(node: str, holder: LeaderState | None, why: str) -> str:
    """Why ``node`` refuses, and whom to ask. Once it holds the lock it is no standby and no one else leads: its
    services are being built and its full API takes the port next. Before, its 503 said "fm-b is a standby ... ask
    the leader, fm-b (epoch 2)" for the seconds a failover builds (about 4 s)."""
    if holder is not None and holder.holder == node:
        return f"{node} is taking over as the leader (epoch {holder.epoch}), not serving yet: {why}; ask again in a " \
            "moment"
    leader = f"the leader, {holder.holder} (epoch {holder.epoch})" if holder else "the leader (none elected yet)"
    return f"{node} is a standby: {why}; ask {leader}"


@contextmanager
def standby_server(settings: Settings, store: Store, leadership: Leadership, corridor: Corridor) -> Iterator[None]:
    """Serve the standby's API on ``settings.server`` on a thread of its own until the block ends (the process
    leads then, and its full API takes the port)."""
    server = api_server(create_standby_app(settings, store, leadership, corridor), settings)
    thread = threading.Thread(target=server.run, name="standby-api", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
