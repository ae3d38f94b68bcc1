"""The corridor as an SDF world in the map's metric frame (x east, y north, metres; ENU at the map origin).

Contents: systems and light, a ground plane, road and bridge-deck strips (with collision) along every lane,
zone markings and the border line (visual only), a barrier model with a boom joint at every gate, and flat
markers on docks, chargers, parking, holding and inspection spots. AGVs are not part of the world: the
launch file spawns them from their own model files.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import shapely
from shapely.geometry import Point, Polygon
from shapely.ops import unary_union

from planner.corridor import Corridor, Node, NodeKind
from sim.gazebo import plugins
from sim.gazebo.agv_params import ros_name
from sim.gazebo.layout import Strip, line_strips, road_strips
from sim.gazebo.sdf import (
    Rgba,
    add_box_visual,
    add_inertial,
    add_material,
    add_plugin,
    box_inertia,
    number_text,
    pose_text,
    sdf_root,
    sub,
)
from sim.gazebo.topics import BARRIER_JOINT, barrier_gz_topic, barrier_ros_topic

ROAD_TOP = 0.02  # m: road surfaces stand this far above the ground plane
ROAD_THICKNESS = 0.1
ROAD_FRICTION = 0.9
GROUND_MARGIN = 200.0  # m of ground around the map's extent
BORDER_LINE_WIDTH = 0.6
MARKER_SIZE = {  # length along the lane x width, metres
    NodeKind.DOCK: (16.0, 5.0), NodeKind.CHARGER: (4.0, 4.0), NodeKind.PARKING: (15.5, 3.5),
    NodeKind.HOLDING: (16.0, 5.0), NodeKind.INSPECTION: (16.0, 5.0),
}
COLOURS: dict[str, Rgba] = {
    "ground": (0.36, 0.42, 0.3, 1.0), "road": (0.22, 0.22, 0.24, 1.0), "deck": (0.6, 0.6, 0.58, 1.0),
    "border": (0.9, 0.05, 0.05, 1.0), "post": (0.3, 0.3, 0.3, 1.0), "boom": (0.95, 0.1, 0.1, 1.0),
    NodeKind.DOCK: (0.1, 0.3, 0.9, 1.0), NodeKind.CHARGER: (0.1, 0.8, 0.2, 1.0),
    NodeKind.PARKING: (0.85, 0.85, 0.85, 1.0), NodeKind.HOLDING: (0.1, 0.7, 0.7, 1.0),
    NodeKind.INSPECTION: (0.55, 0.25, 0.8, 1.0),
}
#: Zone tint by the jurisdiction's position in ``corridor.jurisdictions`` (first side reddish, second sandy).
ZONE_TINTS: tuple[Rgba, Rgba] = ((0.85, 0.45, 0.45, 0.6), (0.9, 0.75, 0.45, 0.6))
BOOM_HEIGHT = 1.0  # m above the road: stops a vehicle's chassis
BOOM_OPEN = math.pi / 2  # rad: the boom's position when raised
DRIVABLE_PREFIXES = ("road_", "deck_")  # collision names of surfaces a vehicle may drive on


@dataclass(frozen=True)
class Barrier:
    """A gate's barrier model and the Gazebo topic its boom angle is commanded on."""

    gate: str
    model: str
    topic: str

    def ros_topic(self, fleet_namespace: str) -> str:
        return barrier_ros_topic(fleet_namespace, ros_name(self.gate))


def corridor_world(corridor: Corridor, world_name: str, road_width: float) -> tuple[ET.Element, list[Barrier]]:
    """The world document and the barriers it holds (their joint command topics)."""
    root = sdf_root()
    world = sub(root, "world", name=world_name)
    _systems_and_light(world, corridor)
    _ground(world, corridor)
    _roads(world, corridor, road_width)
    _zones(world, corridor)
    _border(world, corridor)
    _markers(world, corridor)
    barriers = [_barrier(world, corridor, gate, road_width)
                for gate in sorted(corridor.nodes_of(NodeKind.GATE), key=lambda n: n.id)]
    return root, barriers


def _static_model(world: ET.Element, name: str) -> ET.Element:
    model = sub(world, "model", name=name)
    sub(model, "static", "true")
    return sub(model, "link", name="link")


def _systems_and_light(world: ET.Element, corridor: Corridor) -> None:
    physics = sub(world, "physics", name="4ms", type="dart")
    sub(physics, "max_step_size", 0.004)
    sub(physics, "real_time_factor", 1.0)
    add_plugin(world, plugins.PHYSICS, {})
    add_plugin(world, plugins.USER_COMMANDS, {})
    add_plugin(world, plugins.SCENE_BROADCASTER, {})
    add_plugin(world, plugins.SENSORS, {"render_engine": "ogre2"})
    scene = sub(world, "scene")
    sub(scene, "ambient", "0.5 0.5 0.5 1")
    sub(scene, "background", "0.7 0.8 0.95 1")
    sub(scene, "shadows", "true")
    geo = sub(world, "spherical_coordinates")
    sub(geo, "surface_model", "EARTH_WGS84")
    sub(geo, "world_frame_orientation", "ENU")
    sub(geo, "latitude_deg", f"{corridor.origin.lat:.7f}")
    sub(geo, "longitude_deg", f"{corridor.origin.lon:.7f}")
    sub(geo, "elevation", 0.0)
    sub(geo, "heading_deg", 0.0)
    sun = sub(world, "light", name="sun", type="directional")
    sub(sun, "cast_shadows", "true")
    sub(sun, "pose", pose_text(z=500.0))
    sub(sun, "diffuse", "0.9 0.9 0.85 1")
    sub(sun, "specular", "0.2 0.2 0.2 1")
    sub(sun, "direction", "-0.4 0.2 -0.9")


def _extent(corridor: Corridor) -> tuple[float, float, float, float]:
    shapes = [z.polygon for z in corridor.zones.values()] + [lane.geometry for lane in corridor.lanes.values()]
    return unary_union(shapes).bounds


def _ground(world: ET.Element, corridor: Corridor) -> None:
    min_x, min_y, max_x, max_y = _extent(corridor)
    centre = pose_text((min_x + max_x) / 2, (min_y + max_y) / 2)
    size = f"{number_text(max_x - min_x + 2 * GROUND_MARGIN)} {number_text(max_y - min_y + 2 * GROUND_MARGIN)}"
    link = _static_model(world, "ground")
    for tag in ("collision", "visual"):
        element = sub(link, tag, name=f"ground_{tag}")
        sub(element, "pose", centre)
        plane = sub(sub(element, "geometry"), "plane")
        sub(plane, "normal", "0 0 1")
        sub(plane, "size", size)
        if tag == "visual":
            add_material(element, COLOURS["ground"])


def _strip_pose(strip: Strip, z: float) -> str:
    return pose_text(strip.x, strip.y, z, yaw=strip.yaw)


def _roads(world: ET.Element, corridor: Corridor, road_width: float) -> None:
    """Road strips along every lane; a strip whose centre lies in a bridge zone is bridge deck."""
    bridge = unary_union([z.polygon for z in corridor.zones.values() if z.kind == "bridge"])
    link = _static_model(world, "roads")
    for strip in road_strips(corridor, road_width):
        on_bridge = not bridge.is_empty and bridge.contains(Point(strip.x, strip.y))
        kind = "deck" if on_bridge else "road"
        add_box_visual(link, f"{kind}_{strip.name}", _strip_pose(strip, ROAD_TOP - ROAD_THICKNESS / 2),
                       (strip.length, strip.width, ROAD_THICKNESS), COLOURS[kind], collide=True,
                       friction=ROAD_FRICTION)


def _zones(world: ET.Element, corridor: Corridor) -> None:
    """Each zone as a thin tinted slab under the roads; later zones a hair higher so overlaps do not flicker."""
    link = _static_model(world, "zones")
    for index, zone in enumerate(sorted(corridor.zones.values(), key=lambda z: z.id)):
        tint = ZONE_TINTS[corridor.jurisdictions.index(zone.jurisdiction) % 2]
        visual = sub(link, "visual", name=f"zone_{ros_name(zone.id)}")
        sub(visual, "pose", pose_text(z=0.001 * (index + 1)))
        polyline = sub(sub(visual, "geometry"), "polyline")
        for x, y in _ring(zone.polygon):
            sub(polyline, "point", f"{number_text(x)} {number_text(y)}")
        sub(polyline, "height", 0.001)
        add_material(visual, tint)


def _ring(polygon: Polygon) -> list[tuple[float, float]]:
    """The outer ring without its closing point (SDF polylines close themselves)."""
    return list(polygon.exterior.coords)[:-1]


def _border(world: ET.Element, corridor: Corridor) -> None:
    link = _static_model(world, "border_line")
    lines = [part for part in shapely.get_parts(shapely.line_merge(corridor.border_line))
             if part.geom_type == "LineString"]
    for index, line in enumerate(lines):
        for strip in line_strips(f"border_{index}", line, BORDER_LINE_WIDTH, overhang=0.0):
            add_box_visual(link, strip.name, _strip_pose(strip, ROAD_TOP + 0.005),
                           (strip.length, strip.width, 0.01), COLOURS["border"])


def _markers(world: ET.Element, corridor: Corridor) -> None:
    link = _static_model(world, "markers")
    for kind, (length, width) in MARKER_SIZE.items():
        for node in sorted(corridor.nodes_of(kind), key=lambda n: n.id):
            pose = pose_text(node.x, node.y, ROAD_TOP + 0.003, yaw=corridor.heading_into(node.id))
            add_box_visual(link, f"{kind}_{ros_name(node.id)}", pose, (length, width, 0.006), COLOURS[kind])


def _barrier(world: ET.Element, corridor: Corridor, gate: Node, road_width: float) -> Barrier:
    """A post on the right of the road and a boom across it, hinged about the direction of travel.

    Boom position 0 is closed (level across the road); :data:`BOOM_OPEN` is raised.
    """
    name = f"barrier_{ros_name(gate.id)}"
    heading = corridor.heading_into(gate.id)
    side = road_width / 2 + 0.5  # post stands this far right of the lane's centre line
    model = sub(world, "model", name=name)
    sub(model, "pose", pose_text(gate.x + side * math.sin(heading), gate.y - side * math.cos(heading),
                                 ROAD_TOP, yaw=heading))
    post = sub(model, "link", name="post")
    _solid_box(post, "post", (0.4, 0.4, BOOM_HEIGHT + 0.2), pose_text(z=(BOOM_HEIGHT + 0.2) / 2), 80.0,
               COLOURS["post"])
    anchor = sub(model, "joint", name="anchor", type="fixed")
    sub(anchor, "parent", "world")
    sub(anchor, "child", "post")
    boom_length = road_width + 1.0
    boom = sub(model, "link", name="boom")
    sub(boom, "pose", pose_text(z=BOOM_HEIGHT))
    _solid_box(boom, "boom", (0.15, boom_length, 0.15), pose_text(y=boom_length / 2), 25.0, COLOURS["boom"])
    hinge = sub(model, "joint", name=BARRIER_JOINT, type="revolute")
    sub(hinge, "parent", "post")
    sub(hinge, "child", "boom")
    axis = sub(hinge, "axis")
    sub(axis, "xyz", "1 0 0")
    limit = sub(axis, "limit")
    sub(limit, "lower", 0.0)
    sub(limit, "upper", BOOM_OPEN)
    topic = barrier_gz_topic(name)
    add_plugin(model, plugins.JOINT_POSITION_CONTROLLER, {
        # velocity mode moves the boom straight to the target; cmd_max is then its top speed (rad/s)
        "joint_name": BARRIER_JOINT, "topic": topic, "use_velocity_commands": "true", "cmd_max": 0.8,
        "cmd_min": -0.8, "initial_position": 0.0,
    })
    return Barrier(gate.id, name, topic)


def _solid_box(link: ET.Element, name: str, size: tuple[float, float, float], pose: str, mass: float,
               rgba: Rgba) -> None:
    add_inertial(link, mass, box_inertia(mass, *size), pose)
    add_box_visual(link, name, pose, size, rgba, collide=True)
