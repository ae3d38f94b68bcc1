"""The loop publishes each vehicle's view on the bus (Topic.vehicle) when it changed, at most twice a second
per vehicle: the stream pushes these instead of polling."""

from __future__ import annotations

import itertools
from collections import defaultdict

from fleet.events import Topic
from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet


def test_vehicle_views_go_out_when_they_change_at_most_twice_a_second(customs, corridor):
    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    sent: dict[str, list[tuple[float, dict]]] = defaultdict(list)
    fleet.bus.subscribe(lambda _, view: sent[view["id"]].append((customs.clock(), view)), topics=[Topic.VEHICLE])
    fleet.run(5, dt=0.1)
    assert set(sent) == {"agv_001", "agv_002"}  # every vehicle once at least
    before = {vid: len(views) for vid, views in sent.items()}
    fleet.run(10, dt=0.1)
    assert {vid: len(views) for vid, views in sent.items()} == before  # parked, nothing new: nothing sent
    out = fleet.order(["VN-500000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-500000000001", VN_CN)
    fleet.run(120, dt=0.1)
    assert fleet.state_of(out) == OrderState.TO_PICKUP
    carrier = fleet.orders.get(out).vehicle_id
    moving = sent[carrier][before[carrier]:]
    assert len(moving) > 20 and len({(v["x"], v["y"]) for _, v in moving}) > 10  # it drove: its moves went out
    assert moving[-1][1]["order_id"] == out
    for views in sent.values():
        gaps = [b - a for (a, _), (b, _) in itertools.pairwise(views)]
        assert min(gaps, default=1.0) >= 0.5 - 1e-6  # at most 2 Hz per vehicle
