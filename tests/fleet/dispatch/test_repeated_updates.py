"""An order update that would tell its vehicle nothing new is not sent (issue #10).

In bench_fleet a full plan of the fleet sent an update to each of its 200 vehicles in one tick, 12-303 ms of
DDS publishing on the loop thread that a clearance arriving meanwhile waited behind, and 176-197 of those
updates repeated the vehicle's last one. An update the vehicle has taken is not sent again; one that says
something new (a release, another route) is, and so is one the vehicle never took.
"""

from __future__ import annotations

from agv_agent.protocol import OrderEdge, OrderNode

from fleet.dispatch.vda import OrderContent
from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet


def _content(order) -> OrderContent:
    return OrderContent(order.order_id, order.nodes, order.edges)


def _sent_since(fleet, count: int) -> list:
    return fleet.link.sent_orders[count:]


def test_a_full_plan_that_changes_nothing_sends_nothing_and_a_release_after_it_is_sent(customs, corridor):
    fleet = make_fleet(customs, corridor, 4)
    fleet.authorize("agv_001", "agv_002", "agv_003", "agv_004")
    order = fleet.order(["VN-100000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000001", VN_CN, customs.cn)  # one side only: its vehicle waits at the gate
    assert fleet.run(1800, until=lambda: fleet.state_of(order) == OrderState.AWAITING_CLEARANCE)
    fleet.run(10)  # every vehicle has reported the last update it was sent
    dispatcher = fleet.dispatcher
    update_ids = {vid: track.update_id for vid, track in dispatcher.tracks.items()}
    assert all(track.state.order_update_id == track.update_id for track in dispatcher.tracks.values())
    sent = len(fleet.link.sent_orders)

    assert dispatcher._plan_everyone(dispatcher.now())

    assert _sent_since(fleet, sent) == []
    assert {vid: track.update_id for vid, track in dispatcher.tracks.items()} == update_ids
    carrier = fleet.orders.get(order).vehicle_id
    fleet.release("VN-100000000001", VN_CN, customs.vn)
    fleet.run(1)
    updates = _sent_since(fleet, sent)  # planned past the gate, then released there, in the same tick
    assert {vehicle_id for _, vehicle_id, _ in updates} == {carrier}
    assert [update.order_update_id for _, _, update in updates] == \
        list(range(update_ids[carrier] + 1, update_ids[carrier] + 1 + len(updates)))
    assert any(sum(node.released for node in update.nodes) > 1 for _, _, update in updates)
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.DELIVERED), fleet.orders.get(order)


def test_a_full_plan_sends_the_vehicle_whose_order_it_changes(customs, corridor):
    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    fleet.run(10)
    dispatcher = fleet.dispatcher
    sent = len(fleet.link.sent_orders)
    order = fleet.order(["VN-100000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    dispatcher._assign(dispatcher.now())  # the order's vehicle gets a job, planned by the full plan below
    carrier = fleet.orders.get(order).vehicle_id
    assert carrier is not None

    assert dispatcher._plan_everyone(dispatcher.now())

    assert [vehicle_id for _, vehicle_id, _ in _sent_since(fleet, sent)] == [carrier]


def test_an_update_the_vehicle_never_took_is_sent_again_though_the_fleet_sent_the_same(customs, corridor):
    """The updates that give the vehicle its order are lost: the vehicle still reports the one before them, so
    a full plan that builds the same again sends it, and the vehicle, refusing that one (it starts where the
    lost ones ended), is sent its order again from where its base really ends."""
    fleet = make_fleet(customs, corridor, 1)
    fleet.authorize("agv_001")
    fleet.run(10)
    order = fleet.order(["VN-100000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000001", VN_CN)
    lost, send = [], fleet.link.send_order
    fleet.link.send_order = lambda vehicle_id, update: lost.append(update)
    assert fleet.run(60, until=lambda: bool(lost))  # the tick that planned and released it
    fleet.link.send_order = send
    dispatcher, sent = fleet.dispatcher, len(fleet.link.sent_orders)

    assert dispatcher._plan_everyone(dispatcher.now())

    [(_, _, again)] = _sent_since(fleet, sent)
    assert _content(again).repeats(_content(lost[-1])) and again.order_update_id == lost[-1].order_update_id + 1
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.DELIVERED), fleet.orders.get(order)


def _update(order_id: str, first: int, released: int, last: int = 6) -> OrderContent:
    """Nodes n{first}..n{last} (sequence id 2k), released up to n{released}."""
    nodes = tuple(OrderNode(f"n{k}", 2 * k, k <= released, float(k), 0.0) for k in range(first, last + 1))
    edges = tuple(OrderEdge(f"e{k}", 2 * k - 1, k <= released, f"n{k - 1}", f"n{k}")
                  for k in range(first + 1, last + 1))
    return OrderContent(order_id, nodes, edges)


def test_an_update_repeats_the_part_of_the_last_one_the_vehicle_still_holds_and_nothing_else():
    sent = _update("o", 0, 3)
    assert _update("o", 3, 3).repeats(sent)  # from the base end the vehicle drove to: nothing new
    assert _update("o", 0, 3).repeats(sent)
    assert not _update("o", 3, 4).repeats(sent)  # released further
    assert not _update("o", 2, 2).repeats(sent)  # n3 no longer released
    assert not _update("o", 3, 3, last=7).repeats(sent)  # a longer route
    assert not _update("other", 3, 3).repeats(sent)
    assert not _update("o", 3, 3).repeats(None)


def test_an_update_built_from_what_the_last_one_was_built_from_is_not_built_again(customs, corridor, monkeypatch):
    """A full plan gives every vehicle a new plan (new times), most of them along the nodes they had: the order
    update is made of the nodes, the sequence ids, the releases and the actions alone, so with those as they
    were it is known to repeat the last one without building it (a fifth of adopting a full plan's plans)."""
    from fleet.dispatch import loop

    fleet = make_fleet(customs, corridor, 4)
    fleet.authorize("agv_001", "agv_002", "agv_003", "agv_004")
    fleet.run(10)
    built = []
    monkeypatch.setattr(loop, "vda_order", lambda *args: built.append(args) or _vda_order(*args))
    dispatcher = fleet.dispatcher

    assert dispatcher._plan_everyone(dispatcher.now())

    assert built == []
    assert _sent_since(fleet, len(fleet.link.sent_orders)) == []


def _vda_order(*args):
    from fleet.dispatch.vda import vda_order

    return vda_order(*args)
