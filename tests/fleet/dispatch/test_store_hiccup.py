"""A write of the tick's order transitions that the store refused (the server lost for a moment, a lock timed
out) loses none of them: the next tick writes them, and the store never disagrees with the loop about which
vehicle carries an order."""

from __future__ import annotations

import pytest

from fleet.orders import OrderState
from fleet.store import StoreError
from tests.fleet.dispatch.conftest import VN_CN, docks, make_fleet


def test_the_transitions_of_a_tick_whose_write_failed_are_written_by_the_next(customs, corridor, monkeypatch):
    fleet = make_fleet(customs, corridor, 1)
    fleet.authorize("agv_001")
    order = fleet.order(["VN-100000000001"], docks(corridor, "VN")[0], docks(corridor, "CN")[0])
    fleet.release("VN-100000000001", VN_CN)
    commit = fleet.orders.commit_transitions
    refused = []

    def once_refused(moves):
        if moves and not refused and any(m.to == OrderState.LOADED for m in moves):
            refused.append(list(moves))
            raise StoreError("the store could not write: server closed the connection unexpectedly")
        return commit(moves)

    monkeypatch.setattr(fleet.orders, "commit_transitions", once_refused)
    with pytest.raises(StoreError):  # the tick fails (the loop's thread logs it and ticks on)
        fleet.run(1800)
    assert fleet.state_of(order) == OrderState.TO_PICKUP
    assert fleet.run(1800, until=lambda: fleet.state_of(order) == OrderState.DELIVERED), fleet.state_of(order)
    assert refused, "the write was never refused: the test did not test anything"
    states = [t.to_state for t in fleet.orders.get(order).timeline]
    assert OrderState.LOADED in states and states[-1] == OrderState.DELIVERED, states


def test_a_restart_gives_back_the_second_order_a_store_kept_on_one_vehicle(customs, corridor):
    """A store written before the fix above can hold two active orders on one vehicle: the first one stuck
    ``to_pickup``, the vehicle carrying the second. The dispatcher took the last one it read as the vehicle's
    job and never looked at the other again. At a start, the one not loaded now waits for a vehicle again."""
    from tests.fleet.dispatch.test_loop import make_fleet_again

    fleet = make_fleet(customs, corridor, 2)
    fleet.authorize("agv_001", "agv_002")
    vn, cn = docks(corridor, "VN"), docks(corridor, "CN")
    carried = fleet.order(["VN-100000000001"], vn[0], cn[0])
    fleet.release("VN-100000000001", VN_CN)
    assert fleet.run(600, until=lambda: fleet.state_of(carried) == OrderState.LOADED)
    vehicle = fleet.orders.get(carried).vehicle_id
    stuck = fleet.order(["VN-100000000002"], vn[1], cn[1])
    fleet.release("VN-100000000002", VN_CN)
    fleet.dispatcher.stop()
    fleet.orders.transition(stuck, OrderState.ASSIGNED, "a lost tick's world", {"kind": "test"}, vehicle_id=vehicle)
    fleet.orders.transition(stuck, OrderState.TO_PICKUP, "a lost tick's world", {"kind": "test"})
    again = make_fleet_again(fleet)
    assert again.run(3600, until=lambda: again.state_of(stuck) == again.state_of(carried) == OrderState.DELIVERED), \
        (again.state_of(carried), again.state_of(stuck))
    assert OrderState.CREATED in [t.to_state for t in again.orders.get(stuck).timeline][1:]
