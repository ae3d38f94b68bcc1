"""Process entry points: spin one or more nodes until Ctrl-C or SIGTERM, then shut down cleanly.

``agv_vehicle`` runs an agent and its simulated base in one process (they still talk over the
``cmd_vel``/``odom`` topics), which is how ``xborder agents`` starts a simulated fleet.
"""

from __future__ import annotations

import faulthandler
import math
import os
import re
import signal
import sys
import threading
from typing import Any, NoReturn

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

#: how long leaving may take before the process exits regardless (its threads' stacks on stderr first)
SHUTDOWN_LIMIT_S = 10.0
#: past the limit by this much, the process exits from C even if leaving holds the interpreter (a call into C
#: that never lets Python's own watchdog thread run). Seen in a test run at load 24: one of 20 vehicles leaving at
#: once deadlocked in Fast DDS destroying a service's writer (``PDP::removeWriterProxyData`` waiting on a mutex,
#: under ``rcl_service_fini`` from ``Node.destroy_node``, the GIL held), for good
HARD_EXIT_AFTER_S = 5.0
#: ``kill -USR1`` writes every thread's stack to stderr, from C: where a process that ignores SIGTERM is stuck
STACKS_SIGNAL = signal.SIGUSR1


#: a vehicle id as the fleet's registry takes it (``fleet.vehicles.registry.VehicleConfig``): it names the vehicle's
#: ROS topics, so a hyphen or a space was a traceback from rclpy, and an upper-case id ran but no fleet could have it
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")
#: what a process started with a parameter it cannot run with exits with, after one line naming the parameter
BAD_PARAMETER_EXIT = 2


class BadParameter(ValueError):
    """A parameter a node cannot run with: the process says which and why, and exits :data:`BAD_PARAMETER_EXIT`."""


def declare_read_only(node: Node, defaults: dict[str, Any]) -> dict[str, Any]:
    """Declare ``defaults`` as read-only parameters (set at start from YAML / ``-p``, refused afterwards,
    because the node reads them once) and return their values, each of its default's type: a whole number
    where a real one is expected is taken (``max_linear_speed: 7`` was a traceback), anything else of another
    type is a :class:`BadParameter`."""
    read_only = ParameterDescriptor(read_only=True, dynamic_typing=True)
    return {name: _of_type(name, node.declare_parameter(name, default, read_only).value, default)
            for name, default in defaults.items()}


def _of_type(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not type(default):
        kind = {float: "a number", str: "text", bool: "true or false", int: "a whole number"}[type(default)]
        raise BadParameter(f"{name}: {value!r} is not {kind}")
    return value


def require_name(params: dict[str, Any], *names: str) -> None:
    """Each of ``names`` is a ROS- and registry-safe name (:data:`NAME_PATTERN`)."""
    for name in names:
        if not NAME_PATTERN.fullmatch(params[name]):
            raise BadParameter(f"{name}: {params[name]!r} is not a name the fleet can have: a lower-case letter, "
                               "then up to 62 lower-case letters, digits or _ (it names the vehicle's ROS topics)")


def require_positive(params: dict[str, Any], *names: str) -> None:
    """Each of ``names`` is a finite number above 0 (a top speed of 0 published in the factsheet, say)."""
    for name in names:
        if not (math.isfinite(params[name]) and params[name] > 0):
            raise BadParameter(f"{name}: {params[name]!r} must be a number above 0")


def require_within(params: dict[str, Any], name: str, low: float, high: float = math.inf) -> None:
    if not low <= params[name] <= high:  # (NaN is within nothing)
        raise BadParameter(f"{name}: {params[name]!r} must be from {low:g}"
                           + (f" to {high:g}" if math.isfinite(high) else " up"))


def spin_nodes(args: list[str] | None, node_types: list[type]) -> None:
    """Spin ``node_types`` until SIGINT/SIGTERM, then call each node's ``stop()`` (if it has one) while the
    context still works, so that a leaving agent can stop its base and tell the fleet OFFLINE.

    The signal handler only sets a flag that the spin loop checks: rclpy's own handlers would shut the context
    down first (nothing could be sent any more), and a KeyboardInterrupt raised at any point inside rclpy may
    leave a handle marked in use (suspected when one of 20 vehicles hung on exit in the tests).
    """
    stop_requested: list[int] = []
    faulthandler.register(STACKS_SIGNAL, all_threads=True)
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except _rclpy.RCLError as exc:  # a command line rcl cannot parse (a remap to a namespace with a hyphen, say)
        _refuse(str(exc).split(", at /")[0])
    signal.signal(signal.SIGINT, lambda signum, _frame: stop_requested.append(signum))
    signal.signal(signal.SIGTERM, lambda signum, _frame: stop_requested.append(signum))
    nodes = _create(node_types)
    executor = SingleThreadedExecutor()
    for node in nodes:
        executor.add_node(node)
    try:
        while not stop_requested:
            executor.spin_once(timeout_sec=0.1)
    except ExternalShutdownException:
        pass
    finally:
        _exit_if_stuck(SHUTDOWN_LIMIT_S)
        for node in nodes:
            stop = getattr(node, "stop", None)
            if stop is not None:
                stop()
            node.destroy_node()
        rclpy.try_shutdown()


def _create(node_types: list[type]) -> list[Node]:
    """The nodes; a :class:`BadParameter` ends the process with one line saying it (no traceback), exit 2."""
    nodes: list[Node] = []
    try:
        for node_type in node_types:
            nodes.append(node_type())
    except BadParameter as exc:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
        _refuse(str(exc))
    return nodes


def _refuse(why: str) -> NoReturn:
    print(f"{os.path.basename(sys.argv[0])}: {why}", file=sys.stderr, flush=True)
    sys.exit(BAD_PARAMETER_EXIT)


def _exit_if_stuck(limit_s: float) -> None:
    """A vehicle process asked to stop must stop: one of 20 vehicles in a CI run was still there 15 s after its
    SIGTERM, somewhere in leaving (its base stop and OFFLINE are bounded at 1 s; then the nodes' and DDS's
    teardown). Past ``limit_s`` the process says so, writes every thread's stack to stderr (the evidence) and
    exits; the fleet sees its liveliness lapse, as for any vehicle gone. That watchdog is a Python thread: if
    leaving is stuck in C holding the interpreter, faulthandler's own thread (C) does the same
    :data:`HARD_EXIT_AFTER_S` later."""
    faulthandler.dump_traceback_later(limit_s + HARD_EXIT_AFTER_S, exit=True)

    def give_up() -> None:
        print(f"shutdown still not done after {limit_s:.0f} s: exiting; every thread's stack follows",
              file=sys.stderr, flush=True)
        faulthandler.dump_traceback(all_threads=True)
        os._exit(1)

    watchdog = threading.Timer(limit_s, give_up)
    watchdog.daemon = True
    watchdog.start()


def main(args: list[str] | None = None) -> None:
    from agv_agent.agent_node import AgentNode
    from agv_agent.sim_base_node import SimBaseNode

    spin_nodes(args, [SimBaseNode, AgentNode])
