"""The ``xborder`` command line.

Subcommands are registered by each part in pyproject.toml under the entry-point group
``xborder.commands``: a name mapped to a :class:`typer.Typer` (a command group, e.g. ``map``) or to a
plain function (a single command, e.g. ``serve``). Discovering them here keeps the dependency arrows
pointing inward: ``fleet`` never imports ``sim``, yet ``xborder customs simulate`` works.
Subcommand modules import their heavy dependencies inside the command functions, so ``--help`` is fast.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import typer

COMMAND_GROUP = "xborder.commands"


def build_app() -> typer.Typer:
    """Assemble the root app from every registered subcommand, sorted by name."""
    app = typer.Typer(
        help="xborder: fleet manager for cargo AGVs across the Vietnam-China border (corridor maps in maps/).",
        no_args_is_help=True,
        add_completion=False,
    )
    for entry in sorted(entry_points(group=COMMAND_GROUP), key=lambda e: e.name):
        target = entry.load()
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=entry.name)
        elif callable(target):
            app.command(name=entry.name)(target)
        else:
            raise TypeError(f"entry point {entry.name!r} = {entry.value} is neither a Typer app nor a function")
    return app


def main() -> None:
    build_app()()
