"""``xborder gazebo export``: write the world, the AGV models, the bridge YAML and the launch config."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import yaml

from fleet.maps import load_corridor
from planner.corridor import Corridor
from sim.gazebo.agv_model import agv_model
from sim.gazebo.agv_params import DEFAULT_AGV_PARAMS, load_agv_params, ros_name
from sim.gazebo.barriers import gate_directions
from sim.gazebo.bridge_config import bridge_entries
from sim.gazebo.layout import ExportError, Spawn, parking_spawns
from sim.gazebo.sdf import write_sdf
from sim.gazebo.world import ROAD_TOP, Barrier, corridor_world

ROAD_CLEARANCE = 0.5  # m each side of an AGV: the maps carry no lane width, so roads are vehicle width + this
WORLD_FILE, BRIDGE_FILE, LAUNCH_CONFIG_FILE = "world.sdf", "bridge.yaml", "gazebo.yaml"
TEMPLATE_MODEL = "agv"
#: The files an export wrote, one path a line relative to its folder: the next export into the folder removes
#: those it does not write again (an earlier, larger --count's AGVs), and nothing else.
MANIFEST_FILE = "xborder_export.txt"
MANIFEST_HEADER = "# written by `xborder gazebo export`: the files of this export; the next export here removes them\n"


@dataclass(frozen=True)
class ExportResult:
    world: Path
    models: list[Path]
    bridge: Path
    launch_config: Path
    removed: list[Path]  # files of an earlier export into the folder that this one did not write again


def export_gazebo(map_folder: Path, out: Path, count: int, agv_params_file: Path = DEFAULT_AGV_PARAMS) -> ExportResult:
    """Export the corridor in ``map_folder`` for Gazebo into ``out``, with ``count`` AGVs on parking spots.

    ``out`` is a new or empty folder, or one an earlier export wrote: its files (listed in :data:`MANIFEST_FILE`)
    are replaced by this export's, and nothing else in the folder is touched.

    Raises :class:`~planner.corridor.MapError` for a bad map, :class:`~sim.gazebo.agv_params.AgvParamsError`
    for a bad parameter file, :class:`~sim.gazebo.layout.ExportError` for a count the map cannot hold or an
    ``out`` that is a file or a folder of other files (before anything is written).
    """
    corridor = load_corridor(map_folder)
    params = load_agv_params(agv_params_file)
    spawns = parking_spawns(corridor, count, params.vehicle_length, params.vehicle_width)
    world_name = ros_name(Path(map_folder).resolve().name)
    world, barriers = corridor_world(corridor, world_name, params.vehicle_width + 2 * ROAD_CLEARANCE)
    vehicle_ids = [s.vehicle_id for s in spawns]
    model_names = [TEMPLATE_MODEL, *vehicle_ids]
    earlier = earlier_export(out)
    ours = {Path(WORLD_FILE), Path(BRIDGE_FILE), Path(LAUNCH_CONFIG_FILE),
            *(Path("models", name, file) for name in model_names for file in ("model.config", "model.sdf"))}
    _write_manifest(out, earlier | ours)  # an export cut short is still all listed
    world_path = write_sdf(world, out / WORLD_FILE)
    models = [_write_model(out, agv_model(params, name), name) for name in model_names]
    bridge = out / BRIDGE_FILE
    bridge.write_text(yaml.safe_dump(bridge_entries(params.fleet_namespace, vehicle_ids, barriers),
                                     sort_keys=False), encoding="utf-8")
    launch_config = out / LAUNCH_CONFIG_FILE
    launch_config.write_text(yaml.safe_dump(_launch_config(corridor, world_name, params.fleet_namespace, spawns,
                                                           barriers), sort_keys=False), encoding="utf-8")
    removed = _remove(out, earlier - ours)
    _write_manifest(out, ours)
    return ExportResult(world_path, models, bridge, launch_config, removed)


def earlier_export(out: Path) -> set[Path]:
    """The files (relative to ``out``) an earlier export into ``out`` listed; none for a new or empty folder.

    :class:`ExportError` for a file, or a folder holding files no export listed: they are someone's, and an export
    into it would mix with them (the export once cleared its ``models/`` folder, whatever was in it)."""
    if not out.exists():
        return set()
    if not out.is_dir():
        raise ExportError(f"--out {out}: a file, not a folder")
    manifest = out / MANIFEST_FILE
    if manifest.is_file():
        lines = manifest.read_text(encoding="utf-8").splitlines()
        return {Path(line) for line in lines if line and not line.startswith("#") and _inside(out, Path(line))}
    if any(out.iterdir()):
        raise ExportError(f"--out {out}: the folder holds files that no `xborder gazebo export` wrote (it has no "
                          f"{MANIFEST_FILE}); export into a new or empty folder. Nothing was written")
    return set()


def _inside(out: Path, relative: Path) -> bool:
    """A manifest line names a file in the export folder, never one outside it (an edited or foreign manifest)."""
    return not relative.is_absolute() and ".." not in relative.parts and \
        (out / relative).resolve().is_relative_to(out.resolve())


def _remove(out: Path, stale: set[Path]) -> list[Path]:
    """Remove the listed files and the folders they leave empty (``models/agv_004/``), nothing else."""
    removed = []
    for relative in sorted(stale):
        path = out / relative
        if path.is_file() or path.is_symlink():
            path.unlink()
            removed.append(path)
        for folder in relative.parents[:-1]:  # up to, not including, out itself
            if (out / folder).is_dir() and not any((out / folder).iterdir()):
                (out / folder).rmdir()
    return removed


def _write_manifest(out: Path, files: set[Path]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_FILE).write_text(MANIFEST_HEADER + "".join(f"{p.as_posix()}\n" for p in sorted(files)),
                                     encoding="utf-8")


def _launch_config(corridor: Corridor, world_name: str, fleet_namespace: str, spawns: list[Spawn],
                   barriers: list[Barrier]) -> dict[str, object]:
    """What the launch file needs: the world, each AGV's model and spawn pose, each barrier and its directions."""
    directions = gate_directions(corridor)
    return {
        "corridor": corridor.name,
        "world_name": world_name,
        "world_file": WORLD_FILE,
        "bridge_file": BRIDGE_FILE,
        "fleet_namespace": fleet_namespace,
        "vehicles": [{"id": s.vehicle_id, "parking": s.parking, "model_file": f"models/{s.vehicle_id}/model.sdf",
                      "x": round(s.x, 3), "y": round(s.y, 3), "z": ROAD_TOP + 0.02, "yaw": round(s.yaw, 5)}
                     for s in spawns],
        "barriers": [{"gate": b.gate, "model": b.model, "gz_topic": b.topic,
                      "ros_topic": b.ros_topic(fleet_namespace), "directions": directions[b.gate]}
                     for b in barriers],
    }


def _write_model(out: Path, document: ET.Element, name: str) -> Path:
    """``models/<name>/model.sdf`` and the ``model.config`` that lets Gazebo find it as ``model://<name>``."""
    folder = out / "models" / name
    config = ET.Element("model")
    ET.SubElement(config, "name").text = name
    ET.SubElement(config, "version").text = "1.0"
    ET.SubElement(config, "sdf", version=document.get("version", "")).text = "model.sdf"
    ET.SubElement(config, "description").text = "xborder container AGV (generated by xborder gazebo export)"
    write_sdf(config, folder / "model.config")
    return write_sdf(document, folder / "model.sdf")
