"""Relay: nobody stands on the handoff pad (on the border line) waiting for something that may take long. By hand
(a hold that came after a vehicle had left its gate): a vehicle stood on the pad for minutes, not stalled, in no
queue, shown idle. The cause: a meeting's two vehicles were each released onto the pad on their own gate rule
alone, so the one that came first stood on the pad waiting for the other for as long as the hold kept that one
off it. Now neither enters the pad while its partner is kept short of it, and its view says why. (The first to
come still waits on the pad for the other's drive there, a few minutes at a meeting: waiting off the pad for that
too cost kim_thanh's whole day two thirds of its deliveries.)"""

from __future__ import annotations

from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet

S = OrderState
PAD = "handoff"


def _alone_on_the_pad(fleet, since: dict[str, float]) -> dict[str, float]:
    """After every tick: how long each vehicle has stood on the pad (not driving) without its partner there; the
    longest so far in ``since``'s companion."""
    longest: dict[str, float] = {}

    def watch(f) -> None:
        now = f.dispatcher.now()
        for vid, track in f.dispatcher.tracks.items():
            state = f.link.state(vid)
            partner = track.job.partner if track.job is not None else None
            alone = state.last_node_id == PAD and not state.driving and partner is not None \
                and f.link.state(partner).last_node_id != PAD
            if not alone:
                since.pop(vid, None)
                continue
            start = since.setdefault(vid, now)
            longest[vid] = max(longest.get(vid, 0.0), now - start)

    fleet.checks.append(watch)
    return longest


def _relay_order(customs, kim_thanh, consignment: str):
    fleet = make_fleet(customs, kim_thanh, 4)
    fleet.authorize(*fleet.dispatcher.tracks)
    order = fleet.order([consignment], docks(kim_thanh, "VN")[0], docks(kim_thanh, "CN")[0])
    fleet.release(consignment, VN_CN)
    return fleet, order


def test_a_hold_after_the_deliverer_left_its_gate_keeps_both_off_the_pad_and_says_so(customs, kim_thanh):
    consignment = "VN-400000000302"
    fleet, order = _relay_order(customs, kim_thanh, consignment)
    longest = _alone_on_the_pad(fleet, {})
    on_the_pad: list[str] = []
    fleet.checks.append(lambda f: on_the_pad.extend(v for v in f.dispatcher.tracks
                                                    if f.link.state(v).last_node_id == PAD))
    deliverer = lambda: fleet.orders.get(order).vehicle_id  # noqa: E731
    assert fleet.run(3600, until=lambda: fleet.link.state(deliverer()).last_node_id == "vn_out_post")
    held_by = fleet.dispatcher.tracks[deliverer()]
    receiver = held_by.job.partner
    assert receiver is not None
    assert fleet.dispatcher.gate.ingest(customs.cn.event("hold", consignment, direction=VN_CN), "test").acknowledged
    fleet.run(1200)
    assert not on_the_pad, sorted(set(on_the_pad))
    assert fleet.link.state(held_by.id).last_node_id == "vn_deck_out_1"
    assert fleet.link.state(receiver).last_node_id == "cn_deck_out_1"
    said = {v: fleet.dispatcher.vehicle(v).stalled_because or "" for v in (held_by.id, receiver)}
    assert "hold" in said[held_by.id] and consignment in said[held_by.id], said
    assert "hold" in said[receiver] and consignment in said[receiver], said
    # and each is listed in the queue of a gate of its side, where it waits, with the reason (it was in none)
    listed = {w.vehicle_id: (g.side, w.at, w.allowed, w.reasons) for g in fleet.dispatcher.gates() for w in g.queue}
    assert listed.keys() == {held_by.id, receiver}, listed
    assert listed[held_by.id][:3] == ("VN", "vn_deck_out_1", False) and listed[receiver][:3] == \
        ("CN", "cn_deck_out_1", False), listed
    assert all(any("hold" in r and consignment in r for r in reasons) for *_, reasons in listed.values()), listed
    assert fleet.dispatcher.gate.ingest(customs.cn.event("hold.lifted", consignment, direction=VN_CN),
                                        "test").acknowledged
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == S.DELIVERED), fleet.orders.get(order)
    assert max(longest.values(), default=0.0) <= 30.0, longest
    assert all(fleet.dispatcher.vehicle(v).stalled_because is None for v in (held_by.id, receiver))


def test_a_deliverer_its_gate_lets_go_with_no_receiver_free_is_not_shown_allowed(customs, kim_thanh):
    """Found by hand: in relay, a loaded vehicle cleared at its gate while every vehicle of the far side was out of
    service waited there, as it should, but its gate's queue said "crossing allowed", with no reason."""
    fleet = make_fleet(customs, kim_thanh, 4)
    fleet.authorize(*fleet.dispatcher.tracks)
    order = fleet.order(["VN-400000000001"], docks(kim_thanh, "VN")[0], docks(kim_thanh, "CN")[0])
    fleet.release("VN-400000000001", VN_CN, customs.vn)
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.AWAITING_CLEARANCE)
    far_side = [vid for vid, track in fleet.dispatcher.tracks.items() if track.record.home == "CN"]
    for vehicle in far_side:
        fleet.dispatcher.set_in_service(vehicle, False, "operator", "maintenance")
    fleet.release("VN-400000000001", VN_CN, customs.cn)
    fleet.run(300)
    assert fleet.state_of(order) == OrderState.AWAITING_CLEARANCE  # it waits at its gate
    [waiting] = [w for gate in fleet.dispatcher.gates() for w in gate.queue]
    assert not waiting.allowed and waiting.reasons == [
        "no vehicle of the CN side is free to take the load on at the handoff pad"], waiting
    for vehicle in far_side:
        fleet.dispatcher.set_in_service(vehicle, True, "operator", "back")
    assert fleet.run(3600, until=lambda: fleet.state_of(order) == OrderState.DELIVERED)
