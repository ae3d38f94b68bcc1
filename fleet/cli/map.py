"""``xborder map``: validate and render corridor maps."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Corridor maps: validate, render.", no_args_is_help=True)

MapFolder = typer.Argument(..., help="corridor folder holding corridor.geojson and corridor.yaml")
PICTURE_SUFFIXES = (".png", ".svg")


def picture_path(path: Path) -> Path:
    """``--out``: a picture file by its suffix, refused before any work (savefig's ValueError came last)."""
    if path.suffix.lower() not in PICTURE_SUFFIXES:
        raise typer.BadParameter(f"{path}: write a .png or .svg picture, not {path.suffix or 'no suffix'!r}")
    return path


def load_or_exit(path: Path):
    from rich.console import Console

    from fleet.maps import load_corridor
    from planner.corridor import MapError

    try:
        return load_corridor(path)
    except MapError as exc:
        Console(stderr=True).print(f"[bold red]{path}[/]: {exc}", highlight=False)
        raise typer.Exit(code=2) from None


@app.command()
def validate(path: Path = MapFolder) -> None:
    """Validate a corridor map; print a one-screen summary, or the reasons it is refused (exit 2)."""
    from rich.console import Console

    from planner.corridor.summary import summarize

    corridor = load_or_exit(path)
    s = summarize(corridor)
    console = Console()
    console.print(f"[bold green]valid[/] corridor map: [bold]{s.name}[/]  ({path})")
    console.print(f"origin {corridor.origin.lat:.5f} N, {corridor.origin.lon:.5f} E   "
                  f"handoff mode: {corridor.parameters.get('handoff_mode', 'through')}")
    console.print(f"nodes: {sum(s.node_counts.values())}  (" + ", ".join(f"{k} {v}" for k, v in s.node_counts.items())
                  + ")")
    console.print(f"lanes: {s.lane_count} directed, total length {s.lane_length_m / 1000:.2f} km, "
                  f"{s.crossing_lane_count} crossing, {len(s.lane_groups)} single-lane two-way sections (lane groups)")
    console.print(f"conflict zones (lanes meeting without a node): {len(s.conflict_zones)}"
                  + "".join(f"\n  {zone}" for zone in s.conflict_zones))
    console.print("zones: " + ", ".join(f"{j} {n}" for j, n in s.zone_counts.items()))
    console.print("[bold]fastest dock-to-dock route each way[/] (at the speed limits):")
    for r in s.routes:
        console.print(f"  {r.direction}  {r.nodes[0]} -> {r.nodes[-1]}: {r.length_m:,.0f} m, {r.time_s / 60:.1f} min, "
                      f"{len(r.nodes)} nodes")
        console.print(f"    gates {', '.join(r.gates)};  crossing lanes {', '.join(r.crossing_lanes)}")


@app.command()
def render(
    path: Path = MapFolder,
    out: Path = typer.Option(Path("out/corridor.png"), "--out", help="picture to write (.png or .svg)",
                             callback=picture_path),
) -> None:
    """Draw the corridor: zones by jurisdiction, directed lanes, gates, border line, docks, chargers."""
    from fleet.maps.render import render_corridor

    corridor = load_or_exit(path)
    written = render_corridor(corridor, out)
    typer.echo(f"wrote {written}")
