"""A vehicle's report of how far it has come is believed only as far as it was released. Found by trying it (a
VDA 5050 vehicle's ``lastNodeSequenceId`` jumping ahead onto its horizon): the fleet recorded its crossing for
both customs, moved its order to ``to_drop`` and released the rest of its way while it stood short of the bridge."""

from __future__ import annotations

import dataclasses

from fleet.alarms import AlarmKind
from fleet.orders import OrderState
from fleet.store import AuditKind
from tests.fleet.dispatch.conftest import VN_CN
from tests.fleet.dispatch.test_cleared import _at_its_gate


def claiming_the_far_side(customs, corridor, consignment: str):
    """agv_001 at vn_app_out_0 with both clearances, released to vn_deck_out_1, says from now on that it reached
    cn_deck_in_1 (in China, at that node's sequence id of its plan): the fleet, the order, and the link's own
    ``snapshot`` (put it back to have it report the truth again)."""
    fleet, order, seen = _at_its_gate(customs, corridor, consignment)  # VN's clearance, not China's
    fleet.release(consignment, VN_CN, customs.cn)
    track = fleet.dispatcher.tracks["agv_001"]
    assert fleet.run(600, until=lambda: seen[-1][0] == "vn_app_out_0")
    k = next(i for i, s in enumerate(track.plan.steps) if s.node == "cn_deck_in_1")
    assert k > track.released
    real = fleet.link.snapshot

    def claims_far_side(vehicle_id):
        snap = real(vehicle_id)
        return snap._replace(state=dataclasses.replace(snap.state, last_node_id=track.plan.steps[k].node,
                                                       last_node_sequence_id=track.seq0 + 2 * k))
    fleet.link.snapshot = claims_far_side
    return fleet, order, real


def test_a_vehicle_reporting_a_node_past_its_release_is_not_followed_there(customs, corridor):
    fleet, order, real = claiming_the_far_side(customs, corridor, "VN-100000000001")
    fleet.run(1)
    assert fleet.state_of(order) == OrderState.CLEARED
    assert [r.body for r in fleet.store.audit_records(kinds=[AuditKind.CROSSING])] == []
    [alarm] = [a for a in fleet.dispatcher.alarms.list(open_only=True)[0] if a.kind == AlarmKind.VEHICLE_FAULT]
    assert "cn_deck_in_1" in alarm.message and "never released to" in alarm.message
    fleet.link.snapshot = real  # its reports true again: it goes on across
    assert fleet.run(2400, until=lambda: fleet.state_of(order) == OrderState.DELIVERED)
    [crossing] = [r.body for r in fleet.store.audit_records(kinds=[AuditKind.CROSSING])]
    assert crossing["decision_audit_seq"] is not None
