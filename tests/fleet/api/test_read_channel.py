"""The read workers' channel over real ZeroMQ sockets: views reach the worker, an order change drops its kept
answer, a missed message drops them all, and a write's number is waited for; which pages a worker answers as kept."""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field

import pytest

from fleet.api.read_channel import VIEWS_INTERVAL_S, ChannelFeed, ChannelPublisher
from fleet.api.read_workers import plain_page
from fleet.dispatch import VehicleView
from fleet.dispatch.snapshot import VEHICLES, JsonView
from fleet.events import EventBus, Topic
from fleet.live_views import RelayedViews, ViewsUnavailable
from fleet.orders import OrderState
from fleet.orders.reads import OrderReads, PageQuery


def fleet_of(*ids: str) -> bytes:
    return VEHICLES.dump_json([VehicleView(id=i, home="VN", may_cross=True, in_service=True) for i in ids])


class Views:
    def __init__(self) -> None:
        self.vehicles = fleet_of("agv_1")

    def vehicles_json(self) -> bytes:
        return self.vehicles

    def gates_json(self) -> bytes:
        return b"[]"


class Orders:
    """Counts the store reads OrderReads makes."""

    def __init__(self) -> None:
        self.reads = 0

    def get(self, order_id: str):
        self.reads += 1

        class Answer:
            def model_dump_json(self) -> str:
                return f'{{"id": "{order_id}"}}'

        return Answer()


def wait_until(predicate, what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(what)


@dataclass
class Channel:
    """The leader's side (its bus, views and snapshot event, the publisher) and a worker's (the feed, its kept
    order answers and the store reads they made)."""

    leader_bus: EventBus = field(default_factory=EventBus)
    views: Views = field(default_factory=Views)
    changed: threading.Event = field(default_factory=threading.Event)
    orders: Orders = field(default_factory=Orders)
    worker_bus: EventBus = field(default_factory=EventBus)

    def __post_init__(self) -> None:
        self.publisher = ChannelPublisher(self.views, self.changed, self.leader_bus, lambda: {"status": "ok"})
        self.reads = OrderReads(self.orders, bus=self.worker_bus)  # type: ignore[arg-type]
        self.feed = ChannelFeed(self.publisher.endpoint, RelayedViews(), self.reads, self.worker_bus)


@pytest.fixture
def channel():
    parts = Channel()
    parts.feed.start()
    parts.publisher.start()
    yield parts
    parts.publisher.stop()
    parts.feed.stop()


def test_views_reach_the_worker_and_changes_follow(channel):
    feed, views = channel.feed, channel.views
    with pytest.raises(ViewsUnavailable):
        RelayedViews().vehicles_json()
    assert feed.wait_for_views(5)  # the heartbeat, with nothing changed
    assert feed.views.built_json(JsonView.VEHICLES) == views.vehicles
    assert json.loads(feed.health_json or b"null") == {"status": "ok"}
    assert VehicleView.model_validate_json(feed.views.vehicle_json("agv_1")).id == "agv_1"
    assert feed.views.built_json(JsonView.VEHICLE, "agv_1") == feed.views.vehicle_json("agv_1")  # parsed once
    with pytest.raises(KeyError):
        feed.views.vehicle_json("agv_9")
    views.vehicles = fleet_of("agv_2")
    channel.changed.set()  # the loop took a new snapshot
    wait_until(lambda: feed.views.built_json(JsonView.VEHICLES) == views.vehicles, "new views heard")
    assert feed.views.built_json(JsonView.VEHICLE, "agv_1") is None  # the old list's vehicles are gone


def test_views_go_out_at_most_every_interval_and_at_once_after_a_write(channel):
    """The loop's snapshots come at every tick; building the views for each took the loop's CPU."""
    feed, views = channel.feed, channel.views
    assert feed.wait_for_views(5)
    heard: list[float] = []
    channel.feed.views.update = lambda *_: heard.append(time.monotonic())  # type: ignore[method-assign]
    sent: list[float] = []  # the interval is kept by the sender: timed there (at load the CI's worker received
    send = channel.publisher._send  # two sendings within 0.2 s of each other, delivered late and then together)
    channel.publisher._send = lambda kind, *frames: (kind == b"views" and sent.append(time.monotonic()),  # type: ignore
                                                     send(kind, *frames))
    started = time.monotonic()
    for i in range(40):  # a new snapshot every 25 ms for a second, each with a change
        views.vehicles = fleet_of(f"agv_{i}")
        channel.changed.set()
        time.sleep(0.025)
    wait_until(lambda: heard and heard[-1] > started + 0.9, "the last views heard")
    assert 3 <= len(sent) <= 1 / VIEWS_INTERVAL_S + 2 and len(heard) >= 3, (len(sent), len(heard))
    assert all(later - earlier >= VIEWS_INTERVAL_S * 0.9 for earlier, later in itertools.pairwise(sent)), sent
    views.vehicles = fleet_of("agv_written")
    before = len(heard)
    channel.publisher.send_views(force=True)  # a write to vehicles or gates (NumberedWrites)
    wait_until(lambda: len(heard) > before, "the written views heard at once", timeout_s=VIEWS_INTERVAL_S / 2)


def test_an_order_change_drops_its_kept_answer_and_a_write_is_waited_for(channel):
    publisher, feed, reads, orders = channel.publisher, channel.feed, channel.reads, channel.orders
    assert feed.wait_for_views(5)
    reads.one_json("o1")
    reads.one_json("o1")
    assert orders.reads == 1  # kept
    channel.leader_bus.publish(Topic.ORDER, {"order_id": "o1"})  # the leader's order service, after its commit
    assert feed.wait_for(publisher.seq, 5)  # what a worker does before answering a write passed on
    reads.one_json("o1")
    assert orders.reads == 2


def test_a_missed_message_drops_every_kept_answer(channel):
    publisher, feed, reads, orders = channel.publisher, channel.feed, channel.reads, channel.orders
    assert feed.wait_for_views(5)
    reads.one_json("o1")
    reads.one_json("o2")
    with publisher._lock:
        publisher._seq += 1  # a message lost on the way (PUB drops what a slow subscriber cannot take)
    channel.leader_bus.publish(Topic.ORDER, {"order_id": "o3"})
    assert feed.wait_for(publisher.seq, 5)
    reads.one_json("o1")
    reads.one_json("o2")
    assert orders.reads == 4


def test_a_write_never_heard_drops_every_kept_answer(channel):
    publisher, feed, reads, orders = channel.publisher, channel.feed, channel.reads, channel.orders
    assert feed.wait_for_views(5)
    reads.one_json("o1")
    assert not feed.wait_for(publisher.seq + 100, 0.2)
    reads.one_json("o1")
    assert orders.reads == 2


@pytest.mark.parametrize(("query", "page"), [
    (b"", PageQuery()), (b"limit=50", PageQuery(limit=50)), (b"offset=100&limit=500", PageQuery(limit=500, offset=100)),
    (b"limit=0", None), (b"limit=501", None), (b"limit=5&limit=6", None), (b"limit=-1", None), (b"limit=5&", None),
    (b"limit", None), (b"state=delivered", None), (b"limit=50&vehicle_id=agv_1", None), (b"offset=9999999999", None),
])
def test_a_worker_answers_onlyplain_pages_before_fastapi(query, page):
    """Pages by limit and offset alone are answered as kept; anything else goes to the route (its validation)."""
    assert plain_page(query) == page


def test_an_order_change_says_whether_the_order_is_new(channel):
    """A worker's kept pages depend on it: a new order shifts every page, a transition only those showing it."""
    heard: list[dict] = []
    channel.worker_bus.subscribe(lambda _topic, message: heard.append(message), topics=(Topic.ORDER,))
    assert channel.feed.wait_for_views(5)
    channel.leader_bus.publish(Topic.ORDER, {"order_id": "ord-new", "from": None, "to": OrderState.CREATED})
    channel.leader_bus.publish(Topic.ORDER, {"order_id": "ord-new", "from": OrderState.CREATED,
                                             "to": OrderState.ASSIGNED})
    wait_until(lambda: len(heard) == 2, "both changes heard")
    assert heard == [{"order_id": "ord-new", "from": None}, {"order_id": "ord-new", "from": "created"}]


def test_the_leaders_health_is_live_until_it_falls_silent(channel):
    from fleet.api.read_channel import SILENT_S

    feed = channel.feed
    assert feed.wait_for_views(5)
    assert json.loads(feed.live_health() or b"null") == {"status": "ok"}
    channel.publisher.stop()  # the loop's process silent from now on
    feed.heard_at -= SILENT_S + 0.1  # as if that long ago (the heartbeat would not come back: stopped)
    assert feed.live_health() is None
    assert feed.health_json is not None  # what it last said is kept, for the 503's message
