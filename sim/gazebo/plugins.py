"""The Gazebo Harmonic (gz-sim 8) system plugins the export uses, and the set it may choose from.

Gazebo loads a system by its shared-library ``filename`` and class ``name``; a typo is silently a
missing system at run time, so tests check every plugin in the generated SDF against this set.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class System:
    filename: str
    name: str


PHYSICS = System("gz-sim-physics-system", "gz::sim::systems::Physics")
USER_COMMANDS = System("gz-sim-user-commands-system", "gz::sim::systems::UserCommands")
SCENE_BROADCASTER = System("gz-sim-scene-broadcaster-system", "gz::sim::systems::SceneBroadcaster")
SENSORS = System("gz-sim-sensors-system", "gz::sim::systems::Sensors")
DIFF_DRIVE = System("gz-sim-diff-drive-system", "gz::sim::systems::DiffDrive")
ODOMETRY_PUBLISHER = System("gz-sim-odometry-publisher-system", "gz::sim::systems::OdometryPublisher")
JOINT_POSITION_CONTROLLER = System("gz-sim-joint-position-controller-system",
                                   "gz::sim::systems::JointPositionController")
JOINT_STATE_PUBLISHER = System("gz-sim-joint-state-publisher-system", "gz::sim::systems::JointStatePublisher")

#: System plugins shipped with Gazebo Harmonic (gz-sim 8) that this project may use.
HARMONIC_SYSTEMS = frozenset({
    PHYSICS, USER_COMMANDS, SCENE_BROADCASTER, SENSORS, DIFF_DRIVE, ODOMETRY_PUBLISHER, JOINT_POSITION_CONTROLLER,
    JOINT_STATE_PUBLISHER,
    System("gz-sim-imu-system", "gz::sim::systems::Imu"),
    System("gz-sim-contact-system", "gz::sim::systems::Contact"),
    System("gz-sim-pose-publisher-system", "gz::sim::systems::PosePublisher"),
    System("gz-sim-velocity-control-system", "gz::sim::systems::VelocityControl"),
    System("gz-sim-navsat-system", "gz::sim::systems::NavSat"),
})
