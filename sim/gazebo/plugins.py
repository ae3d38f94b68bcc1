"""The Gazebo Harmonic (gz-sim 8) system plugins the export uses, and the set they must belong to.

``ign sdf -k`` checks SDF structure but not plugin names or parameters: tests check every ``<plugin>`` the
export writes against :data:`HARMONIC_SYSTEMS` (library filename -> C++ class), taken from gz-sim 8's
``src/systems`` (each system's ``GZ_ADD_PLUGIN_ALIAS`` and its CMake target ``gz-sim-<name>-system``), and
the parameters each one documents in its header (:data:`SYSTEM_PARAMETERS`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SystemPlugin:
    filename: str
    name: str


PHYSICS = SystemPlugin("gz-sim-physics-system", "gz::sim::systems::Physics")
USER_COMMANDS = SystemPlugin("gz-sim-user-commands-system", "gz::sim::systems::UserCommands")
SCENE_BROADCASTER = SystemPlugin("gz-sim-scene-broadcaster-system", "gz::sim::systems::SceneBroadcaster")
SENSORS = SystemPlugin("gz-sim-sensors-system", "gz::sim::systems::Sensors")
DIFF_DRIVE = SystemPlugin("gz-sim-diff-drive-system", "gz::sim::systems::DiffDrive")
ODOMETRY_PUBLISHER = SystemPlugin("gz-sim-odometry-publisher-system", "gz::sim::systems::OdometryPublisher")
JOINT_POSITION_CONTROLLER = SystemPlugin(
    "gz-sim-joint-position-controller-system", "gz::sim::systems::JointPositionController"
)

#: Gazebo Harmonic systems (a subset of gz-sim 8's, enough to check names against): filename -> class.
HARMONIC_SYSTEMS: dict[str, str] = {
    p.filename: p.name
    for p in (
        PHYSICS,
        USER_COMMANDS,
        SCENE_BROADCASTER,
        SENSORS,
        DIFF_DRIVE,
        ODOMETRY_PUBLISHER,
        JOINT_POSITION_CONTROLLER,
        SystemPlugin("gz-sim-joint-state-publisher-system", "gz::sim::systems::JointStatePublisher"),
        SystemPlugin("gz-sim-imu-system", "gz::sim::systems::Imu"),
        SystemPlugin("gz-sim-contact-system", "gz::sim::systems::Contact"),
        SystemPlugin("gz-sim-pose-publisher-system", "gz::sim::systems::PosePublisher"),
        SystemPlugin("gz-sim-joint-controller-system", "gz::sim::systems::JointController"),
        SystemPlugin("gz-sim-ackermann-steering-system", "gz::sim::systems::AckermannSteering"),
        SystemPlugin("gz-sim-navsat-system", "gz::sim::systems::NavSat"),
    )
}

#: Parameters each system reads from its ``<plugin>`` element (gz-sim 8), for the systems the export configures.
SYSTEM_PARAMETERS: dict[SystemPlugin, frozenset[str]] = {
    PHYSICS: frozenset({"engine", "dynamic_bodies"}),
    USER_COMMANDS: frozenset(),
    SCENE_BROADCASTER: frozenset({"dynamic_pose_hertz", "state_hertz"}),
    SENSORS: frozenset({"render_engine", "background_color", "ambient_light", "disable_on_drained_battery"}),
    DIFF_DRIVE: frozenset({
        "left_joint", "right_joint", "wheel_separation", "wheel_radius", "odom_publish_frequency",
        "max_linear_acceleration", "min_linear_acceleration", "max_angular_acceleration",
        "min_angular_acceleration", "max_linear_jerk", "min_linear_jerk", "max_angular_jerk", "min_angular_jerk",
        "max_linear_velocity", "min_linear_velocity", "max_angular_velocity", "min_angular_velocity",
        "min_velocity", "max_velocity", "min_acceleration", "max_acceleration", "min_jerk", "max_jerk",
        "topic", "odom_topic", "tf_topic", "frame_id", "child_frame_id",
    }),
    ODOMETRY_PUBLISHER: frozenset({
        "odom_frame", "robot_base_frame", "odom_publish_frequency", "odom_topic", "odom_covariance_topic",
        "tf_topic", "dimensions", "xyz_offset", "rpy_offset", "gaussian_noise",
    }),
    JOINT_POSITION_CONTROLLER: frozenset({
        "joint_name", "joint_index", "topic", "sub_topic", "p_gain", "i_gain", "d_gain", "i_max", "i_min",
        "cmd_max", "cmd_min", "cmd_offset", "use_velocity_commands", "initial_position", "use_actuator_msg",
        "actuatorNumber",
    }),
}
