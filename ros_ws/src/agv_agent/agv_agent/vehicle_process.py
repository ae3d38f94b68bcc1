"""Process entry points: spin one or more nodes until Ctrl-C or SIGTERM, then shut down cleanly.

``agv_vehicle`` runs an agent and its simulated base in one process (they still talk over the
``cmd_vel``/``odom`` topics), which is how ``xborder agents`` starts a simulated fleet.
"""

from __future__ import annotations

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor


def spin_nodes(args: list[str] | None, node_types: list[type]) -> None:
    rclpy.init(args=args)  # rclpy's own handlers turn SIGINT and SIGTERM into a clean executor shutdown
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
            if stop is not None and rclpy.ok():
                stop()
            node.destroy_node()
        rclpy.try_shutdown()


def main(args: list[str] | None = None) -> None:
    from agv_agent.agent_node import AgentNode
    from agv_agent.sim_base_node import SimBaseNode

    spin_nodes(args, [SimBaseNode, AgentNode])
