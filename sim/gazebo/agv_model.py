"""The container AGV as an SDF model, every dimension and limit taken from the shared agv.yaml."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import yaml

from sim.gazebo import plugins
from sim.gazebo.sdf import HALF_PI, box_geometry, box_inertia, cylinder_inertia, material, plugin, pose, sub

CHASSIS_HEIGHT = 1.1  # m, deck height of a container AGV
WHEEL_WIDTH = 0.4
LIDAR_HEIGHT = 0.6


@dataclass(frozen=True)
class AgvParams:
    """The keys of ``ros_ws/src/agv_agent/config/agv.yaml`` the model needs."""

    fleet_namespace: str
    vehicle_length: float
    vehicle_width: float
    vehicle_mass: float
    wheel_separation: float
    wheel_radius: float
    max_linear_speed: float
    max_angular_speed: float
    max_linear_accel: float
    max_linear_decel: float
    max_angular_accel: float

    @classmethod
    def from_file(cls, path: Path) -> AgvParams:
        params = yaml.safe_load(path.read_text())["/**"]["ros__parameters"]
        return cls(**{name: params[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class AgvTopics:
    """Gazebo transport topics of one vehicle; the ROS side uses the same names (see bridge_config)."""

    cmd_vel: str
    odom: str
    ground_truth: str
    scan: str

    @classmethod
    def for_vehicle(cls, fleet_namespace: str, vehicle_id: str | None) -> AgvTopics:
        prefix = f"/{fleet_namespace}/{vehicle_id}/" if vehicle_id else ""
        return cls(f"{prefix}cmd_vel", f"{prefix}odom", f"{prefix}ground_truth", f"{prefix}scan")


def agv_model(params: AgvParams, name: str, topics: AgvTopics) -> ET.Element:
    """A chassis on two driven wheels and two casters, DiffDrive on cmd_vel/odom, odometry, a lidar."""
    model = ET.Element("model", name=name)
    length, width = params.vehicle_length, params.vehicle_width
    r = params.wheel_radius
    chassis = sub(model, "link", name="base_link")
    size = (length, width, CHASSIS_HEIGHT - r)
    z = r + size[2] / 2
    box_inertia(chassis, params.vehicle_mass * 0.9, size, z)
    for kind in ("collision", "visual"):
        element = sub(chassis, kind, name=f"chassis_{kind}")
        pose(element, z=z)
        box_geometry(element, size)
        if kind == "visual":
            material(element, (0.95, 0.75, 0.1, 1.0))
    for side, sign in (("left", 1), ("right", -1)):
        wheel = sub(model, "link", name=f"{side}_wheel")
        pose(wheel, y=sign * params.wheel_separation / 2, z=r, roll=-HALF_PI)
        cylinder_inertia(wheel, params.vehicle_mass * 0.03, r, WHEEL_WIDTH)
        for kind in ("collision", "visual"):
            cylinder = sub(sub(sub(wheel, kind, name=f"{side}_wheel_{kind}"), "geometry"), "cylinder")
            sub(cylinder, "radius", r)
            sub(cylinder, "length", WHEEL_WIDTH)
        joint = sub(model, "joint", name=f"{side}_wheel_joint", type="revolute")
        sub(joint, "parent", "base_link")
        sub(joint, "child", f"{side}_wheel")
        sub(sub(joint, "axis"), "xyz", (0, 0, 1))
    for end, sign in (("front", 1), ("rear", -1)):
        caster = sub(model, "link", name=f"{end}_caster")
        pose(caster, x=sign * (length / 2 - r), z=r / 2)
        box_inertia(caster, params.vehicle_mass * 0.02, (r, r, r))
        collision = sub(caster, "collision", name=f"{end}_caster_collision")
        sub(sub(sub(collision, "geometry"), "sphere"), "radius", r / 2)
        friction = sub(sub(sub(collision, "surface"), "friction"), "ode")
        sub(friction, "mu", 0.0)
        sub(friction, "mu2", 0.0)
        joint = sub(model, "joint", name=f"{end}_caster_joint", type="fixed")
        sub(joint, "parent", "base_link")
        sub(joint, "child", f"{end}_caster")
    _lidar(model, params, topics)
    plugin(model, plugins.DIFF_DRIVE, left_joint="left_wheel_joint", right_joint="right_wheel_joint",
           wheel_separation=params.wheel_separation, wheel_radius=params.wheel_radius,
           max_linear_velocity=params.max_linear_speed, min_linear_velocity=-params.max_linear_speed,
           max_angular_velocity=params.max_angular_speed, min_angular_velocity=-params.max_angular_speed,
           max_linear_acceleration=params.max_linear_accel, min_linear_acceleration=-params.max_linear_decel,
           max_angular_acceleration=params.max_angular_accel,
           min_angular_acceleration=-params.max_angular_accel,
           topic=topics.cmd_vel, odom_topic=topics.odom, frame_id="odom", child_frame_id=f"{name}/base_link",
           odom_publish_frequency=50)
    plugin(model, plugins.ODOMETRY_PUBLISHER, odom_topic=topics.ground_truth, odom_frame="map",
           robot_base_frame=f"{name}/base_link", odom_publish_frequency=20, dimensions=2)
    return model


def _lidar(model: ET.Element, params: AgvParams, topics: AgvTopics) -> None:
    link = sub(model, "link", name="lidar_link")
    pose(link, x=params.vehicle_length / 2 - 0.3, z=params.wheel_radius + LIDAR_HEIGHT + CHASSIS_HEIGHT / 2)
    box_inertia(link, 1.0, (0.1, 0.1, 0.1))
    sensor = sub(link, "sensor", name="lidar", type="gpu_lidar")
    sub(sensor, "topic", topics.scan)
    sub(sensor, "update_rate", 10)
    sub(sensor, "always_on", True)
    lidar = sub(sensor, "lidar")
    horizontal = sub(sub(lidar, "scan"), "horizontal")
    for tag, value in (("samples", 360), ("resolution", 1.0), ("min_angle", -2.35619), ("max_angle", 2.35619)):
        sub(horizontal, tag, value)
    ranges = sub(lidar, "range")
    for tag, value in (("min", 0.3), ("max", 60.0), ("resolution", 0.01)):
        sub(ranges, tag, value)
    joint = sub(model, "joint", name="lidar_joint", type="fixed")
    sub(joint, "parent", "base_link")
    sub(joint, "child", "lidar_link")
