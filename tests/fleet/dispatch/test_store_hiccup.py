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
