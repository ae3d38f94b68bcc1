"""Helper process for bench_mqtt_link.py: many simulated VDA 5050 vehicles' ``state`` messages over MQTT.

    python mqtt_flood.py PORT FIRST COUNT RATE_HZ SECONDS
publishes a realistic VDA 5050 2.1 state (a 6-node order in progress) for vehicles agv_FIRST.. at RATE_HZ each
on uagv/v2/xborder/<id>/state (QoS 0), for SECONDS or until SIGTERM, then prints "SENT <messages> <seconds>".
"""

from __future__ import annotations

import json
import signal
import sys
import time

import paho.mqtt.client as mqtt
from agv_agent import vda_json
from agv_agent.protocol import Header, OrderEdge, OrderNode, Pose, VehicleState


def main() -> None:
    port, first, count, rate, seconds = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]),
                                         float(sys.argv[5]))
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stop.append(signum))
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"flood-{first}")
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    ids = [f"agv_{i:04d}" for i in range(first, first + count)]
    nodes = tuple(OrderNode(f"n{k}", 2 * k, k < 3, 10.0 * k, 0.0) for k in range(6))
    edges = tuple(OrderEdge(f"e{k}", 2 * k + 1, k < 2, f"n{k}", f"n{k + 1}") for k in range(5))
    start = time.monotonic()
    deadline, period = start + seconds, 1.0 / rate
    tick, sent = start, 0
    while time.monotonic() < deadline and not stop:
        for v in ids:
            state = VehicleState(v, "order", 1, "n0", 0, nodes, edges, Pose(1.0, 2.0, 0.1), (3.0, 0.0), True, False,
                                 False, 87.5, False, stamp=time.time(), header=Header(manufacturer="xborder"))
            client.publish(vda_json.mqtt_topic("xborder", v, "state"), json.dumps(vda_json.state_json(state, sent)))
            sent += 1
        tick += period
        time.sleep(max(0.0, tick - time.monotonic()))
    print(f"SENT {sent} {time.monotonic() - start:.3f}", flush=True)
    client.loop_stop()
    client.disconnect()


if __name__ == "__main__":
    main()
