"""A vehicle that cannot go on is taken out once, not again on every tick while its condition lasts."""

from __future__ import annotations

import logging

from tests.fleet.dispatch.conftest import make_fleet


def test_a_silent_vehicle_is_taken_out_once(customs, corridor, caplog):
    fleet = make_fleet(customs, corridor, 2)
    fleet.run(5)
    caplog.set_level(logging.WARNING, logger="fleet.dispatch.loop")
    for _ in range(60):  # the vehicles stop reporting (their link is not stepped), the fleet's clock goes on
        customs.clock.now += 0.5
        fleet.dispatcher.tick()
    taken_out = [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
    assert sorted(m.split()[1] for m in taken_out) == ["agv_001", "agv_002"], taken_out
