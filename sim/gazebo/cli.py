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
    agv_params: Path | None = typer.Option(None, "--agv-params",
                                           help="AGV parameter file (default: agv_agent's config/agv.yaml)"),
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
    if result.removed:
        typer.echo(f"removed {len(result.removed)} file(s) the earlier export into {out} wrote and this one does not")


@app.command()
def barriers(
    export_dir: Path = typer.Argument(Path("out/gazebo"), help="the folder `xborder gazebo export` wrote"),
    fleet_pub: str = typer.Option("tcp://127.0.0.1:5561", "--fleet-pub", help="the fleet's ZeroMQ PUB endpoint"),
    hold_open_s: float = typer.Option(120.0, "--hold-open-s", min=1.0, help="how long an allowed crossing keeps "
                                      "its gates' barriers up"),
) -> None:
    """Drive the Gazebo gate barriers from the fleet's gate decisions (a ROS 2 node)."""
    import logging

    from sim.gazebo.barrier_node import run_barrier_node
    from sim.gazebo.export import LAUNCH_CONFIG_FILE

    launch_config = export_dir / LAUNCH_CONFIG_FILE
    if not launch_config.is_file():
        typer.echo(f"error: {launch_config} missing: run `xborder gazebo export` first", err=True)
        raise typer.Exit(code=2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run_barrier_node(launch_config, fleet_pub, hold_open_s)
