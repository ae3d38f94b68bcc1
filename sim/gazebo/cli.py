"""``xborder gazebo``: the corridor and its AGVs for Gazebo Harmonic (see docs/gazebo.md)."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Gazebo Harmonic: export the corridor world, the AGV models and the bridge.",
                  no_args_is_help=True)


@app.command()
def export(
    map_folder: Path = typer.Argument(..., help="corridor folder holding corridor.geojson and corridor.yaml"),
    out: Path = typer.Option(Path("out/gazebo"), "--out", help="folder to write the world, models and YAML into"),
    count: int = typer.Option(2, "--count", help="AGVs to place, one per parking spot, taken from each side in turn"),
    agv_params: Path = typer.Option(None, "--agv-params", help="AGV parameter file (default: agv_agent's agv.yaml)"),
) -> None:
    """Write world.sdf, models/agv*/model.sdf, bridge.yaml and gazebo.yaml (the launch file's input)."""
    from planner.corridor import MapError
    from sim.gazebo.agv_params import DEFAULT_AGV_PARAMS, AgvParamsError
    from sim.gazebo.export import export_gazebo
    from sim.gazebo.layout import ExportError

    try:
        result = export_gazebo(map_folder, out, count, agv_params or DEFAULT_AGV_PARAMS)
    except (MapError, AgvParamsError, ExportError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"wrote {result.world}, {len(result.models) - 1} AGV model(s) + the template under {out / 'models'}, "
               f"{result.bridge}, {result.launch_config}")
