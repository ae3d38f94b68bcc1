"""``xborder map``: validate and render corridor maps."""

from __future__ import annotations

import typer

app = typer.Typer(help="Corridor maps: validate, render.", no_args_is_help=True)
