"""A dispatcher's shift on the console with a backlog, in headless Chromium against a real ``xborder serve``
(the fixtures of tests/test_console.py): hundreds of open alarms left by a broker loss (stored in the service's
SQLite file before it starts, as the dispatch loop raises them), hundreds of orders. Each test here was found by
working the console so, and failed before its fix."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.test_console import (  # noqa: F401 (fixtures)
    AUTHORITIES,
    OUTAGE_ERRORS,
    SHOTS,
    VEHICLES,
    Deployment,
    browser,
    console_service,
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
    service, keys = console_service(tmp_path_factory, "shift")
    deployment = Deployment(service, keys)
    deployment.seeded_alarms = seed_broker_loss(service.db)
    SHOTS.parent.mkdir(parents=True, exist_ok=True)
    log = (SHOTS.parent / "console-shift-service.log").open("wb")
    service.start(log=log)
    deployment.authorize_vehicles()
    yield deployment
    service.stop()
    log.close()


def open_alarms(deployment: Deployment) -> int:
    return int(deployment.api("GET", "/alarms", params={"open": "true", "limit": 1})["total"])


def test_every_open_alarm_of_a_broker_loss_can_be_reached_and_acknowledged(open_console, deployment):  # noqa: F811
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


def test_a_dispatcher_may_not_acknowledge_and_is_offered_no_button_for_it(open_console, deployment):  # noqa: F811
    page = open_console("dispatcher").page
    page.click("#alarm-count")
    page.uncheck("#alarms-open")
    page.locator("#alarms li[data-alarm]").first.wait_for()
    assert page.locator("#alarms-ack-shown").is_hidden()
    assert page.locator("#alarms li button").count() == 0
    assert page.locator("#alarms-more").is_visible()  # reading every alarm is for every role


#: Orders of a busy shift, one consignment each; the tests look for the oldest, far past the newest hundred listed.
SHIFT_ORDERS = 260


@pytest.fixture(scope="module")
def shift_orders(deployment) -> list[dict[str, Any]]:
    """The shift's orders, oldest first (created over the API as dispatchers do)."""
    return [deployment.api("POST", "/orders", role="dispatcher", json={
        "consignments": [f"VN-SHIFT{i:06d}"], "pickup": f"vn_dock_{1 + i % 2}", "drop": f"cn_dock_{1 + i % 2}"})
        for i in range(SHIFT_ORDERS)]


def listed_orders(page) -> list[str]:
    return page.eval_on_selector_all("#orders tbody tr[data-order]", "rows => rows.map(r => r.dataset.order)")


def test_an_order_is_found_by_its_consignment_or_its_vehicle_among_hundreds(open_console, deployment,  # noqa: F811
                                                                            shift_orders):
    """Found by hand: with 260 orders the console listed the newest 100 ("100 of 260") and had no way to the
    others: an order asked about by its consignment (the customs broker's one number) or by its vehicle could not
    be found."""
    oldest = shift_orders[0]
    page = open_console("dispatcher").page
    page.click("#tab-orders")
    page.locator("#orders tbody tr[data-order]").first.wait_for()
    assert oldest["id"] not in listed_orders(page)
    find = page.locator("#order-find")
    find.fill(oldest["consignments"][0].lower())  # typed as it comes
    find.press("Enter")
    playwright_sync.expect(page.locator("#orders tbody tr[data-order]")).to_have_count(1)
    assert listed_orders(page) == [oldest["id"]]
    # a vehicle's orders: every one it was given
    vehicle = given_vehicle(deployment, oldest["id"])
    find.fill(vehicle)
    find.press("Enter")
    expected = deployment.api("GET", "/orders", params={"vehicle_id": vehicle, "limit": 100})
    playwright_sync.expect(page.locator("#orders-total")).to_have_text(
        f"1-{min(expected['total'], 100)} of {expected['total']} · page 1/{-(-expected['total'] // 100)}")
    assert all(deployment.api("GET", f"/orders/{o}")["vehicle_id"] == vehicle for o in listed_orders(page))
    find.fill("")
    find.press("Enter")
    playwright_sync.expect(page.locator("#orders-total")).to_contain_text(f"1-100 of {SHIFT_ORDERS} · page 1/3")


def given_vehicle(deployment: Deployment, order_id: str) -> str:
    """The vehicle the dispatch loop gives the order (the oldest are given first)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        vehicle = deployment.api("GET", f"/orders/{order_id}")["vehicle_id"]
        if vehicle:
            return str(vehicle)
        time.sleep(0.5)
    raise AssertionError(f"{order_id} was given no vehicle in 60 s")


def test_the_orders_filter_the_search_and_the_open_order_survive_a_reload(open_console, deployment,  # noqa: F811
                                                                          shift_orders):
    """Found by hand: a reload (F5, a browser restarted with its tabs) kept the sign-in but brought the console
    back on the vehicles, the orders unfiltered and no order open: the dispatcher's place was lost."""
    wanted = shift_orders[-1]
    page = open_console("dispatcher").page
    page.click("#tab-orders")
    page.select_option("#order-filter", "created")  # the newest waits: 6 vehicles for 260 orders
    page.fill("#order-find", wanted["consignments"][0])
    page.press("#order-find", "Enter")
    page.locator(f"#orders tr[data-order='{wanted['id']}'] th button").click()
    playwright_sync.expect(page.locator("#order-detail")).to_contain_text(wanted["id"])
    page.reload()
    page.wait_for_selector("#link[data-state=open]", timeout=30_000)
    playwright_sync.expect(page.locator("#panel-orders")).to_be_visible()
    playwright_sync.expect(page.locator("#order-filter")).to_have_value("created")
    playwright_sync.expect(page.locator("#order-find")).to_have_value(wanted["consignments"][0])
    playwright_sync.expect(page.locator("#order-detail")).to_contain_text(wanted["id"])


def orders_page(deployment: Deployment, offset: int, **filters: Any) -> list[str]:
    """The ids of the API's page of orders at ``offset`` (the console's pages hold 100)."""
    page = deployment.api("GET", "/orders", params={**filters, "limit": 100, "offset": offset})
    return [order["id"] for order in page["orders"]]


def test_the_orders_list_pages_back_to_the_oldest_order_with_its_filter(open_console, deployment,  # noqa: F811
                                                                        shift_orders):
    """Found trying the console as a dispatcher: the list showed the newest 100 orders that match and no more; at the
    2030 demand (~900 orders a day) this morning's and yesterday's orders could not be reached from it. Now a page
    at a time (Newer, Older), saying which orders of how many and which page; the state filter pages too; a later
    page keeps to its orders while new ones come on top."""
    tab = open_console("dispatcher")
    page = tab.page
    page.click("#tab-orders")
    total, older, newer = page.locator("#orders-total"), page.locator("#orders-older"), page.locator("#orders-newer")
    everyone = deployment.api("GET", "/orders", params={"limit": 1})["total"]
    pages = -(-everyone // 100)
    playwright_sync.expect(total).to_have_text(f"1-100 of {everyone} · page 1/{pages}")
    playwright_sync.expect(newer).to_be_disabled()
    for number in range(2, pages + 1):
        older.click()
        first = 100 * (number - 1) + 1
        playwright_sync.expect(total).to_have_text(
            f"{first}-{min(first + 99, everyone)} of {everyone} · page {number}/{pages}")
    oldest = orders_page(deployment, 100 * (pages - 1))
    assert listed_orders(page) == oldest and shift_orders[0]["id"] in oldest  # the last page: the oldest
    playwright_sync.expect(older).to_be_disabled()
    page.locator(f"#orders tr[data-order='{shift_orders[0]['id']}'] th button").click()
    playwright_sync.expect(page.locator("#order-detail")).to_contain_text(shift_orders[0]["id"])
    # the filter pages alike, from its first page
    page.select_option("#order-filter", "created")
    waiting = deployment.api("GET", "/orders", params={"state": "created", "limit": 1})["total"]
    assert waiting > 100, waiting  # 6 vehicles for 260 orders
    playwright_sync.expect(total).to_contain_text("1-100 of ")
    older.click()
    playwright_sync.expect(total).to_contain_text("101-")
    playwright_sync.expect(total).to_contain_text("page 2/")
    tab.shot("orders-paged-1366x768")
    assert all(deployment.api("GET", f"/orders/{o}")["state"] == "created" for o in listed_orders(page)[:5])
    # a later page, unfiltered, stays on its orders while new ones come on top (the stream reads it again)
    page.select_option("#order-filter", "")
    older.click()
    playwright_sync.expect(total).to_contain_text(f"101-200 of {everyone} ")
    shown = listed_orders(page)
    assert shown == orders_page(deployment, 100)
    made = [deployment.api("POST", "/orders", role="dispatcher", json={
        "consignments": [f"VN-PAGED{i:06d}"], "pickup": "vn_dock_1", "drop": "cn_dock_1"}) for i in range(3)]
    try:
        playwright_sync.expect(total).to_contain_text(f"104-203 of {everyone + 3}", timeout=15_000)
        assert listed_orders(page) == shown
        newer.click()  # back to the newest, the new ones on top
        playwright_sync.expect(total).to_contain_text(f"1-100 of {everyone + 3}")
        assert set(listed_orders(page)[:3]) == {order["id"] for order in made}  # (made within the same second)
    finally:
        for order in made:
            deployment.api("POST", f"/orders/{order['id']}/cancel", role="dispatcher", json={"reason": "console test"})


def test_an_order_id_pasted_into_find_opens_that_order(open_console, deployment, shift_orders):  # noqa: F811
    """Found trying the console as a dispatcher: an order's id (from an alarm, a phone call, a vehicle's row) pasted
    into Find was refused ("consignment: String should match pattern ..."): only a consignment's or a vehicle's id
    was taken. An order id now lists and opens that order, its timeline; an unknown one says it was not found."""
    wanted = shift_orders[1]
    page = open_console("dispatcher").page
    page.click("#tab-orders")
    page.locator("#orders tbody tr[data-order]").first.wait_for()
    find = page.locator("#order-find")
    find.fill(f" {wanted['id']} ")  # pasted as it came, spaces and all
    find.press("Enter")
    playwright_sync.expect(page.locator("#order-detail h3")).to_contain_text(wanted["id"])
    playwright_sync.expect(page.locator("#order-detail .timeline li").first).to_contain_text("created")
    playwright_sync.expect(page.locator("#orders tbody tr[data-order]")).to_have_count(1)
    assert listed_orders(page) == [wanted["id"]]
    unknown = "ord-0123456789ab"
    find.fill(unknown)
    find.press("Enter")
    playwright_sync.expect(page.locator("#orders tbody")).to_contain_text(f"No order {unknown}: not found")
    playwright_sync.expect(page.locator("#orders tbody tr[data-order]")).to_have_count(0)
    find.fill("")
    find.press("Enter")
    playwright_sync.expect(page.locator("#orders-total")).to_contain_text("1-100 of ")


def test_while_the_fleet_manager_is_down_the_page_says_since_when_it_is_out_of_date(open_console,  # noqa: F811
                                                                                   deployment):
    """Found by hand: the banner said "what you see is as of" the time of the latest failed retry, not of the drop:
    after a minute's outage it read "as of" 5 s ago, the data a minute old shown as nearly fresh."""
    tab = open_console("dispatcher")
    page, banner = tab.page, tab.page.locator("#banner")
    deployment.service.kill()
    playwright_sync.expect(banner).to_contain_text("as of", timeout=15_000)
    as_of = re.compile(r"as of (.+?) and may")
    first = as_of.findall(banner.inner_text())
    time.sleep(8)  # the retries after 0.5, 1, 2 and 4 s have failed
    playwright_sync.expect(banner).to_contain_text("next try in 5.0 s")
    assert first and as_of.findall(banner.inner_text()) == first, (first, banner.inner_text())
    deployment.service.start()
    playwright_sync.expect(page.locator("#link")).to_have_attribute("data-state", "open", timeout=30_000)
    playwright_sync.expect(banner).to_be_hidden()
    for each in open_console.tabs:  # every tab still open saw the outage
        each.errors[:] = [e for e in each.errors if not OUTAGE_ERRORS.search(e)]


def test_no_errors_in_the_browser_console(open_console):  # noqa: F811
    for tab in open_console.tabs:
        assert not tab.errors, tab.errors
