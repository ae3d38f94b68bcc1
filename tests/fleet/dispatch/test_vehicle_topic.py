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


def test_a_view_goes_out_when_a_vehicle_stops_reporting_and_when_it_reports_again(customs, corridor):
    """A view is not sent for the age of the state alone, so a console grows the age it shows from the last view:
    an idle vehicle reporting all along was shown 25 s old, as if silent (the demo, by eye). A view says whether
    the vehicle reports, and one goes out when that changes: a console grows only a silent vehicle's age."""
    fleet = make_fleet(customs, corridor, 1)
    sent: list[dict] = []
    fleet.bus.subscribe(lambda _, view: sent.append(view), topics=[Topic.VEHICLE])
    fleet.run(5, dt=0.1)
    assert sent and sent[-1]["reporting"] and sent[-1]["state_age_s"] < 1, sent[-1:]
    quiet = len(sent)
    fleet.run(10, dt=0.1)
    assert len(sent) == quiet  # idle and reporting: nothing new to send
    publish = fleet.link._publish
    fleet.link._publish = lambda vehicle: None  # it stops reporting; its link stays up
    fleet.run(5, dt=0.1)
    assert len(sent) == quiet + 1 and not sent[-1]["reporting"] and sent[-1]["state_age_s"] >= 3, sent[-1]
    fleet.link._publish = publish
    fleet.run(2, dt=0.1)
    assert len(sent) == quiet + 2 and sent[-1]["reporting"], sent[-1]
