"""How the fleet reaches its vehicles: the :class:`VehicleLink` interface and its ROS 2 implementation.

The protocol's plain types live in ``agv_agent.protocol`` (shared with the vehicles); no ROS message
type leaves ``ros_bridge``.
"""

from fleet.vehicles.link import VehicleLink

__all__ = ["VehicleLink"]
