"""Helper process for bench_fleet.py: many emulated vehicles over DDS in one process (200 agent processes do not
fit on 2 cores).

    python vehicle_emulator.py SPEC_JSON [--rate 2] [--delay 0.2]

SPEC_JSON is a list of ``{"id", "node", "x", "y", "theta"}``. Each vehicle publishes its ``state`` at RATE Hz
(standing where it is), says ONLINE on ``connection`` and publishes the agent's factsheet; it listens to its
``order`` topic and "teleports": DELAY seconds after an order (update) it reports itself at the order's last
*released* node (that node's sequence id and position), the unreleased rest as its node states, the order id and
update id echoed, not driving. So the fleet runs through its plans quickly and the dispatch loop does real work.

Every order message received is printed at once as a JSON line on stdout: ``{"t": <time.time() at receipt>, "v":
vehicle, "order": order_id, "update": n, "base_end": node id, "released": [node ids in the base]}``; ``READY`` when
every publisher is up; SIGTERM ends it.
"""

from __future__ import annotations

import argparse
import heapq
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass, field, replace

import rclpy
from agv_agent import convert, qos
from agv_agent.logic import AgentLogic, AgentParams
from agv_agent.protocol import ActionState, ActionStatus, Order, OrderEdge, OrderNode, Pose, VehicleState
from agv_interfaces.msg import AgvState, Connection, Factsheet
from agv_interfaces.msg import Order as OrderMsg
from rclpy.executors import SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions


@dataclass
class Emulated:
    vehicle_id: str
    state: VehicleState
    publisher: object = None
    pending: list = field(default_factory=list)


def standing(vehicle_id: str, node: str, x: float, y: float, theta: float) -> VehicleState:
    return VehicleState(vehicle_id, "", 0, node, 0, (), (), Pose(x, y, theta), (0.0, 0.0), False, False, False,
                        95.0, False)


def teleported(state: VehicleState, order: Order) -> VehicleState:
    """Where the vehicle is once it has driven its whole base: at the last released node, the rest ahead, the
    base's node actions (pick, drop) FINISHED."""
    released = [n for n in order.nodes if n.released]
    if not released:
        return replace(state, order_id=order.order_id, order_update_id=order.order_update_id)
    end = released[-1]
    done = tuple(ActionState(a.action_id, a.action_type, ActionStatus.FINISHED) for n in released for a in n.actions)
    kept = tuple(a for a in state.action_states if state.order_id == order.order_id
                 and a.action_id not in {d.action_id for d in done})
    ahead_nodes: tuple[OrderNode, ...] = tuple(n for n in order.nodes if n.sequence_id > end.sequence_id)
    ahead_edges: tuple[OrderEdge, ...] = tuple(e for e in order.edges if e.sequence_id > end.sequence_id)
    return replace(state, order_id=order.order_id, order_update_id=order.order_update_id, last_node_id=end.node_id,
                   last_node_sequence_id=end.sequence_id, node_states=ahead_nodes, edge_states=ahead_edges,
                   pose=Pose(end.x, end.y, state.pose.theta), driving=False, action_states=kept + done)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("spec")
    parser.add_argument("--rate", type=float, default=2.0)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--namespace", default="xborder")
    args = parser.parse_args()
    specs = json.loads(open(args.spec).read())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node(f"vehicle_emulator_{specs[0]['id']}")
    lock = threading.Lock()
    due: list[tuple[float, int, str, Order]] = []  # (when, tiebreak, vehicle, order): teleports to do
    counter = [0]
    vehicles: dict[str, Emulated] = {}
    out_lock = threading.Lock()

    def on_order(vehicle_id: str, msg: OrderMsg) -> None:
        t = time.time()
        order = convert.order_from_msg(msg)
        released = [n.node_id for n in order.nodes if n.released]
        with out_lock:
            sys.stdout.write(json.dumps({"t": t, "v": vehicle_id, "order": order.order_id,
                                         "update": order.order_update_id,
                                         "base_end": released[-1] if released else None,
                                         "released": released}) + "\n")
            sys.stdout.flush()
        with lock:
            counter[0] += 1
            heapq.heappush(due, (time.monotonic() + args.delay, counter[0], vehicle_id, order))

    connection_pubs = []
    for spec in specs:
        v = spec["id"]
        topic = f"/{args.namespace}/{v}"
        emulated = Emulated(v, standing(v, spec["node"], spec["x"], spec["y"], spec.get("theta", 0.0)))
        emulated.publisher = node.create_publisher(AgvState, f"{topic}/state", qos.STATE)
        vehicles[v] = emulated
        node.create_subscription(OrderMsg, f"{topic}/order", lambda msg, v=v: on_order(v, msg), qos.ORDER)
        connection = node.create_publisher(Connection, f"{topic}/connection", qos.CONNECTION)
        connection.publish(Connection(stamp=convert.to_time(time.time()), vehicle_id=v, connection_state="ONLINE"))
        connection_pubs.append(connection)
        factsheet = node.create_publisher(Factsheet, f"{topic}/factsheet", qos.FACTSHEET)  # what the agent says
        factsheet.publish(convert.factsheet_to_msg(AgentLogic(AgentParams(v), 0.0).factsheet(), time.time()))
        connection_pubs.append(factsheet)

    def publish(emulated: Emulated) -> None:
        emulated.publisher.publish(convert.state_to_msg(replace(emulated.state, stamp=time.time())))

    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=lambda: _spin(executor, stop), daemon=True)
    spinner.start()
    print("READY", flush=True)
    period = 1.0 / args.rate
    next_beat = time.monotonic()
    while not stop.is_set():
        now = time.monotonic()
        while True:  # teleports that are due: publish the new state at once (a vehicle reports arrivals promptly)
            with lock:
                if not due or due[0][0] > now:
                    break
                _, _, v, order = heapq.heappop(due)
            emulated = vehicles[v]
            if order.order_id != emulated.state.order_id or order.order_update_id > emulated.state.order_update_id:
                emulated.state = teleported(emulated.state, order)
                publish(emulated)
        if now >= next_beat:
            for emulated in vehicles.values():
                publish(emulated)
            next_beat += period
            if next_beat < now:  # fell behind: do not burst
                next_beat = now + period
        with lock:
            wake = min(next_beat, due[0][0] if due else next_beat)
        stop.wait(max(0.0, min(0.02, wake - time.monotonic())))
    node.destroy_node()
    rclpy.try_shutdown()


def _spin(executor: SingleThreadedExecutor, stop: threading.Event) -> None:
    while not stop.is_set() and rclpy.ok():
        try:
            executor.spin_once(timeout_sec=0.1)
        except Exception:  # shutting down under a wait
            return


if __name__ == "__main__":
    main()
