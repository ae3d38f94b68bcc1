"""Process entry points: spin one or more nodes until Ctrl-C or SIGTERM, then shut down cleanly.

``agv_vehicle`` runs an agent and its simulated base in one process (they still talk over the
``cmd_vel``/``odom`` topics), which is how ``xborder agents`` starts a simulated fleet.
"""

from __future__ import annotations

import signal
from typing import Any

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions


def declare_read_only(node: Node, defaults: dict[str, Any]) -> dict[str, Any]:
    """Declare ``defaults`` as read-only parameters (set at start from YAML / ``-p``, refused afterwards,
    because the node reads them once) and return their values."""
    read_only = ParameterDescriptor(read_only=True)
    return {name: node.declare_parameter(name, default, read_only).value for name, default in defaults.items()}


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def spin_nodes(args: list[str] | None, node_types: list[type]) -> None:
    """Spin ``node_types`` until SIGINT/SIGTERM, then call each node's ``stop()`` (if it has one) while the
    context still works, so that a leaving agent can stop its base and tell the fleet OFFLINE.

    rclpy's own signal handlers would shut the context down first, and nothing could be sent any more.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    nodes = [node_type() for node_type in node_types]
    executor = SingleThreadedExecutor()
    for node in nodes:
        executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for node in nodes:
            stop = getattr(node, "stop", None)
            if stop is not None:
                stop()
            node.destroy_node()
        rclpy.try_shutdown()


def main(args: list[str] | None = None) -> None:
    from agv_agent.agent_node import AgentNode
    from agv_agent.sim_base_node import SimBaseNode

    spin_nodes(args, [SimBaseNode, AgentNode])
