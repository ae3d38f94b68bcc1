"""Read workers: processes that take the service's port and answer the read routes, so that the dispatch loop's
process is not the one every console's poll waits on (``server.read_workers``; docs/operations.md).

One Python process serving the API beside the fleet shares one GIL between the two: under 50 clients that never
pause, the loop's phases and the answers slowed each other down (tests/bench/bench_fleet.py). With read workers:

* the loop's process serves its whole API as before, on a loopback port of its own, and sends each new snapshot's
  views and every order change over a channel (fleet/api/read_channel.py);
* each worker answers ``GET`` vehicles, one vehicle, gates, orders and one order (what consoles poll), ``/health``
  (the loop's own answer, as last heard: 503 once it is silent) and the console's files, itself: the views as last
  sent, the orders from the store (kept until the channel says they changed). Everything else (every write, the
  stream, customs, audit, alarms, the map, metrics, the OpenAPI pages) it passes on to the loop's process
  (fleet/api/proxy.py), which checks tokens and roles as ever;
* a write's answer comes back only once the worker has heard the news it made (``X-Xborder-Seq``): a client
  that reads after its own write sees it.

The workers die with the loop's process (``PR_SET_PDEATHSIG``), and one that dies is started again. They run
at a lower priority than the loop's process (:data:`NICENESS`).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from fleet.api.deps import KNOWN_QUERY_ONLY, STAFF, Caller, may
from fleet.api.main import API_PREFIX, CONSOLE_DIR, UNAUTHORIZED, add_error_handlers
from fleet.api.proxy import LeaderProxy, unavailable
from fleet.api.read_channel import SEQ_HEADER, ChannelFeed
from fleet.api.routes import gates, orders, vehicles
from fleet.api.server import api_server
from fleet.config import ConfigError, ServerConfig, Settings
from fleet.dispatch.snapshot import JsonView
from fleet.events import EventBus
from fleet.live_views import RelayedViews, ViewsUnavailable
from fleet.orders import OrderService
from fleet.orders.reads import MAX_PAGE, OrderReads, PageQuery
from fleet.store import Store

log = logging.getLogger(__name__)

#: How long a write's answer waits for the worker to hear the news it made (then its kept answers are dropped).
CATCH_UP_S = 2.0
#: A worker's niceness: when the machine's CPUs are all busy, the dispatch loop (the gate's releases, the
#: vehicles' updates) goes before the consoles' reads. bench_fleet, 50 clients that never pause, on 2 cores: not
#: niced, the workers' extra answers took CPU from the loop (tick p99 144 -> 242 ms); at 5 the loop still missed
#: its goals in one quiet run of two; at 10 it met them in both, and so did the API (docs/operations.md).
NICENESS = 10
#: A worker takes connections once it has the views, or after this long without them (then its reads answer
#: 503 until they come). Until then connections wait in the port's backlog: a console reconnecting after a slow
#: restart waits rather than getting a 503. (Raised from 10 s while a browser-console 503 in CI was looked for;
#: that 503 was the proxy's keep-alive race, mended in fleet/api/proxy.py, not views come late.)
FIRST_VIEWS_S = 60.0
#: Paths outside /api/v1 that the loop's process answers (the console's files are the workers' own).
LEADER_PATHS = frozenset({"/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
_PR_SET_PDEATHSIG = 1
HEALTH_PATH = f"{API_PREFIX}/health"


class AnswerOrPassOn:
    """ASGI: the worker's own read routes and the console's files here, everything else to the loop's process.

    What consoles poll most (vehicles, gates, one vehicle, one order, a page of orders by ``limit``/``offset``
    only), asked with a reader's token and already built, and ``/health`` while the loop is heard, are sent as
    they are, before FastAPI: its routing,
    dependencies and validation cost three times what uvicorn's HTTP does (``/vehicles``, one worker, wrk: 0.22
    against 0.07 ms of CPU per request). Anything else, refusals included, is FastAPI's (the same routes)."""

    def __init__(self, app: FastAPI, proxy: LeaderProxy, feed: ChannelFeed, tokens: dict[str, str]) -> None:
        self.app, self.proxy, self.feed, self.tokens = app, proxy, feed, tokens
        self.views, self.order_reads = feed.views, feed.order_reads
        self._routes = [route for route in app.router.routes if not isinstance(route, Mount)]  # the console's last

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await self.proxy.websocket(scope, receive, send)
        elif scope["method"] == "GET" and (built := self._built(scope)) is not None:  # before matching routes
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(built)).encode())]})
            await send({"type": "http.response.body", "body": built})
        elif not self._answered_here(scope):
            await self.proxy.http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _answered_here(self, scope: Scope) -> bool:
        if scope["method"] != "GET":
            return False
        path = scope["path"]
        if path == API_PREFIX or path.startswith(API_PREFIX + "/") or path in LEADER_PATHS:
            return any(route.matches(scope)[0] is Match.FULL for route in self._routes)
        return True  # the console

    def _built(self, scope: Scope) -> bytes | None:
        """The answer to a reader's poll if it is built already; None: FastAPI answers (or refuses)."""
        if scope["path"] == HEALTH_PATH and not scope["query_string"]:  # no token needed
            return self.feed.live_health()
        token = dict(scope["headers"]).get(b"authorization", b"").removeprefix(b"Bearer ").decode(errors="replace")
        role = self.tokens.get(token)
        if role is None or not may(Caller(role), *STAFF):
            return None
        path, query = scope["path"].removeprefix(API_PREFIX), scope["query_string"]
        if path == "/vehicles" and not query:
            return self.views.built_json(JsonView.VEHICLES)
        if path == "/gates" and not query:
            return self.views.built_json(JsonView.GATES)
        if path == "/orders":
            page = plain_page(query)
            return self.order_reads.kept_page(page) if page is not None else None
        kind, _, key = path.removeprefix("/").partition("/")
        if not key or "/" in key or query:
            return None
        if kind == "vehicles":
            return self.views.built_json(JsonView.VEHICLE, key)
        return self.order_reads.kept_one(key) if kind == "orders" else None


def plain_page(query: bytes) -> PageQuery | None:
    """A page asked by ``limit`` and ``offset`` alone (digits, each once, within the route's bounds), else None."""
    asked: dict[str, int] = {}
    for part in query.split(b"&") if query else ():
        name, equals, value = part.partition(b"=")
        if not equals or name not in (b"limit", b"offset") or name.decode() in asked or not value.isdigit() \
                or len(value) > 9:
            return None
        asked[name.decode()] = int(value)
    page = PageQuery(**asked)  # type: ignore[arg-type]
    return page if 1 <= page.limit <= MAX_PAGE else None


def create_worker_app(settings: Settings, feed: ChannelFeed, leader: str, store: Store) -> ASGIApp:
    """The worker's app: its read routes on what ``feed`` hears, the rest passed on to ``leader``."""

    async def caught_up(answer: httpx.Response) -> None:
        seq = answer.headers.get(SEQ_HEADER, "")
        if seq.isdigit():
            await run_in_threadpool(feed.wait_for, int(seq), CATCH_UP_S)

    proxy = LeaderProxy(leader, caught_up, settings.server.keep_alive_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await proxy.close()

    app = FastAPI(title="xborder fleet manager (read worker)", lifespan=lifespan, openapi_url=None)
    app.state.tokens = {t.token: t.role for t in settings.auth.tokens}
    app.state.store, app.state.views, app.state.order_reads = store, feed.views, feed.order_reads
    local = APIRouter()
    for module in (vehicles, gates, orders):
        local.routes.extend(r for r in module.router.routes if isinstance(r, APIRoute) and r.methods == {"GET"})
    app.include_router(local, prefix=API_PREFIX, responses=UNAUTHORIZED, dependencies=[KNOWN_QUERY_ONLY])
    add_error_handlers(app)
    app.add_exception_handler(ViewsUnavailable, lambda _request, exc: unavailable(str(exc)))

    @app.get(HEALTH_PATH, tags=["health"])
    async def health(_: Request) -> Any:
        """The loop process's answer as last sent; 503 once it has been silent for SILENT_S (read_channel)."""
        health = feed.live_health()
        if health is None:
            heard = "never heard" if feed.health_json is None else f"silent for {feed.silent_for():.1f} s"
            return unavailable(f"its read channel is {heard}")
        return Response(health, media_type="application/json")

    app.mount("/", StaticFiles(directory=CONSOLE_DIR, html=True), name="console")
    return AnswerOrPassOn(app, proxy, feed, app.state.tokens)


def bind(server: ServerConfig) -> socket.socket:
    """The service's listening socket (``server.host``:``server.port``), for the workers to share."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(server.host, server.port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise ConfigError(f"server: cannot listen on {server.host}:{server.port}: {exc.strerror or exc}") from None
    sock.listen(server.max_connections)
    sock.set_inheritable(True)
    return sock


class ReadWorkers:
    """On the loop's process: ``count`` workers serving on ``public``, started again should one die."""

    def __init__(self, settings: Settings, public: socket.socket, leader: str, channel: str,
                 stopping: Callable[[], bool]) -> None:
        self.count, self.public, self.stopping = settings.server.read_workers, public, stopping
        self._settings = settings.model_dump_json().encode()
        # tied to this process before Python starts (util-linux's setpriv): a worker started just before this
        # process died held the port for as long as its imports took (seconds on a busy machine), and a restart
        # could not bind it (CI); main() asks again for machines without setpriv
        setpriv = shutil.which("setpriv")
        self._command = [*([setpriv, "--pdeathsig", "KILL"] if setpriv else []), sys.executable, "-m",
                         "fleet.api.read_workers", "--fd", str(public.fileno()), "--leader", leader,
                         "--channel", channel, "--parent", str(os.getpid())]
        self.processes: list[subprocess.Popen[bytes]] = []
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="read-workers", daemon=True)

    def start(self) -> None:
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        self._watcher.join(timeout=5)
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.public.close()

    def _spawn(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(self._command, stdin=subprocess.PIPE, pass_fds=(self.public.fileno(),))
        assert process.stdin is not None
        process.stdin.write(self._settings)  # the settings name the tokens: a pipe, not the command line
        process.stdin.close()
        return process

    def _watch(self) -> None:
        """Started here, on one thread that lives as long as the process: a worker's parent-death signal is tied
        to the thread that started it."""
        self.processes = [self._spawn() for _ in range(self.count)]
        while not self._stop.wait(1.0):
            for i, process in enumerate(self.processes):
                if process.poll() is not None and not self.stopping():  # (a Ctrl-C stops them all at once)
                    log.error("read worker %d (pid %d) exited with %s: starting another", i, process.pid,
                              process.returncode)
                    self.processes[i] = self._spawn()


def run_with_workers(app: Any, settings: Settings, services: Any, public: socket.socket) -> None:
    """Serve ``app`` (the loop's process's whole API) on a loopback port, and ``settings.server.read_workers``
    workers on the service's port (``public``, :func:`bind`), until interrupted."""
    from fleet.api.read_channel import ChannelPublisher, NumberedWrites  # the leader's side only

    internal = socket.socket()
    internal.bind(("127.0.0.1", 0))
    # listening from now on: what a worker passes on before this process's server has started waits in the
    # backlog for it, rather than being refused (a 503 to a console reconnecting after a restart)
    internal.listen(settings.server.max_connections)
    leader = f"http://127.0.0.1:{internal.getsockname()[1]}"
    publisher = ChannelPublisher(services.dispatcher, services.dispatcher.views_changed, services.bus,
                                 app.state.health)
    app.add_middleware(NumberedWrites, publisher=publisher)
    server = api_server(app, settings)
    workers = ReadWorkers(settings, public, leader, publisher.endpoint, stopping=lambda: server.should_exit)
    publisher.start()
    workers.start()
    log.info("API on %s:%d: %d read workers; the loop's own API on %s", settings.server.host, settings.server.port,
             workers.count, leader)
    try:
        server.run(sockets=[internal])
    finally:
        workers.stop()
        publisher.stop()


def _die_with(parent: int) -> None:
    """Be killed when the process that started this one dies (Linux), even by SIGKILL: the port is freed at
    once for its restart."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the signal was asked for
        sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="an xborder read worker (started by xborder serve)")
    parser.add_argument("--fd", type=int, required=True, help="the listening socket, inherited")
    parser.add_argument("--leader", required=True, help="the loop's process's own API, http://127.0.0.1:PORT")
    parser.add_argument("--channel", required=True, help="the loop's read channel, tcp://127.0.0.1:PORT")
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    _die_with(args.parent)
    os.nice(NICENESS)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s[worker]: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request passed on would fill the log
    from fleet.maps import load_corridor

    settings = Settings.model_validate_json(sys.stdin.buffer.read())
    store = Store(settings.store.location, busy_timeout_s=settings.store.busy_timeout_s)
    order_bus = EventBus()
    order_reads = OrderReads(OrderService(store, load_corridor(settings.map), order_bus, time.time), bus=order_bus)
    feed = ChannelFeed(args.channel, RelayedViews(), order_reads, order_bus)
    feed.start()
    # no connection taken before the views are here (a worker started again would answer 503 until then)
    if not feed.wait_for_views(FIRST_VIEWS_S):
        log.warning("no views from the loop's process in %.0f s: serving, its reads answer 503 until they come",
                    FIRST_VIEWS_S)
    app = create_worker_app(settings, feed, args.leader, store)
    try:
        api_server(app, settings, loop="uvloop").run(sockets=[socket.socket(fileno=args.fd)])
    finally:
        feed.stop()
        store.close()


if __name__ == "__main__":
    main()
