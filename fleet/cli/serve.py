"""``xborder serve``: the fleet manager service (HTTP API, dispatch loop, vehicle link, customs ZeroMQ)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from fleet.config import Settings


def serve(
    config: Path | None = typer.Option(None, "--config", help="YAML config (see fleet/config.py); without it the "
                                       "embedded default runs: Bac Luan II, a simulated fleet, var/"),
    var: Path = typer.Option(Path("var"), "--var", help="where the default keeps its store, keys and tokens"),
    host: str | None = typer.Option(None, "--host", help="overrides server.host"),
    port: int | None = typer.Option(None, "--port", help="overrides server.port"),
    db: Path | None = typer.Option(None, "--db", help="overrides store.path"),
    read_workers: int | None = typer.Option(None, "--read-workers", min=0, max=16,
                                            help="overrides server.read_workers: processes answering the polled "
                                            "reads beside the dispatch loop's (docs/operations.md)"),
) -> None:
    """Start the fleet manager: API on HTTP, the dispatch loop, customs events on the ZeroMQ ROUTER, decisions on
    PUB. A config that cannot work (a missing key file, an unknown role, a vehicle on no map node) is refused."""
    import logging
    from functools import partial

    from fleet.api.main import create_app
    from fleet.api.read_workers import bind, run_with_workers
    from fleet.api.server import run_api
    from fleet.api.standby import standby_server
    from fleet.config import ConfigError, load_settings
    from fleet.heap import settle_heap
    from fleet.services import build_services
    from fleet.store import StoreError
    from planner.corridor import MapError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(config) if config else _default(var)
        settings.server.host = host or settings.server.host
        settings.server.port = settings.server.port if port is None else port
        settings.store.path = db or settings.store.path
        settings.server.read_workers = settings.server.read_workers if read_workers is None else read_workers
        services = build_services(settings, standby=partial(standby_server, settings))
    except (ConfigError, MapError, StoreError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    try:
        listening = bind(settings.server)  # the port taken: refused before anything runs
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        # what was built is closed before the exit: left to the interpreter's end, the vehicle link's threads
        # were still running as it tore down, and it aborted ("terminate called without an active exception",
        # exit -6) instead of saying no with code 2
        services.close()
        raise typer.Exit(2) from None
    settle_heap()  # the collector kept off what was built at start
    app = create_app(services)
    if settings.server.read_workers:
        run_with_workers(app, settings, services, listening)
    else:
        run_api(app, settings, listening)


def _default(var: Path) -> Settings:
    """The embedded default's settings; says what it created and where the tokens are."""
    from fleet.defaults import default_settings

    boot = default_settings(var)
    for path in boot.created:
        typer.echo(f"created {path.resolve()}")
    typer.echo(f"no --config: the default deployment; demo tokens (one per role) in {boot.tokens_file.resolve()}, "
               f"customs keys in {boot.keys_dir.resolve()}")
    return boot.settings
