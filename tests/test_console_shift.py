"""A dispatcher's shift on the console with a backlog, in headless Chromium against a real ``xborder serve``
(the fixtures of tests/test_console.py): hundreds of open alarms left by a broker loss (stored in the service's
SQLite file before it starts, as the dispatch loop raises them), hundreds of orders. Each test here was found by
working the console so, and failed before its fix."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.test_console import (  # noqa: F401 (fixtures)
    AUTHORITIES,
    SHOTS,
    VEHICLES,
    Deployment,
    browser,
    open_console,
    playwright_sync,
    write_compact_corridor,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

#: A broker lost with this many vehicles on it: each one silent and offline, two open alarms a vehicle.
LOST_VEHICLES = 210


def seed_broker_loss(db) -> list[int]:
    """The open alarms a broker loss leaves (vehicle_silent and vehicle_offline for every vehicle on it), raised
    through the service's own AlarmService into its store; their ids, oldest first."""
    from fleet.alarms import AlarmKind, AlarmService
    from fleet.events import EventBus
    from fleet.store import Store

    store = Store(db)
    alarms = AlarmService(store, EventBus(), time.time)
    raised = [alarms.raise_alarm(kind, f"agv_{100 + i:03d}", f"agv_{100 + i:03d}: {kind.value.replace('_', ' ')}")
              for i in range(LOST_VEHICLES) for kind in (AlarmKind.VEHICLE_SILENT, AlarmKind.VEHICLE_OFFLINE)]
    store.close()
    return [alarm.id for alarm in raised if alarm is not None]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    from fleet.customs.signing import generate_keys
    from fleet.transports.curve import generate_curve_keys
    from sim.service_process import ServiceProcess

    keys = tmp_path_factory.mktemp("keys")
    for name in AUTHORITIES:
        generate_keys(name, keys)
        generate_curve_keys(name, keys)
    service = ServiceProcess(
        tmp_path_factory.mktemp("shift"), {n: (keys / f"{n}.pub").read_text().strip() for n in AUTHORITIES},
        curve_public_keys={n: (keys / f"{n}.curve.pub").read_text().strip() for n in AUTHORITIES},
        fleet={"link": "inprocess", "simulated": VEHICLES,
               "dispatch": {"tick_hz": 5.0, "load_s": 1.0, "unload_s": 1.0}},
        map_folder=write_compact_corridor(tmp_path_factory.mktemp("map") / "compact"))
    deployment = Deployment(service, keys)
    deployment.seeded_alarms = seed_broker_loss(service.db)
    SHOTS.parent.mkdir(parents=True, exist_ok=True)
    log = (SHOTS.parent / "console-shift-service.log").open("wb")
    service.start(log=log)
    yield deployment
    service.stop()
    log.close()


def open_alarms(deployment: Deployment) -> int:
    return int(deployment.api("GET", "/alarms", params={"open": "true", "limit": 1})["total"])


def test_every_open_alarm_of_a_broker_loss_can_be_reached_and_acknowledged(open_console, deployment):
    """Found by hand: after a broker loss (~400 open alarms) the console listed the 200 newest and "… and 220
    more", with no way to see them: the older open alarms could be neither read nor acknowledged from it."""
    oldest = deployment.seeded_alarms[0]
    assert len(deployment.seeded_alarms) == 2 * LOST_VEHICLES
    page = open_console("operator").page
    page.click("#alarm-count")
    alarms = page.locator("#alarms li[data-alarm]")
    playwright_sync.expect(alarms).to_have_count(200)
    # the older ones, a page at a time, until the oldest is there: it can be read and acknowledged
    more = page.locator("#alarms-more")
    while not page.locator(f"#alarms li[data-alarm='{oldest}']").count():
        shown = alarms.count()
        more.click()
        playwright_sync.expect(alarms).not_to_have_count(shown)
    playwright_sync.expect(more).to_be_hidden()  # all are shown
    first = open_alarms(deployment)
    page.locator(f"#alarms li[data-alarm='{oldest}'] button").click()
    playwright_sync.expect(page.locator(f"#alarms li[data-alarm='{oldest}']")).to_have_count(0)
    assert open_alarms(deployment) == first - 1
    # the flood: every one shown acknowledged at once, once confirmed
    page.click("#alarms-ack-shown")
    playwright_sync.expect(page.locator("#ask")).to_contain_text(f"{first - 1}")
    page.click("#ask-ok")
    playwright_sync.expect(page.locator("#alarm-count")).to_have_attribute("data-count", "0", timeout=60_000)
    assert open_alarms(deployment) == 0
    playwright_sync.expect(page.locator("#alarms")).to_contain_text("no alarms")


def test_a_dispatcher_may_not_acknowledge_and_is_offered_no_button_for_it(open_console, deployment):
    page = open_console("dispatcher").page
    page.click("#alarm-count")
    page.uncheck("#alarms-open")
    page.locator("#alarms li[data-alarm]").first.wait_for()
    assert page.locator("#alarms-ack-shown").is_hidden()
    assert page.locator("#alarms li button").count() == 0
    assert page.locator("#alarms-more").is_visible()  # reading every alarm is for every role
