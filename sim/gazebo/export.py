"""``xborder gazebo export``: write the world, the AGV model, the bridge YAML and the vehicle list."""

from __future__ import annotations

import re
from pathlib import Path

import typer
import yaml

app = typer.Typer(help="Gazebo (Harmonic) worlds for engineers' own ROS 2 machines.", no_args_is_help=True)


def export_corridor(map_folder: Path, out: Path, count: int, params_file: Path | None = None) -> dict[str, Path]:
    """Generate everything for ``map_folder`` into ``out``; return the written files by role."""
    from agv_agent import default_params_file

    from fleet.maps import load_corridor
    from sim.gazebo.agv_model import AgvParams, AgvTopics, agv_model
    from sim.gazebo.bridge_config import bridge_entries
    from sim.gazebo.sdf import sdf_document, write
    from sim.gazebo.world import corridor_world
    from sim.ros_fleet import parking_spots

    corridor = load_corridor(map_folder)
    agv = AgvParams.from_file(params_file or default_params_file())
    vehicles = parking_spots(corridor, count)
    world_name = re.sub(r"[^A-Za-z0-9_]", "_", map_folder.resolve().name) or "corridor"
    out.mkdir(parents=True, exist_ok=True)
    (out / "models" / "agv").mkdir(parents=True, exist_ok=True)
    files = {"world": out / f"{world_name}.sdf", "model": out / "models" / "agv" / "model.sdf",
             "model_config": out / "models" / "agv" / "model.config", "bridge": out / "bridge.yaml",
             "vehicles": out / "vehicles.yaml"}

    write(sdf_document(corridor_world(corridor, world_name, agv, vehicles)), files["world"])
    write(sdf_document(agv_model(agv, "agv", AgvTopics.for_vehicle(agv.fleet_namespace, None))), files["model"])
    files["model_config"].write_text(
        '<?xml version="1.0"?>\n<model>\n  <name>xborder container AGV</name>\n  <version>1.0</version>\n'
        '  <sdf version="1.9">model.sdf</sdf>\n  <description>15 m x 3 m container AGV, DiffDrive, lidar'
        '</description>\n</model>\n')
    files["bridge"].write_text(yaml.safe_dump(bridge_entries(corridor, agv.fleet_namespace, vehicles),
                                              sort_keys=False))
    files["vehicles"].write_text(yaml.safe_dump({
        "world": world_name, "fleet_namespace": agv.fleet_namespace,
        "vehicles": [{"vehicle_id": v.vehicle_id, "initial_node_id": v.node_id, "x": v.x, "y": v.y,
                      "theta": v.theta} for v in vehicles]}, sort_keys=False))
    return files


@app.command("export")
def export_command(
    map_folder: Path = typer.Argument(..., help="corridor folder (corridor.geojson + corridor.yaml)"),
    out: Path = typer.Option(..., "--out", help="output folder"),
    count: int = typer.Option(4, "--count", min=0, help="AGVs to place at parking spots"),
) -> None:
    """Write <map>.sdf (world with lanes, zones, border, gate barriers, markers, AGVs), models/agv/model.sdf,
    bridge.yaml (ros_gz_bridge) and vehicles.yaml (for launch/gazebo_corridor.launch.py)."""
    from planner.corridor import MapError

    try:
        files = export_corridor(map_folder, out, count)
    except (MapError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    for role, path in files.items():
        typer.echo(f"{role:12s} {path}")
