"""The corridor as an SDF world, in the map's metric frame (x east, y north): ground, a drivable surface
along every lane, zone markings by jurisdiction, the border line, gate barriers the fleet can open and
close, dock and charger markers, light, and AGVs at parking spots."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET

from shapely.geometry import LineString, box
from shapely.ops import unary_union

from planner.corridor import BORDER_LINE_KINDS, Corridor, NodeKind
from sim.gazebo import plugins
from sim.gazebo.agv_model import AgvParams, AgvTopics, agv_model
from sim.gazebo.sdf import box_geometry, box_inertia, material, plugin, pose, sub
from sim.ros_fleet import VehicleSpec

LANE_SURFACE_WIDTH = 4.0  # m: an AGV is 3 m wide
SURFACE_THICKNESS = 0.05
SIDE_COLOURS = ((0.85, 0.35, 0.3, 1.0), (0.95, 0.75, 0.35, 1.0))
MARKERS = {NodeKind.DOCK: (0.1, 0.3, 0.9, 1.0), NodeKind.CHARGER: (0.1, 0.75, 0.2, 1.0)}
BARRIER_LENGTH = 5.0


def gate_command_topic(fleet_namespace: str, gate_id: str) -> str:
    """Where the barrier's target angle (rad: 0 closed, pi/2 open) is commanded."""
    return f"/{fleet_namespace}/gates/{gate_id}/cmd"


def lane_surfaces(corridor: Corridor) -> list[tuple[str, LineString]]:
    """One drivable strip per physical lane: a bidirectional lane's two directions share one."""
    seen: dict[str, LineString] = {}
    for lane in corridor.lanes.values():
        seen.setdefault(lane.feature_id, lane.geometry)
    return sorted(seen.items())


def surface_footprints(corridor: Corridor):
    """The drivable area the world covers, as shapely geometry (for checking lane coverage)."""
    strips = []
    for _, line in lane_surfaces(corridor):
        for (x0, y0), (x1, y1) in zip(line.coords, line.coords[1:], strict=False):
            segment = LineString([(x0, y0), (x1, y1)])
            strips.append(segment.buffer(LANE_SURFACE_WIDTH / 2, cap_style="flat"))
    return unary_union(strips)


def corridor_world(corridor: Corridor, name: str, agv: AgvParams, vehicles: list[VehicleSpec]) -> ET.Element:
    world = ET.Element("world", name=name)
    physics = sub(world, "physics", name="default", type="ode")
    sub(physics, "max_step_size", 0.004)
    sub(physics, "real_time_factor", 1.0)
    plugin(world, plugins.PHYSICS)
    plugin(world, plugins.USER_COMMANDS)
    plugin(world, plugins.SCENE_BROADCASTER)
    plugin(world, plugins.SENSORS, render_engine="ogre2")
    sub(world, "gravity", (0, 0, -9.8))
    scene = sub(world, "scene")
    sub(scene, "ambient", (0.6, 0.6, 0.6, 1))
    sub(scene, "background", (0.7, 0.8, 0.95, 1))
    light = sub(world, "light", name="sun", type="directional")
    sub(light, "cast_shadows", True)
    pose(light, z=500)
    sub(light, "diffuse", (0.9, 0.9, 0.85, 1))
    sub(light, "specular", (0.2, 0.2, 0.2, 1))
    sub(light, "direction", (-0.4, 0.3, -0.9))
    _ground(world, corridor)
    _zones(world, corridor)
    _roads(world, corridor)
    _border(world, corridor)
    for gate in corridor.nodes_of(NodeKind.GATE):
        world.append(_barrier(corridor, gate.id, agv.fleet_namespace))
    _markers(world, corridor)
    for v in vehicles:
        model = agv_model(agv, v.vehicle_id, AgvTopics.for_vehicle(agv.fleet_namespace, v.vehicle_id))
        pose(model, v.x, v.y, 0.0, v.theta)
        model.insert(0, model[-1])  # pose first, for readability
        del model[-1]
        world.append(model)
    return world


def _static_model(world: ET.Element, name: str) -> ET.Element:
    model = sub(world, "model", name=name)
    sub(model, "static", True)
    return model


def _ground(world: ET.Element, corridor: Corridor) -> None:
    x0, y0, x1, y1 = unary_union([z.polygon for z in corridor.zones.values()]).bounds
    model = _static_model(world, "ground")
    link = sub(model, "link", name="ground")
    size = (x1 - x0 + 400, y1 - y0 + 400)
    for kind in ("collision", "visual"):
        element = sub(link, kind, name=f"ground_{kind}")
        pose(element, (x0 + x1) / 2, (y0 + y1) / 2)
        plane = sub(sub(element, "geometry"), "plane")
        sub(plane, "normal", (0, 0, 1))
        sub(plane, "size", size)
        if kind == "visual":
            material(element, (0.35, 0.5, 0.3, 1))


def _zones(world: ET.Element, corridor: Corridor) -> None:
    colour = dict(zip(corridor.jurisdictions, SIDE_COLOURS, strict=True))
    model = _static_model(world, "zones")
    for zone in corridor.zones.values():
        link = sub(model, "link", name=f"zone_{zone.id}")
        visual = sub(link, "visual", name="marking")
        pose(visual, z=0.005)
        polyline = sub(sub(visual, "geometry"), "polyline")
        for x, y in list(zone.polygon.exterior.coords)[:-1]:
            sub(polyline, "point", (x, y))
        sub(polyline, "height", 0.01)
        r, g, b, _ = colour[zone.jurisdiction]
        material(visual, (r, g, b, 0.5))


def _roads(world: ET.Element, corridor: Corridor) -> None:
    model = _static_model(world, "lanes")
    bridge = unary_union([z.polygon for z in corridor.zones.values() if z.kind == "bridge"])
    for lane_id, line in lane_surfaces(corridor):
        coords = list(line.coords)
        for k, ((x0, y0), (x1, y1)) in enumerate(itertools.pairwise(coords)):
            length = math.hypot(x1 - x0, y1 - y0)
            link = sub(model, "link", name=f"lane_{lane_id}_{k}")
            on_bridge = bridge.contains(LineString([(x0, y0), (x1, y1)]).centroid) if not bridge.is_empty else False
            for kind in ("collision", "visual"):
                element = sub(link, kind, name=kind)
                pose(element, (x0 + x1) / 2, (y0 + y1) / 2, SURFACE_THICKNESS / 2, math.atan2(y1 - y0, x1 - x0))
                box_geometry(element, (length, LANE_SURFACE_WIDTH, SURFACE_THICKNESS))
                if kind == "visual":
                    material(element, (0.55, 0.55, 0.58, 1) if on_bridge else (0.25, 0.25, 0.27, 1))


def _border(world: ET.Element, corridor: Corridor) -> None:
    model = _static_model(world, "border_line")
    lines = getattr(corridor.border_line, "geoms", [corridor.border_line])
    for k, line in enumerate(lines):
        (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
        link = sub(model, "link", name=f"border_{k}")
        visual = sub(link, "visual", name="line")
        pose(visual, (x0 + x1) / 2, (y0 + y1) / 2, SURFACE_THICKNESS + 0.01, math.atan2(y1 - y0, x1 - x0))
        box_geometry(visual, (math.hypot(x1 - x0, y1 - y0), 0.6, 0.02))
        material(visual, (0.9, 0.05, 0.05, 1))


def _barrier(corridor: Corridor, gate_id: str, fleet_namespace: str) -> ET.Element:
    """A gate barrier: a post fixed to the world and an arm on a revolute joint (0 closed, pi/2 open),
    moved by a JointPositionController listening on :func:`gate_command_topic`."""
    node = corridor.nodes[gate_id]
    heading = corridor.heading_into(gate_id)
    model = ET.Element("model", name=f"barrier_{gate_id}")
    side = heading + math.pi / 2  # the post stands beside the lane, the arm spans it
    pose(model, node.x + math.cos(side) * LANE_SURFACE_WIDTH / 2, node.y + math.sin(side) * LANE_SURFACE_WIDTH / 2,
         0.0, heading - math.pi / 2)
    post = sub(model, "link", name="post")
    box_inertia(post, 50.0, (0.3, 0.3, 1.2), 0.6)
    visual = sub(post, "visual", name="post")
    pose(visual, z=0.6)
    box_geometry(visual, (0.3, 0.3, 1.2))
    material(visual, (0.2, 0.2, 0.2, 1))
    arm = sub(model, "link", name="arm")
    pose(arm, z=1.1)
    box_inertia(arm, 8.0, (BARRIER_LENGTH, 0.12, 0.12), 0.0)
    for kind in ("visual", "collision"):
        element = sub(arm, kind, name=kind)
        pose(element, x=BARRIER_LENGTH / 2)
        box_geometry(element, (BARRIER_LENGTH, 0.12, 0.12))
        if kind == "visual":
            material(element, (0.9, 0.1, 0.1, 1))
    fixed = sub(model, "joint", name="post_to_world", type="fixed")
    sub(fixed, "parent", "world")
    sub(fixed, "child", "post")
    hinge = sub(model, "joint", name="arm_hinge", type="revolute")
    sub(hinge, "parent", "post")
    sub(hinge, "child", "arm")
    axis = sub(hinge, "axis")
    sub(axis, "xyz", (0, -1, 0))
    limit = sub(axis, "limit")
    sub(limit, "lower", 0.0)
    sub(limit, "upper", math.pi / 2)
    plugin(model, plugins.JOINT_POSITION_CONTROLLER, joint_name="arm_hinge",
           topic=gate_command_topic(fleet_namespace, gate_id), p_gain=200.0, i_gain=0.0, d_gain=20.0)
    plugin(model, plugins.JOINT_STATE_PUBLISHER)
    return model


def _markers(world: ET.Element, corridor: Corridor) -> None:
    model = _static_model(world, "markers")
    for node in corridor.nodes.values():
        rgba = MARKERS.get(node.kind)
        if rgba is None and node.kind not in BORDER_LINE_KINDS:
            continue
        link = sub(model, "link", name=f"marker_{node.id}")
        visual = sub(link, "visual", name="marker")
        pose(visual, node.x, node.y, SURFACE_THICKNESS + 0.01)
        cylinder = sub(sub(visual, "geometry"), "cylinder")
        sub(cylinder, "radius", 1.2)
        sub(cylinder, "length", 0.02)
        material(visual, rgba or (0.9, 0.1, 0.6, 1))


def covers_every_lane(corridor: Corridor) -> list[str]:
    """Lanes (feature ids) not fully on a drivable surface; empty when every lane is covered."""
    area = surface_footprints(corridor).buffer(0.01)
    bounds = box(*area.bounds)
    return [lane_id for lane_id, line in lane_surfaces(corridor)
            if not bounds.contains(line) or line.difference(area).length > 0.01]
