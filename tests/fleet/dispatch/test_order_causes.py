"""An order's timeline tells a person's doing from the fleet's own: each transition's cause ``kind`` is
``dispatcher`` (with ``by``, the token's role) for what a person did, ``system`` for what the dispatch loop decided,
``vehicle`` and ``gate`` for what a vehicle reported and the gate rule decided. Found trying the console as a
dispatcher: the automatic assignment said ``(dispatcher)`` as a person's cancel did, so the timeline could not say
who had sent the vehicle."""

from __future__ import annotations

from fleet.orders import OrderState
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet


def test_the_timeline_tells_a_persons_doing_from_the_fleets(customs, corridor):
    fleet = make_fleet(customs, corridor, 1)
    fleet.authorize("agv_001")
    order = fleet.order(["VN-100000000091"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000091", VN_CN)
    assert fleet.run(120, until=lambda: fleet.state_of(order) == OrderState.TO_PICKUP)
    fleet.dispatcher.cancel_order(order, "the container is not ready", "dispatcher")
    causes = {t.to_state: t.cause for t in fleet.orders.get(order).timeline}
    assert causes[OrderState.CREATED] == {"kind": "dispatcher", "by": "test"}
    assert causes[OrderState.ASSIGNED]["kind"] == "system" and "cost" in causes[OrderState.ASSIGNED]
    assert causes[OrderState.TO_PICKUP]["kind"] == "vehicle"
    assert causes[OrderState.CANCELLED] == {"kind": "dispatcher", "by": "dispatcher"}
