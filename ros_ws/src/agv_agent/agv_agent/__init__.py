"""The xborder vehicle agent.

``protocol`` (plain dataclasses of the vehicle protocol), ``logic`` (the agent's decisions) and
``tracker`` (path following) import no ROS: the fast simulator runs them directly. ``convert`` maps
them to and from ``agv_interfaces`` messages; ``agent_node``, ``sim_base_node`` and ``vehicle_process``
are the thin rclpy wrappers.
"""

from pathlib import Path


def default_params_file() -> Path:
    """The shared AGV parameter file (config/agv.yaml): next to the sources, or in the installed share dir."""
    source = Path(__file__).resolve().parent.parent / "config" / "agv.yaml"
    if source.is_file():
        return source
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("agv_agent")) / "config" / "agv.yaml"
