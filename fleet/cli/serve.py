"""``xborder serve``: the fleet manager service (HTTP API + customs ZeroMQ transports)."""

from __future__ import annotations

from pathlib import Path

import typer


def serve(
    config: Path = typer.Option(..., "--config", help="YAML config (see fleet/config.py)"),
    host: str | None = typer.Option(None, "--host", help="overrides server.host"),
    port: int | None = typer.Option(None, "--port", help="overrides server.port"),
    db: Path | None = typer.Option(None, "--db", help="overrides store.path"),
) -> None:
    """Start the fleet manager: API on HTTP, customs events on the ZeroMQ ROUTER, decisions on PUB."""
    import logging

    from fleet.api.main import create_app
    from fleet.api.server import run_api
    from fleet.config import ConfigError, load_settings
    from fleet.store import Store
    from fleet.transports.zmq_customs import customs_link

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    settings.server.host = host or settings.server.host
    settings.server.port = settings.server.port if port is None else port
    settings.store.path = db or settings.store.path
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    store = Store(settings.store.path)
    try:
        with customs_link(settings.customs, store) as link:
            run_api(create_app(settings, link.gate), settings)
    finally:
        store.close()
