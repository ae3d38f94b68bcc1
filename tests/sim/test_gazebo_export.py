"""The Gazebo export, read back from the files it writes, for Bac Luan II and for a small map unlike it.

What ``ign sdf -k`` (the real SDFormat parser) checks, and what it does not and these tests do: element
names against the SDF 1.9 spec, plugin names and parameters against Gazebo Harmonic's systems, DiffDrive
limits against agv.yaml, topics against the bridge YAML and the agent namespaces, lanes covered by roads.
"""

from __future__ import annotations

import ast
import math
import shutil
import subprocess
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest
import yaml
from shapely import affinity
from shapely.geometry import Polygon, box
from shapely.ops import unary_union
from shapely.prepared import prep
from typer.testing import CliRunner

from fleet.cli import build_app
from fleet.maps import load_corridor
from planner.corridor import NodeKind
from sim.gazebo.plugins import HARMONIC_SYSTEMS, SYSTEM_PARAMETERS, SystemPlugin

REPO = Path(__file__).resolve().parents[2]
AGV_YAML = REPO / "ros_ws" / "src" / "agv_agent" / "config" / "agv.yaml"
IGN = shutil.which("ign")
needs_ign = pytest.mark.skipif(IGN is None, reason="`ign` (Debian ignition-tools + libsdformat-dev) is not installed; "
                                                   "`make test` installs it")


@pytest.fixture(scope="module", params=["bac_luan_ii", "toy"])
def export(request, tmp_path_factory, toy_map_dir: Path) -> tuple[Path, Path]:
    """(map folder, export folder): the CLI run on each map, 3 AGVs (the toy map has room for 2)."""
    if request.param == "toy":
        map_folder, count = toy_map_dir, 2
    else:
        map_folder, count = REPO / "maps" / "bac_luan_ii", 3
    out = tmp_path_factory.mktemp(f"gazebo_{request.param}")
    result = CliRunner().invoke(build_app(), ["gazebo", "export", str(map_folder), "--out", str(out),
                                              "--count", str(count)])
    assert result.exit_code == 0, result.output
    return map_folder, out


def sdf_files(out: Path) -> list[Path]:
    return sorted(out.rglob("*.sdf"))


def launch_config(out: Path) -> dict:
    return yaml.safe_load((out / "gazebo.yaml").read_text())


def agv_yaml() -> dict:
    return yaml.safe_load(AGV_YAML.read_text())["/**"]["ros__parameters"]


def plugins_of(element: ET.Element, filename: str) -> list[ET.Element]:
    return [p for p in element.iter("plugin") if p.get("filename") == filename]


def param(plugin: ET.Element, key: str) -> str:
    found = plugin.find(key)
    assert found is not None, f"{plugin.get('name')} lacks <{key}>"
    return found.text or ""


@needs_ign
def test_every_generated_sdf_passes_the_real_parser(export):
    _, out = export
    files = sdf_files(out)
    assert {f.relative_to(out).as_posix() for f in files} >= {"world.sdf", "models/agv/model.sdf"}
    for path in files:
        assert ET.parse(path).getroot().get("version") == "1.9"
        run = subprocess.run([IGN, "sdf", "-k", str(path)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and "Valid." in run.stdout, f"{path}: {run.stdout}{run.stderr}"


@cache
def sdf_spec() -> ET.Element:
    """The SDF 1.9 specification as the installed parser describes it (every element and attribute)."""
    run = subprocess.run([IGN, "sdf", "-d", "1.9"], capture_output=True, text=True, timeout=60, check=True)
    return ET.fromstring(run.stdout)


def spec_violations(document: ET.Element) -> list[str]:
    """Elements and attributes the spec does not know where they stand (typos ``ign sdf -k`` lets pass)."""
    problems: list[str] = []

    def walk(element: ET.Element, spec: ET.Element, path: str) -> None:
        if element.tag == "plugin":  # free-form: checked against Gazebo's systems below
            return
        known_attributes = {a.get("name") for a in spec.findall("attribute")}
        problems.extend(f"{path} @{name}" for name in element.attrib if name not in known_attributes)
        children = {e.get("name"): e for e in spec.findall("element")}
        for child in element:
            if child.tag in children:
                walk(child, children[child.tag], f"{path}/{child.tag}")
            else:
                problems.append(f"{path}/{child.tag}")

    walk(document, sdf_spec(), "sdf")
    return problems


@needs_ign
def test_element_names_follow_the_sdf_spec(export):
    _, out = export
    for path in sdf_files(out):
        assert spec_violations(ET.parse(path).getroot()) == [], path


@needs_ign
def test_the_spec_check_catches_a_misspelled_element(export):
    _, out = export
    document = ET.parse(out / "models" / "agv" / "model.sdf").getroot()
    next(document.iter("mass")).tag = "masss"
    assert spec_violations(document) == ["sdf/model/link/inertial/masss"]


def test_plugins_are_gazebo_harmonic_systems_with_known_parameters(export):
    _, out = export
    by_filename = {p.filename: p for p in SYSTEM_PARAMETERS}
    seen = set()
    for path in sdf_files(out):
        for plugin in ET.parse(path).getroot().iter("plugin"):
            filename, name = plugin.get("filename"), plugin.get("name")
            assert HARMONIC_SYSTEMS.get(filename) == name, f"{path}: {filename} / {name}"
            unknown = {child.tag for child in plugin} - SYSTEM_PARAMETERS[by_filename[filename]]
            assert not unknown, f"{path}: {name} does not read {unknown}"
            seen.add(SystemPlugin(filename, name))
    world_systems = {p.get("filename") for p in ET.parse(out / "world.sdf").getroot().find("world").findall("plugin")}
    assert {"gz-sim-physics-system", "gz-sim-user-commands-system", "gz-sim-scene-broadcaster-system",
            "gz-sim-sensors-system"} <= world_systems
    assert {"gz-sim-diff-drive-system", "gz-sim-odometry-publisher-system",
            "gz-sim-joint-position-controller-system"} <= {p.filename for p in seen}


def test_diff_drive_and_body_match_the_agent_parameters(export):
    _, out = export
    agv = agv_yaml()
    expected = {
        "wheel_separation": agv["wheel_separation"], "wheel_radius": agv["wheel_radius"],
        "max_linear_velocity": agv["max_linear_speed"], "min_linear_velocity": -agv["max_linear_speed"],
        "max_angular_velocity": agv["max_angular_speed"], "min_angular_velocity": -agv["max_angular_speed"],
        "max_linear_acceleration": agv["max_linear_accel"], "min_linear_acceleration": -agv["max_linear_decel"],
        "max_angular_acceleration": agv["max_angular_accel"], "min_angular_acceleration": -agv["max_angular_accel"],
    }
    models = [p for p in sdf_files(out) if p.parent.parent.name == "models"]
    assert len(models) == 1 + len(launch_config(out)["vehicles"])
    for path in models:
        model = ET.parse(path).getroot().find("model")
        (drive,) = plugins_of(model, "gz-sim-diff-drive-system")
        assert {key: float(param(drive, key)) for key in expected} == pytest.approx(expected), path
        assert sum(float(m.text) for m in model.iter("mass")) == pytest.approx(agv["vehicle_mass"], rel=1e-3)
        chassis = model.find("link[@name='base_link']/collision/geometry/box/size").text.split()
        assert [float(v) for v in chassis[:2]] == pytest.approx([agv["vehicle_length"], agv["vehicle_width"]])
        joints = {j.get("name"): j for j in model.iter("joint")}
        for side in ("left_joint", "right_joint"):
            wheel = joints[param(drive, side)]
            assert wheel.get("type") == "revolute"
            radius = model.find(f"link[@name='{wheel.find('child').text}']/collision/geometry/cylinder/radius")
            assert float(radius.text) == pytest.approx(agv["wheel_radius"])
        wheel_y = [float(model.find(f"link[@name='{s}_wheel']/pose").text.split()[1]) for s in ("left", "right")]
        assert wheel_y[0] - wheel_y[1] == pytest.approx(agv["wheel_separation"])


def model_topics(model: ET.Element) -> dict[str, str]:
    """The Gazebo topics a vehicle model uses, by the vehicle-side name they must bridge to."""
    (drive,) = plugins_of(model, "gz-sim-diff-drive-system")
    (odometry,) = plugins_of(model, "gz-sim-odometry-publisher-system")
    (lidar,) = [s for s in model.iter("sensor") if s.get("type") == "gpu_lidar"]
    return {"cmd_vel": param(drive, "topic"), "wheel_odom": param(drive, "odom_topic"),
            "odom": param(odometry, "odom_topic"), "scan": lidar.find("topic").text}


def test_bridge_yaml_connects_every_model_topic_to_the_agent_namespace(export):
    _, out = export
    config = launch_config(out)
    fleet = agv_yaml()["fleet_namespace"]
    assert config["fleet_namespace"] == fleet
    bridge = yaml.safe_load((out / "bridge.yaml").read_text())
    by_gz = {entry["gz_topic_name"]: entry for entry in bridge}
    assert len(by_gz) == len(bridge), "a Gazebo topic is bridged twice"
    expected_direction = {"cmd_vel": "ROS_TO_GZ", "odom": "GZ_TO_ROS", "wheel_odom": "GZ_TO_ROS", "scan": "GZ_TO_ROS"}
    expected_types = {"cmd_vel": "geometry_msgs/msg/Twist", "odom": "nav_msgs/msg/Odometry",
                      "wheel_odom": "nav_msgs/msg/Odometry", "scan": "sensor_msgs/msg/LaserScan"}
    all_gz_topics = []
    for vehicle in config["vehicles"]:
        model = ET.parse(out / vehicle["model_file"]).getroot().find("model")
        assert model.get("name") == vehicle["id"]
        for name, gz_topic in model_topics(model).items():
            entry = by_gz[gz_topic]
            assert entry["ros_topic_name"] == f"/{fleet}/{vehicle['id']}/{name}"
            assert (entry["direction"], entry["ros_type_name"]) == (expected_direction[name], expected_types[name])
            all_gz_topics.append(gz_topic)
    assert len(set(all_gz_topics)) == len(all_gz_topics), "two vehicles share a Gazebo topic"
    world = ET.parse(out / "world.sdf").getroot()
    for barrier in config["barriers"]:
        (controller,) = plugins_of(world.find(f"world/model[@name='{barrier['model']}']"),
                                   "gz-sim-joint-position-controller-system")
        entry = by_gz[param(controller, "topic")]
        assert entry["ros_topic_name"] == barrier["ros_topic"] and entry["ros_topic_name"].startswith(f"/{fleet}/")
        assert (entry["direction"], entry["gz_type_name"]) == ("ROS_TO_GZ", "gz.msgs.Double")
    assert by_gz["/clock"]["direction"] == "GZ_TO_ROS"
    assert len(bridge) == 1 + 4 * len(config["vehicles"]) + len(config["barriers"])


def strip_footprint(element: ET.Element) -> Polygon:
    x, y, _z, _roll, _pitch, yaw = (float(v) for v in element.find("pose").text.split())
    length, width, _ = (float(v) for v in element.find("geometry/box/size").text.split())
    rectangle = box(x - length / 2, y - width / 2, x + length / 2, y + width / 2)
    return affinity.rotate(rectangle, yaw, origin=(x, y), use_radians=True)


def test_every_lane_is_on_a_drivable_surface_wide_enough_for_an_agv(export):
    map_folder, out = export
    corridor = load_corridor(map_folder)
    roads = ET.parse(out / "world.sdf").getroot().find("world/model[@name='roads']")
    assert roads.find("static").text == "true"
    collisions = [c for c in roads.iter("collision") if c.get("name").startswith(("road_", "deck_"))]
    surface = prep(unary_union([strip_footprint(c) for c in collisions]).buffer(1e-6))  # buffered once
    half_width = agv_yaml()["vehicle_width"] / 2
    uncovered = [lane.id for lane in corridor.lanes.values() if not surface.contains(lane.geometry.buffer(half_width))]
    assert uncovered == []
    deck = prep(unary_union([strip_footprint(c) for c in collisions if c.get("name").startswith("deck_")])
                .buffer(1e-6))
    for lane in corridor.crossing_lanes:
        assert deck.contains(lane.geometry), f"crossing lane {lane.id} is not on the bridge deck"


def test_gates_have_barriers_with_a_boom_joint_and_markers_show_docks_and_chargers(export):
    map_folder, out = export
    corridor = load_corridor(map_folder)
    world = ET.parse(out / "world.sdf").getroot().find("world")
    gates = sorted(n.id for n in corridor.nodes_of(NodeKind.GATE))
    assert sorted(b["gate"] for b in launch_config(out)["barriers"]) == gates
    for barrier in launch_config(out)["barriers"]:
        model = world.find(f"model[@name='{barrier['model']}']")
        (hinge,) = [j for j in model.iter("joint") if j.get("type") == "revolute"]
        (controller,) = plugins_of(model, "gz-sim-joint-position-controller-system")
        assert param(controller, "joint_name") == hinge.get("name")
        assert float(hinge.find("axis/limit/upper").text) == pytest.approx(math.pi / 2)
        gate = corridor.nodes[barrier["gate"]]
        x, y = (float(v) for v in model.find("pose").text.split()[:2])
        assert math.hypot(x - gate.x, y - gate.y) < 5.0, "barrier far from its gate"
    markers = {v.get("name") for v in world.find("model[@name='markers']").iter("visual")}
    for kind in (NodeKind.DOCK, NodeKind.CHARGER):
        assert {f"{kind}_{n.id}" for n in corridor.nodes_of(kind)} <= markers
    assert world.find("model[@name='border_line']").find("link/visual") is not None
    assert {z.get("name") for z in world.find("model[@name='zones']").iter("visual")} == {
        f"zone_{z}" for z in corridor.zones}


def test_agvs_stand_on_distinct_parking_spots_from_both_sides(export):
    map_folder, out = export
    corridor = load_corridor(map_folder)
    vehicles = launch_config(out)["vehicles"]
    agv = agv_yaml()
    assert [v["id"] for v in vehicles] == [f"agv_{i:03d}" for i in range(1, len(vehicles) + 1)]
    spots = [corridor.nodes[v["parking"]] for v in vehicles]
    assert all(s.kind == NodeKind.PARKING for s in spots) and len({s.id for s in spots}) == len(spots)
    assert {s.jurisdiction for s in spots} == set(corridor.jurisdictions)
    footprints = []
    for vehicle, spot in zip(vehicles, spots):
        assert (vehicle["x"], vehicle["y"]) == pytest.approx((spot.x, spot.y), abs=1e-2)
        rectangle = box(-agv["vehicle_length"] / 2, -agv["vehicle_width"] / 2, agv["vehicle_length"] / 2,
                        agv["vehicle_width"] / 2)
        footprints.append(affinity.translate(affinity.rotate(rectangle, vehicle["yaw"], origin=(0, 0),
                                                             use_radians=True), spot.x, spot.y))
    assert not any(a.intersects(b) for i, a in enumerate(footprints) for b in footprints[i + 1:])


@pytest.mark.parametrize(("args", "message"), [
    (["maps/no_such_map"], "is not a corridor folder"),
    (["maps/bac_luan_ii", "--count", "-1"], "must not be negative"),
    (["maps/bac_luan_ii", "--count", "100000"], "room for only"),
    (["maps/bac_luan_ii", "--agv-params", "no/such/agv.yaml"], "AGV parameter file missing"),
])
def test_bad_input_is_refused_with_a_clear_message(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(build_app(), ["gazebo", "export", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "out" / "world.sdf").exists()


def test_exporting_fewer_agvs_again_leaves_no_stale_vehicle(toy_map_dir, tmp_path):
    """Only what the earlier export wrote is removed: a model the user put beside it stays (the export once cleared
    the whole models/ folder)."""
    from sim.gazebo.export import export_gazebo

    export_gazebo(toy_map_dir, tmp_path, count=2)
    own = tmp_path / "models" / "my_forklift" / "model.sdf"
    own.parent.mkdir()
    own.write_text("<sdf version='1.9'/>")
    result = export_gazebo(toy_map_dir, tmp_path, count=1)
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["agv", "agv_001", "my_forklift"]
    assert own.read_text() == "<sdf version='1.9'/>"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in result.removed) == [
        "models/agv_002/model.config", "models/agv_002/model.sdf"]
    assert [v["id"] for v in launch_config(tmp_path)["vehicles"]] == ["agv_001"]


def test_export_refuses_a_folder_of_other_files_and_touches_nothing(tmp_path):
    """`--out` onto a folder the export did not write (a Gazebo workspace with its own models/) deleted that
    models/ folder; onto a file it was a traceback. Both are refused, exit 2, nothing written or removed."""
    workspace = tmp_path / "workspace"
    own = workspace / "models" / "my_forklift" / "model.sdf"
    own.parent.mkdir(parents=True)
    own.write_text("<sdf version='1.9'/>")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    for out, said in ((workspace, "holds files that no `xborder gazebo export` wrote"),
                      (a_file, "a file, not a folder")):
        result = CliRunner().invoke(build_app(), ["gazebo", "export", str(REPO / "maps" / "bac_luan_ii"), "--out",
                                                  str(out)])
        assert result.exit_code == 2 and said in result.output, result.output
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "notes.txt", "workspace", "workspace/models", "workspace/models/my_forklift",
        "workspace/models/my_forklift/model.sdf"]
    assert a_file.read_text() == "mine" and own.read_text() == "<sdf version='1.9'/>"


def test_a_manifest_line_outside_the_export_folder_is_never_removed(toy_map_dir, tmp_path):
    from sim.gazebo.export import MANIFEST_FILE, export_gazebo

    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    out = tmp_path / "export"
    export_gazebo(toy_map_dir, out, count=1)
    with (out / MANIFEST_FILE).open("a", encoding="utf-8") as manifest:
        manifest.write(f"../precious.txt\n{outside}\n")
    export_gazebo(toy_map_dir, out, count=1)
    assert outside.read_text() == "keep"


LAUNCH_FILE = REPO / "launch" / "gazebo_corridor.launch.py"


def launch_file_facts() -> tuple[dict[str, object], set[str], set[str]]:
    """The launch file's module constants, the keys it reads from gazebo.yaml entries, the agent parameters it sets.

    (``launch`` and ``launch_ros`` are not installable here, so the file is read, not run.)
    """
    tree = ast.parse(LAUNCH_FILE.read_text())
    constants = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                 and isinstance(node.value, ast.Constant)}
    read_keys = {node.slice.value for node in ast.walk(tree) if isinstance(node, ast.Subscript)
                 and isinstance(node.value, ast.Name) and node.value.id in ("config", "vehicle")
                 and isinstance(node.slice, ast.Constant)}
    (agent_params,) = [node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                       and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "vehicle_params"]
    return constants, read_keys, {key.value for key in agent_params.keys}


def test_launch_file_compiles_and_reads_what_the_export_writes(export):
    import py_compile

    from sim.gazebo.export import LAUNCH_CONFIG_FILE

    py_compile.compile(str(LAUNCH_FILE), doraise=True)
    _, out = export
    constants, read_keys, _ = launch_file_facts()
    assert constants["LAUNCH_CONFIG_FILE"] == LAUNCH_CONFIG_FILE
    config = launch_config(out)
    written = set(config) | set().union(*(set(v) for v in config["vehicles"]))
    assert read_keys and read_keys <= written, read_keys - written


def test_launch_file_starts_the_agent_the_vehicle_package_installs():
    from importlib.metadata import distribution

    from agv_agent.agent_node import PARAMETERS

    constants, _, agent_parameters = launch_file_facts()
    scripts = {e.name for e in distribution(constants["AGENT_PACKAGE"]).entry_points if e.group == "console_scripts"}
    assert constants["AGENT_EXECUTABLE"] in scripts
    assert agent_parameters - {"use_sim_time"} <= set(PARAMETERS)


def test_gates_whose_ids_differ_only_in_letters_ros_names_lack_get_their_own_barrier(tmp_path):
    """Two gates named in Vietnamese, `vn_cổng_1` and `vn_cống_1`, both became `barrier_vn_c_ng_1` with one topic:
    a world with two models of one name, and a decision for one gate raising the other's barrier. Names a ROS name
    cannot hold are now made unique; ASCII ids keep their names."""
    from sim.gazebo.export import export_gazebo

    renamed = {"vn_gate_in_1": "vn_cổng_1", "vn_gate_in_2": "vn_cống_1"}
    folder = tmp_path / "map"
    shutil.copytree(REPO / "maps" / "bac_luan_ii", folder)
    text = (folder / "corridor.geojson").read_text(encoding="utf-8")
    for old, new in renamed.items():
        text = text.replace(f'"{old}"', f'"{new}"').replace(f'"{old}__', f'"{new}__').replace(f'__{old}"', f'__{new}"')
    (folder / "corridor.geojson").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    export_gazebo(folder, out, count=1)
    barriers = launch_config(out)["barriers"]
    assert len({b["model"] for b in barriers}) == len({b["ros_topic"] for b in barriers}) == len(barriers)
    names = [m.get("name") for m in ET.parse(out / "world.sdf").getroot().iter("model")]
    assert len(names) == len(set(names))
    assert "barrier_vn_gate_out_1" in names  # an ASCII id keeps its name
