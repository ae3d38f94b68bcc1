"""Orders over HTTP: created once per Idempotency-Key, refused with the field named and nothing stored, listed
with filters and a total, read with the timeline, cancelled with a reason; staff actions recorded."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from tests.fleet.api.conftest import auth, staff_actions_of

pytestmark = pytest.mark.both_backends  # the store's SQLite file and a PostgreSQL database

DISPATCHER = auth("dispatcher")


@pytest.fixture
def body(docks):
    return {"consignments": ["VN-ORD000000001"], "pickup": docks["VN"][0], "drop": docks["CN"][0]}


def create(client, body, key=None):
    headers = {**DISPATCHER, **({"Idempotency-Key": key} if key else {})}
    return client.post("/api/v1/orders", json=body, headers=headers)


def total(client) -> int:
    return client.get("/api/v1/orders", headers=DISPATCHER).json()["total"]


def test_create_answers_201_with_location_and_a_retry_the_same_order(client, services, body):
    first = create(client, body, key="k-1")
    assert first.status_code == 201, first.text
    order = first.json()
    assert order["state"] == "created" and order["direction"] == "VN->CN"
    assert first.headers["Location"].endswith(f"/api/v1/orders/{order['id']}")
    again = create(client, body, key="k-1")
    assert again.status_code == 200 and again.json()["id"] == order["id"]
    assert total(client) == 1
    assert [(a["action"], a["role"], a["target"]) for a in staff_actions_of(services)] == [
        ("create_order", "dispatcher", f"order:{order['id']}")]


def test_a_key_reused_for_another_request_is_409_naming_the_header(client, body, docks):
    assert create(client, body, key="k-2").status_code == 201
    reply = create(client, {**body, "drop": docks["CN"][1]}, key="k-2")
    assert reply.status_code == 409 and reply.json()["field"] == "Idempotency-Key"
    assert total(client) == 1


def test_a_key_reused_with_other_times_is_409_and_the_same_times_written_otherwise_get_the_order(client, services,
                                                                                                  body):
    """Found by trying it: a retry under the key with another ``latest_delivery`` (a script that recomputed its
    deadline) got the first order, 200, its deadline unchanged: the dispatcher's script believed the new one held.
    The same instant written another way (ISO 8601 with its offset) is the same request."""
    now = services.orders.clock()
    due = 3600 * (int(now) // 3600 + 6)  # a whole hour, six to seven hours from now
    assert create(client, {**body, "latest_delivery": due}, key="k-times").status_code == 201
    for other in ({"latest_delivery": due + 3600}, {}, {"latest_delivery": due, "earliest_start": now + 60}):
        reply = create(client, {**body, **other}, key="k-times")
        assert reply.status_code == 409 and reply.json()["field"] == "Idempotency-Key", (other, reply.text)
    written_otherwise = datetime.fromtimestamp(due, timezone(timedelta(hours=7))).isoformat()
    again = create(client, {**body, "latest_delivery": written_otherwise}, key="k-times")
    assert again.status_code == 200 and again.json()["latest_delivery"] == due, again.text
    assert total(client) == 1


@pytest.mark.parametrize(("change", "status", "field"), [
    ({"pickup": "no_such_dock"}, 422, "pickup"),
    ({"drop": "{pickup}"}, 422, "drop"),
    ({"drop": "{same_side}"}, 422, "drop"),
    ({"direction": "CN->VN"}, 422, "pickup"),
    ({"latest_delivery": 1.0}, 422, "latest_delivery"),
    ({"latest_delivery": "2030-01-01T14:00:00"}, 422, "body.latest_delivery"),  # no UTC offset: VN or CN time?
    ({"latest_delivery": "tomorrow"}, 422, "body.latest_delivery"),
    ({"latest_delivery": "Infinity"}, 422, "body.latest_delivery"),  # was stored, and answered as null
    ({"earliest_start": 1e300}, 422, "body.earliest_start"),
    ({"consignments": ["VN-ORD000000001", "VN-ORD000000002", "VN-ORD000000003"]}, 422, "body.consignments"),
    ({"consignments": ["not-an-id"]}, 422, "body.consignments.0"),
    ({"priority": 0}, 422, "body.priority"),
    ({"surprise": 1}, 422, "body.surprise"),
])
def test_refused_with_the_field_named_and_nothing_stored(client, body, docks, change, status, field):
    names = {**body, "same_side": docks["VN"][1]}
    bad = {**body, **{k: (v.format(**names) if isinstance(v, str) else v) for k, v in change.items()}}
    reply = create(client, bad)
    assert reply.status_code == status, reply.text
    assert reply.json()["field"] == field
    assert total(client) == 0


def test_times_in_iso_8601_with_their_offset_are_the_same_moments_as_seconds(client, body):
    """A dispatcher in Mong Cai (UTC+7) and one in Dongxing (UTC+8) name the same moment each in their own time."""
    vn = create(client, {**body, "earliest_start": "2030-01-01T08:00:00+07:00",
                         "latest_delivery": "2030-01-01T10:30:00+07:00"})
    cn = create(client, {**body, "consignments": ["VN-ORD000000002"], "earliest_start": "2030-01-01T09:00:00+08:00",
                         "latest_delivery": 1893468600})
    assert vn.status_code == 201 and cn.status_code == 201, (vn.text, cn.text)
    assert (vn.json()["earliest_start"], vn.json()["latest_delivery"]) == (1893459600, 1893468600)
    assert (cn.json()["earliest_start"], cn.json()["latest_delivery"]) == (1893459600, 1893468600)


def test_missing_field_is_named(client, body):
    reply = create(client, {k: v for k, v in body.items() if k != "drop"})
    assert reply.status_code == 422 and reply.json()["field"] == "body.drop"


def test_a_consignment_on_an_active_order_is_409(client, body, docks):
    assert create(client, body).status_code == 201
    reply = create(client, {**body, "pickup": docks["VN"][1]})
    assert reply.status_code == 409 and reply.json()["field"] == "consignments"


def test_a_consignment_customs_declared_the_other_way_is_409_and_nothing_stored(client, services, customs, body):
    """Was 201: the vehicle then waited at its gate for good ("travels CN->VN, not VN->CN"), holding a lane."""
    consignment = body["consignments"][0]
    declared = customs.vn.event("declaration.accepted", consignment, direction="CN->VN")
    assert services.gate.ingest(declared, "t").acknowledged
    before = total(client)
    reply = create(client, body)
    assert reply.status_code == 409 and reply.json()["field"] == "consignments"
    assert "CN->VN" in reply.json()["detail"] and "VN->CN" in reply.json()["detail"]
    assert total(client) == before
    other_way = {**body, "consignments": ["CN-ORD000000002"]}  # unknown to customs yet: taken (it may be declared)
    assert create(client, other_way).status_code == 201


def test_list_filters_pages_and_counts(client, body, docks):
    for i in range(3):
        assert create(client, {**body, "consignments": [f"VN-ORD00000001{i}"]}).status_code == 201
    back = create(client, {"consignments": ["CN-ORD000000001"], "pickup": docks["CN"][0], "drop": docks["VN"][0]})
    assert back.status_code == 201
    page = client.get("/api/v1/orders", params={"direction": "VN->CN", "limit": 2}, headers=DISPATCHER).json()
    assert page["total"] == 3 and len(page["orders"]) == 2
    rest = client.get("/api/v1/orders", params={"direction": "VN->CN", "limit": 2, "offset": 2},
                      headers=DISPATCHER).json()
    assert len(rest["orders"]) == 1
    assert {o["id"] for o in page["orders"] + rest["orders"]}.isdisjoint({back.json()["id"]})
    assert client.get("/api/v1/orders", params={"state": "delivered"}, headers=DISPATCHER).json()["total"] == 0
    for params in ({"state": "lost"}, {"direction": "VN-CN"}, {"limit": 0}, {"offset": -1}):
        reply = client.get("/api/v1/orders", params=params, headers=DISPATCHER)
        assert reply.status_code == 422, params


def test_an_order_is_found_by_a_consignment_it_carries_finished_or_not(client, body):
    first = create(client, {**body, "consignments": ["VN-FIND00000001", "VN-FIND00000002"]}).json()
    create(client, {**body, "consignments": ["VN-FIND000000011"]})  # begins with the first's id: not it
    assert client.post(f"/api/v1/orders/{first['id']}/cancel", json={"reason": "test"},
                       headers=DISPATCHER).status_code == 200
    again = create(client, {**body, "consignments": ["VN-FIND00000001"]}).json()  # the consignment on a new order
    page = client.get("/api/v1/orders", params={"consignment": "VN-FIND00000001"}, headers=DISPATCHER).json()
    assert {o["id"] for o in page["orders"]} == {again["id"], first["id"]} and page["total"] == 2
    reply = client.get("/api/v1/orders", params={"consignment": "vn-find00000001"}, headers=DISPATCHER)
    assert reply.status_code == 422 and reply.json()["field"] == "query.consignment"


def test_the_overdue_filter_lists_the_unfinished_orders_past_their_latest_delivery_as_time_passes(
        client, services, customs, body, docks):
    services.dispatcher.stop()  # nothing assigned meanwhile: the orders stay as created
    now = customs.clock()
    soon, later = (create(client, {**body, "consignments": [f"VN-LATE0000000{i}"], "pickup": docks["VN"][i],
                                   "latest_delivery": now + minutes * 60}).json()["id"]
                   for i, minutes in enumerate((10, 30)))
    assert create(client, {**body, "consignments": ["VN-LATE00000009"], "pickup": docks["VN"][3]}).status_code == 201

    def overdue(**params) -> list[str]:
        reply = client.get("/api/v1/orders", params={"overdue": "true", **params}, headers=DISPATCHER)
        assert reply.status_code == 200, reply.text
        assert reply.json()["total"] == len(reply.json()["orders"])
        return [o["id"] for o in reply.json()["orders"]]

    assert overdue() == []
    customs.clock.now += 20 * 60  # time alone makes an order overdue: the page is not an answer kept from before
    assert overdue() == [soon] and overdue(direction="VN->CN") == [soon] and overdue(direction="CN->VN") == []
    customs.clock.now += 20 * 60
    assert sorted(overdue()) == sorted([later, soon])
    services.orders.transition(soon, "cancelled", "test", {"kind": "system"})
    assert overdue() == [later]
    assert len(client.get("/api/v1/orders", headers=DISPATCHER).json()["orders"]) == 3  # unfiltered: all
    assert client.get("/api/v1/orders", params={"overdue": "maybe"}, headers=DISPATCHER).status_code == 422


def test_read_with_timeline_then_cancel(client, services, body):
    order_id = create(client, body).json()["id"]
    reply = client.get(f"/api/v1/orders/{order_id}", headers=auth("viewer"))
    assert reply.status_code == 200
    assert reply.json()["timeline"][0]["to_state"] == "created"
    cancelled = client.post(f"/api/v1/orders/{order_id}/cancel", json={"reason": "customer withdrew"},
                            headers=DISPATCHER)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    timeline = client.get(f"/api/v1/orders/{order_id}", headers=auth("viewer")).json()["timeline"]
    assert (timeline[0]["to_state"], timeline[-1]["to_state"]) == ("created", "cancelled")  # assigned, maybe
    assert "customer withdrew" in timeline[-1]["reason"]
    assert ("cancel_order", "customer withdrew") in [(a["action"], a["reason"]) for a in staff_actions_of(services)]
    again = client.post(f"/api/v1/orders/{order_id}/cancel", json={"reason": "twice"}, headers=DISPATCHER)
    assert again.status_code == 409 and again.json()["field"] == "state"


def test_unknown_order_is_404_and_a_cancel_needs_a_reason(client, body):
    assert client.get("/api/v1/orders/ord-nothing", headers=DISPATCHER).status_code == 404
    assert client.post("/api/v1/orders/ord-nothing/cancel", json={"reason": "x"}, headers=DISPATCHER).status_code == 404
    order_id = create(client, body).json()["id"]
    reply = client.post(f"/api/v1/orders/{order_id}/cancel", json={"reason": ""}, headers=DISPATCHER)
    assert reply.status_code == 422 and reply.json()["field"] == "body.reason"


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"consignments": ["VN-12"]}, "body.consignments.0",
     "a consignment id is two capital letters, a hyphen and 6 to 24 capital letters or digits, e.g. VN-000100000001"),
    ({"consignments": ["VN ORD000000001"]}, "body.consignments.0", "e.g. VN-000100000001"),
    ({"consignments": ["VN-ORD000000001", "VN-ORD000000002", "VN-ORD000000003"]}, "body.consignments",
     "at most 2 consignments on one order (one AGV carries two 20' containers or one 40'): 3 given"),
    ({"consignments": []}, "body.consignments", "at least one consignment"),
    ({"direction": "VN-CN"}, "body.direction", "e.g. VN->CN"),
])
def test_a_malformed_order_is_refused_in_plain_words(client, body, change, field, says):
    """Found by hand: a malformed consignment id was refused "String should match pattern '^[A-Z]{2}-[A-Z0-9]{6,24}$'"
    and a third consignment "List should have at most 2 items after validation": pydantic's words and a regex, not
    what a dispatcher can act on."""
    reply = create(client, {**body, **change})
    assert reply.status_code == 422 and reply.json()["field"] == field, reply.text
    said = reply.json()["detail"][0]["msg"]
    assert says in said, said
    assert not re.search(r"pattern|after validation|\^|Value error", said), said
    assert total(client) == 0


def test_a_consignment_id_in_lower_case_is_taken_in_upper_case_as_customs_writes_it(client, services, customs, body):
    """Found by hand: "vn-ord000000001" was refused with a regex. Customs ids are upper case (an event with another
    is refused), so the lower-case one can only mean the upper-case one: it is taken so, and customs' events about
    it reach it (here: declared the other way, 409 as for the id typed in upper case)."""
    reply = create(client, {**body, "consignments": [" vn-ord000000001 "]})
    assert reply.status_code == 201, reply.text
    assert reply.json()["consignments"] == ["VN-ORD000000001"]
    reply = create(client, {**body, "consignments": ["vn-ord000000001"]})
    assert reply.status_code == 409 and "VN-ORD000000001 is already on active order" in reply.json()["detail"]
    declared = customs.vn.event("declaration.accepted", "VN-ORD000000003", direction="CN->VN")
    assert services.gate.ingest(declared, "t").acknowledged
    reply = create(client, {**body, "consignments": ["vn-ORD000000003"]})
    assert reply.status_code == 409 and "customs declared VN-ORD000000003 for CN->VN" in reply.json()["detail"]


def test_a_malformed_filter_is_refused_in_plain_words(client):
    """The same words for a query's patterns: "direction=VN-CN" said "String should match pattern '^[A-Z]{2}->...'"."""
    for params, field, says in (({"direction": "VN-CN"}, "query.direction", "e.g. VN->CN"),
                                ({"vehicle_id": "AGV-1"}, "query.vehicle_id", "e.g. agv_001")):
        reply = client.get("/api/v1/orders", params=params, headers=DISPATCHER)
        assert reply.status_code == 422 and reply.json()["field"] == field
        assert says in reply.json()["detail"][0]["msg"] and "pattern" not in reply.json()["detail"][0]["msg"]


#: an order's way from created to delivered, each state after the one before (TRANSITIONS)
ACROSS_AND_DELIVERED = ("assigned", "to_pickup", "loaded", "awaiting_clearance", "cleared", "crossing", "to_drop",
                        "delivered")


def moved(services, order_id: str, states) -> None:
    """The order moved through ``states`` as its vehicle would have taken it."""
    for state in states:
        services.orders.transition(order_id, state, "test", {"kind": "system"},
                                   vehicle_id="agv_001" if state == "assigned" else None)


def test_a_consignment_delivered_across_is_not_booked_to_cross_again(client, services, body):
    """Found by trying it as a dispatcher: a second order for a consignment whose order was delivered was 201, and its
    vehicle would have been let across on the customs release of the first crossing. A consignment crosses once per
    declaration: the new order is refused, naming the consignment and the order that took it across."""
    services.dispatcher.stop()  # the orders move only as the test moves them
    first = create(client, body).json()["id"]
    moved(services, first, ACROSS_AND_DELIVERED)
    reply = create(client, body)
    assert reply.status_code == 409 and reply.json()["field"] == "consignments", reply.text
    said = reply.json()["detail"]
    assert f"consignment {body['consignments'][0]} already crossed VN->CN with order {first} (delivered)" in said, said
    assert total(client) == 1


@pytest.mark.parametrize("ended", [("assigned", "to_pickup", "loaded", "cancelled"),
                                   ("assigned", "to_pickup", "loaded", "awaiting_clearance", "cleared", "crossing",
                                    "to_drop", "failed")])
def test_a_consignment_is_booked_again_only_if_its_order_ended_short_of_the_border(client, services, body, ended):
    """An order cancelled with its container still on this side leaves it to be booked again (the load taken off);
    one that ended across the border (its drop failed over there) used the crossing all the same."""
    services.dispatcher.stop()
    first = create(client, body).json()["id"]
    moved(services, first, ended)
    reply = create(client, body)
    crossed = "crossing" in ended
    assert reply.status_code == (409 if crossed else 201), reply.text
    if crossed:
        assert f"with order {first} (failed)" in reply.json()["detail"]


@pytest.mark.parametrize("value", [True, "5", 2.0, 1.5])
def test_a_priority_is_a_whole_number_not_a_boolean_a_text_or_a_fraction(client, body, value):
    """Found by hand: ``"priority": true`` made an order of priority 1, ``"5"`` one of 5 (pydantic's coercion)."""
    reply = create(client, {**body, "priority": value})
    assert reply.status_code == 422 and reply.json()["field"] == "body.priority", reply.text
    assert total(client) == 0


@pytest.mark.parametrize("field", ["earliest_start", "latest_delivery"])
def test_a_time_is_not_a_boolean(client, body, field):
    """``"earliest_start": true`` was the moment 1 s after 1970-01-01 (and ``false`` 0): no dispatcher means that."""
    reply = create(client, {**body, field: True})
    assert reply.status_code == 422 and reply.json()["field"] == f"body.{field}", reply.text
    assert total(client) == 0


@pytest.mark.parametrize("ended", [("cancelled",), ("assigned", "failed"), ACROSS_AND_DELIVERED])
def test_cancelling_a_finished_order_says_it_is_already_finished_and_nothing_changed(client, services, body, ended):
    """Was 409 "order ord-... is delivered: it cannot become cancelled", the lifecycle's words for a dispatcher."""
    services.dispatcher.stop()
    order_id = create(client, body).json()["id"]
    moved(services, order_id, ended)
    reply = client.post(f"/api/v1/orders/{order_id}/cancel", json={"reason": "late"}, headers=DISPATCHER)
    assert reply.status_code == 409 and reply.json()["field"] == "state", reply.text
    assert reply.json()["detail"] == f"order {order_id} is already {ended[-1]}: nothing was changed"
    assert client.get(f"/api/v1/orders/{order_id}", headers=DISPATCHER).json()["state"] == ended[-1]


def test_a_store_of_before_crossed_consignments_were_kept_refuses_them_once_upgraded(client, services, body,
                                                                                       store_location):
    """Migration 0007: a consignment delivered while an order let go of its consignments as it finished is refused
    after the upgrade as one delivered since."""
    import sqlalchemy as sa

    from fleet.store import Store

    services.dispatcher.stop()
    first = create(client, body).json()["id"]
    moved(services, first, ACROSS_AND_DELIVERED)
    with services.store.engine.begin() as conn:  # as the previous version left the store
        conn.execute(sa.text("DELETE FROM order_consignments"))
        conn.execute(sa.text("ALTER TABLE vehicles DROP COLUMN released_way"))  # (migration 0008's)
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0006'"))
    Store(store_location).close()  # upgrades on open
    reply = create(client, body)
    assert reply.status_code == 409 and f"with order {first} (delivered)" in reply.json()["detail"], reply.text
