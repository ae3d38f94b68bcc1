"""build_services wires the bus to the customs PUB socket (their four topics only) and start/close run and
stop every thread."""

from __future__ import annotations

import json
import threading

import zmq

from fleet.events import Topic


def test_customs_topics_on_the_bus_reach_the_pub_socket(services):
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(services.publisher.endpoint)
    try:
        received: list[tuple[str, dict]] = []
        for _ in range(50):  # a SUB socket misses what is sent before it has joined: send until it has
            services.bus.publish(Topic.ORDER, {"n": 0})
            services.bus.publish(Topic.ALARM, {"kind": "low_battery"})
            if sub.poll(100):
                break
        while sub.poll(200):
            topic, payload = sub.recv_multipart()
            received.append((topic.decode(), json.loads(payload)))
    finally:
        sub.close()
    assert received and {topic for topic, _ in received} == {"alarm"}


def test_start_and_close_run_and_stop_the_threads(services):
    services.start()
    names = {t.name for t in threading.enumerate()}
    assert {"dispatcher", "customs-zmq"} <= names
    services.close()
    assert not {"dispatcher", "customs-zmq"} & {t.name for t in threading.enumerate() if t.is_alive()}
