"""The container AGV as an SDF model: chassis, two drive wheels, four casters, a front lidar.

Size, mass and drive limits come from :class:`~sim.gazebo.agv_params.AgvParams` (the shared ``agv.yaml``).
The drive wheels sit mid-length so the vehicle turns on the spot like the diff-drive ``sim_base``;
casters at the corners carry the rest of the load and have no friction.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from sim.gazebo import plugins
from sim.gazebo.agv_params import AgvParams
from sim.gazebo.sdf import (
    add_friction,
    add_inertial,
    add_material,
    add_plugin,
    box_inertia,
    number_text,
    pose_text,
    sdf_root,
    sub,
)
from sim.gazebo.topics import CMD_VEL, ODOM, SCAN, WHEEL_ODOM, gz_vehicle_topic

CHASSIS_HEIGHT = 0.8  # m, the load deck's structure
WHEEL_WIDTH = 0.45  # m
WHEEL_MASS = 350.0  # kg each, a solid industrial tyre on its hub
TYRE_FRICTION = 0.9  # rubber on dry asphalt
LIDAR_HEIGHT = 1.8  # m above ground, above a container's lower edge
LIDAR = {"samples": 541, "fov": math.radians(270.0), "min_range": 0.5, "max_range": 60.0, "rate_hz": 10.0}
ODOM_RATE_HZ = 20.0
YELLOW = (0.95, 0.75, 0.1, 1.0)
DARK_GREY = (0.15, 0.15, 0.15, 1.0)
MAP_FRAME = "map"


def agv_model(params: AgvParams, vehicle_id: str) -> ET.Element:
    """The ``<sdf>`` document of one AGV; its topics are scoped to the model name ``vehicle_id``."""
    root = sdf_root()
    model = sub(root, "model", name=vehicle_id)
    _chassis(model, params)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        _drive_wheel(model, params, side, sign)
    _lidar(model, params, vehicle_id)
    _drive_plugins(model, params, vehicle_id)
    return root


def chassis_z(params: AgvParams) -> float:
    """Height of the chassis centre: its underside at the wheel axles."""
    return params.wheel_radius + CHASSIS_HEIGHT / 2


def caster_positions(params: AgvParams) -> list[tuple[float, float]]:
    x = params.vehicle_length / 2 - params.wheel_radius - 0.3
    y = params.wheel_separation / 2
    return [(sx * x, sy * y) for sx in (1, -1) for sy in (1, -1)]


def _chassis(model: ET.Element, params: AgvParams) -> None:
    length, width = params.vehicle_length, params.vehicle_width
    link = sub(model, "link", name="base_link")
    sub(link, "pose", pose_text(z=chassis_z(params)))
    chassis_mass = params.vehicle_mass - 2 * WHEEL_MASS
    add_inertial(link, chassis_mass, box_inertia(chassis_mass, length, width, CHASSIS_HEIGHT))
    size = f"{number_text(length)} {number_text(width)} {number_text(CHASSIS_HEIGHT)}"
    for element_tag in ("collision", "visual"):
        element = sub(link, element_tag, name=f"chassis_{element_tag}")
        sub(sub(sub(element, "geometry"), "box"), "size", size)
        if element_tag == "visual":
            add_material(element, YELLOW)
    for index, (x, y) in enumerate(caster_positions(params)):
        caster = sub(link, "collision", name=f"caster_{index}")
        sub(caster, "pose", pose_text(x, y, -CHASSIS_HEIGHT / 2))
        sub(sub(sub(caster, "geometry"), "sphere"), "radius", params.wheel_radius)
        add_friction(caster, 0.0)


def _drive_wheel(model: ET.Element, params: AgvParams, side: str, sign: float) -> None:
    link = sub(model, "link", name=f"{side}_wheel")
    sub(link, "pose", pose_text(y=sign * params.wheel_separation / 2, z=params.wheel_radius, roll=-math.pi / 2))
    r = params.wheel_radius
    axial = WHEEL_MASS * r * r / 2
    radial = WHEEL_MASS * (3 * r * r + WHEEL_WIDTH**2) / 12
    add_inertial(link, WHEEL_MASS, (radial, radial, axial))
    for element_tag in ("collision", "visual"):
        element = sub(link, element_tag, name=f"{side}_wheel_{element_tag}")
        cylinder = sub(sub(element, "geometry"), "cylinder")
        sub(cylinder, "radius", r)
        sub(cylinder, "length", WHEEL_WIDTH)
        if element_tag == "visual":
            add_material(element, DARK_GREY)
        else:
            add_friction(element, TYRE_FRICTION)
    joint = sub(model, "joint", name=f"{side}_wheel_joint", type="revolute")
    sub(joint, "parent", "base_link")
    sub(joint, "child", f"{side}_wheel")
    axis = sub(joint, "axis")
    sub(axis, "xyz", "0 0 1")
    limit = sub(axis, "limit")
    sub(limit, "lower", "-1e16")
    sub(limit, "upper", "1e16")


def _lidar(model: ET.Element, params: AgvParams, vehicle_id: str) -> None:
    link = sub(model, "link", name="lidar_link")
    x = params.vehicle_length / 2 - 0.3
    sub(link, "pose", pose_text(x=x, z=LIDAR_HEIGHT))
    add_inertial(link, 2.0, (0.01, 0.01, 0.01))
    visual = sub(link, "visual", name="lidar_visual")
    cylinder = sub(sub(visual, "geometry"), "cylinder")
    sub(cylinder, "radius", 0.1)
    sub(cylinder, "length", 0.15)
    add_material(visual, DARK_GREY)
    sensor = sub(link, "sensor", name="front_lidar", type="gpu_lidar")
    sub(sensor, "topic", gz_vehicle_topic(vehicle_id, SCAN))
    sub(sensor, "update_rate", LIDAR["rate_hz"])
    sub(sensor, "always_on", "true")
    sub(sensor, "visualize", "true")
    lidar = sub(sensor, "lidar")
    horizontal = sub(sub(lidar, "scan"), "horizontal")
    sub(horizontal, "samples", int(LIDAR["samples"]))
    sub(horizontal, "resolution", 1)
    sub(horizontal, "min_angle", -LIDAR["fov"] / 2)
    sub(horizontal, "max_angle", LIDAR["fov"] / 2)
    lidar_range = sub(lidar, "range")
    sub(lidar_range, "min", LIDAR["min_range"])
    sub(lidar_range, "max", LIDAR["max_range"])
    sub(lidar_range, "resolution", 0.01)
    mount = sub(model, "joint", name="lidar_joint", type="fixed")
    sub(mount, "parent", "base_link")
    sub(mount, "child", "lidar_link")


def _drive_plugins(model: ET.Element, params: AgvParams, vehicle_id: str) -> None:
    add_plugin(model, plugins.DIFF_DRIVE, diff_drive_parameters(params, vehicle_id))
    add_plugin(model, plugins.ODOMETRY_PUBLISHER, {
        "odom_frame": MAP_FRAME,
        "robot_base_frame": f"{vehicle_id}/base_link",
        "odom_publish_frequency": ODOM_RATE_HZ,
        "odom_topic": gz_vehicle_topic(vehicle_id, ODOM),
        "tf_topic": f"/model/{vehicle_id}/odom_tf",
        "dimensions": 2,
    })


def diff_drive_parameters(params: AgvParams, vehicle_id: str) -> dict[str, object]:
    """DiffDrive's settings, every limit taken from the shared AGV parameters."""
    return {
        "left_joint": "left_wheel_joint",
        "right_joint": "right_wheel_joint",
        "wheel_separation": params.wheel_separation,
        "wheel_radius": params.wheel_radius,
        "max_linear_velocity": params.max_linear_speed,
        "min_linear_velocity": -params.max_linear_speed,
        "max_angular_velocity": params.max_angular_speed,
        "min_angular_velocity": -params.max_angular_speed,
        "max_linear_acceleration": params.max_linear_accel,
        "min_linear_acceleration": -params.max_linear_decel,
        "max_angular_acceleration": params.max_angular_accel,
        "min_angular_acceleration": -params.max_angular_accel,
        "topic": gz_vehicle_topic(vehicle_id, CMD_VEL),
        "odom_topic": gz_vehicle_topic(vehicle_id, WHEEL_ODOM),
        "tf_topic": f"/model/{vehicle_id}/wheel_odom_tf",
        "frame_id": f"{vehicle_id}/odom",
        "child_frame_id": f"{vehicle_id}/base_link",
        "odom_publish_frequency": ODOM_RATE_HZ,
    }
