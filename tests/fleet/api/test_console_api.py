"""What the dispatcher console reads besides the resources: the caller's session, the KPI summary, the map in
the vehicles' frame, and the console's own files served at /."""

from __future__ import annotations

import pytest

from fleet.orders import OrderState
from tests.fleet.api.conftest import auth

VIEWER = auth("viewer")
S = OrderState


ALLOWED = {"viewer": set(), "dispatcher": {"orders", "vehicle_actions"},
           "operator": {"emergency_stop", "gates", "alarms"},
           "admin": {"orders", "vehicle_actions", "emergency_stop", "gates", "alarms"}, "customs:VN_CUSTOMS": set()}


def test_session_names_the_role_and_what_it_may_do(client):
    for role, allowed in ALLOWED.items():
        session = client.get("/api/v1/session", headers=auth(role)).json()
        assert session["role"] == role
        assert {name for name, may in session["permissions"].items() if may} == allowed, role
    reply = client.get("/api/v1/session", headers={"Authorization": "Bearer expired-token"})
    assert reply.status_code == 401 and reply.json()["detail"] == "missing or unknown bearer token"


def test_summary_counts_crossings_and_gate_waits_of_the_last_hour(client, services, customs, docks, monkeypatch):
    def order(consignment: str, pickup: str, drop: str) -> str:
        created = client.post("/api/v1/orders", headers=auth("dispatcher"),
                              json={"consignments": [consignment], "pickup": pickup, "drop": drop})
        assert created.status_code == 201
        return created.json()["id"]

    def walk(order_id: str, *states: OrderState) -> None:
        for state in states:
            services.orders.transition(order_id, state, "test", {"kind": "system"})

    waited, straight, old, other = (order(f"VN-SUM00000000{i}", docks["VN"][i], docks["CN"][i]) for i in range(4))
    walk(old, S.ASSIGNED, S.TO_PICKUP, S.LOADED, S.CROSSING)  # crossed more than an hour before "now"
    customs.clock.now += 3700
    walk(waited, S.ASSIGNED, S.TO_PICKUP, S.LOADED, S.AWAITING_CLEARANCE)
    customs.clock.now += 90
    walk(waited, S.CLEARED)
    customs.clock.now += 300  # the drive from its gate to the border line: not a wait
    walk(waited, S.CROSSING)
    walk(straight, S.ASSIGNED, S.TO_PICKUP, S.LOADED, S.CROSSING)  # its clearance was there: a wait of 0
    walk(other, S.ASSIGNED)
    # the loop raises alarms as it ticks (vehicles silent after the clock's jump): its thread stopped and one
    # tick run here, so that the summary and the alarm list below are read at one moment (CI saw an alarm
    # raised between the two reads) and the vehicles' copies the summary counts exist (a first tick came late)
    services.dispatcher.stop()
    services.dispatcher.tick()
    summary = client.get("/api/v1/summary", headers=VIEWER).json()
    assert summary["crossings"] == {"VN->CN": 2, "CN->VN": 0}
    assert summary["gate_wait_avg_s"] == pytest.approx(45.0)
    assert summary["orders"]["crossing"] == 3 and summary["orders"]["assigned"] == 1
    assert sum(summary["vehicles"].values()) == len(services.registry.all())
    assert summary["open_alarms"] == client.get("/api/v1/alarms", params={"open": True}, headers=VIEWER).json()["total"]
    links = {link["authority"]: link for link in summary["customs_links"]}
    assert set(links) == {"VN_CUSTOMS", "CN_CUSTOMS"} and not links["VN_CUSTOMS"]["up"]  # never heard from
    assert summary["vehicle_link_trouble"] is None
    monkeypatch.setattr(services.link, "trouble", lambda: "lost the MQTT broker 127.0.0.1:1883 (Unspecified error): "
                        "connecting again")
    said = client.get("/api/v1/summary", headers=VIEWER).json()["vehicle_link_trouble"]
    assert said == "lost the MQTT broker 127.0.0.1:1883 (Unspecified error): connecting again"


def test_summary_and_metrics_count_a_vehicle_waiting_at_its_gate_as_the_console_does(client, services, customs,
                                                                                      docks):
    """A vehicle loaded at its gate, awaiting China's clearance, is in the gate's queue: ``GET /summary`` and the
    ``xborder_vehicles`` gauge count it ``waiting_at_gate``, as the console's table, map and KPI strip do. By hand:
    both said idle, so that a capacity planner saw a free vehicle that customs held up."""
    dispatcher = services.dispatcher
    dispatcher.stop()  # the ticks driven here, on the tests' clock; the views read are taken at each read (none
    dispatcher._seen = None  # kept from the stopped loop's last tick), as for any caller driving tick() itself
    for vehicle in services.registry.all():
        for signer in (customs.vn, customs.cn):
            assert services.gate.ingest(signer.event("vehicle.authorized", vehicle_id=vehicle.id), "test").acknowledged
    created = client.post("/api/v1/orders", headers=auth("dispatcher"),
                          json={"consignments": ["VN-SUM000000009"], "pickup": docks["VN"][0], "drop": docks["CN"][0]})
    assert created.status_code == 201
    assert services.gate.ingest(customs.vn.event("released", "VN-SUM000000009", direction="VN->CN"),
                                "test").acknowledged  # China's release never comes

    def waiting_at_its_gate() -> list[str]:
        return [entry.vehicle_id for gate in dispatcher.gates() for entry in gate.queue
                if entry.at == gate.id and not dispatcher.vehicle(entry.vehicle_id).driving]

    for step in range(4800):  # at most 40 simulated minutes, in half seconds
        customs.clock.now += 0.5
        services.link.advance(0.5)
        if step % 40 == 0:  # heartbeats keep both customs links up
            for signer in (customs.vn, customs.cn):
                services.gate.ingest(signer.event("heartbeat"), "test")
        dispatcher.tick()
        if waiting_at_its_gate():
            break
    assert len(waiting_at_its_gate()) == 1
    counts = client.get("/api/v1/summary", headers=VIEWER).json()["vehicles"]
    assert counts.get("waiting_at_gate") == 1, counts
    assert sum(counts.values()) == len(services.registry.all())
    metrics = client.get("/metrics").text
    assert 'xborder_vehicles{state="waiting_at_gate"} 1.0' in metrics, metrics
    assert f'xborder_vehicles{{state="idle"}} {counts["idle"]}.0' in metrics


def test_summary_counts_the_orders_past_their_latest_delivery_until_they_are_delivered(client, services, customs,
                                                                                       docks):
    services.dispatcher.stop()  # the orders walked by hand below, not assigned meanwhile
    now = customs.clock()
    due = [client.post("/api/v1/orders", headers=auth("dispatcher"), json={
        "consignments": [f"VN-DUE00000000{i}"], "pickup": docks["VN"][i], "drop": docks["CN"][i],
        "latest_delivery": now + minutes * 60}).json()["id"] for i, minutes in enumerate((10, 20, 30))]
    client.post("/api/v1/orders", headers=auth("dispatcher"),  # no latest delivery: never overdue
                json={"consignments": ["VN-DUE000000009"], "pickup": docks["VN"][3], "drop": docks["CN"][3]})

    def overdue() -> int:
        return client.get("/api/v1/summary", headers=VIEWER).json()["orders_overdue"]

    assert overdue() == 0
    customs.clock.now += 25 * 60
    assert overdue() == 2
    for state in (S.ASSIGNED, S.TO_PICKUP, S.LOADED, S.CROSSING, S.TO_DROP, S.DELIVERED):
        services.orders.transition(due[0], state, "test", {"kind": "system"})
    services.orders.transition(due[1], S.CANCELLED, "test", {"kind": "system"})
    assert overdue() == 0
    customs.clock.now += 10 * 60
    assert overdue() == 1


def test_summary_says_a_link_is_up_once_its_authority_is_heard(client, customs, services):
    assert services.gate.ingest(customs.vn.event("heartbeat"), via="test").acknowledged
    links = {link["authority"]: link for link in client.get("/api/v1/summary", headers=VIEWER).json()["customs_links"]}
    assert links["VN_CUSTOMS"]["up"] and links["VN_CUSTOMS"]["last_heard_s"] == pytest.approx(0.0)
    assert not links["CN_CUSTOMS"]["up"] and links["CN_CUSTOMS"]["last_heard_s"] is None


def test_map_in_the_local_frame_puts_nodes_where_the_vehicles_are(client, services):
    local = client.get("/api/v1/map", params={"frame": "local"}, headers=VIEWER).json()
    assert local["frame"] == "local" and local["origin"] == {"lat": services.corridor.origin.lat,
                                                             "lon": services.corridor.origin.lon}
    points = {f["properties"]["id"]: f["geometry"]["coordinates"] for f in local["features"]
              if f["geometry"]["type"] == "Point"}
    for node in services.corridor.nodes.values():
        assert points[node.id] == pytest.approx([node.x, node.y], abs=0.002)
    wgs84 = client.get("/api/v1/map", headers=VIEWER).json()
    assert wgs84["frame"] == "wgs84" and wgs84["features"][0]["geometry"] != local["features"][0]["geometry"]
    assert client.get("/api/v1/map", params={"frame": "utm"}, headers=VIEWER).status_code == 422


def test_the_console_is_served_at_the_root_without_a_token(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'src="js/app.js"' in page.text
    for path in ("js/app.js", "console.css", "vendor/leaflet/leaflet.js", "vendor/leaflet/LICENSE"):
        assert client.get(f"/{path}").status_code == 200, path
    assert client.get("/api/v1/health").json() == {"status": "ok"}  # the API's routes still win
    assert client.get("/api/v1/no-such-thing", headers=VIEWER).status_code == 404


def test_waiting_says_why_for_the_orders_asked_about_however_many_are_more_urgent(client, services, docks):
    """The console lists the newest orders and asked ``/waiting`` for the most urgent ones: with more waiting
    than it asked for, a listed order said nothing of why it waited. It now asks about the orders it lists."""
    services.dispatcher.stop()  # no assignment round takes any of them meanwhile

    def order(consignment: str, priority: int) -> str:
        created = client.post("/api/v1/orders", headers=auth("dispatcher"), json={
            "consignments": [consignment], "pickup": docks["VN"][0], "drop": docks["CN"][0], "priority": priority})
        assert created.status_code == 201
        return created.json()["id"]

    urgent = [order(f"VN-URGENT00000{i}", 9) for i in range(3)]
    newest = order("VN-NEWEST000001", 1)
    top = client.get("/api/v1/waiting", params={"limit": 3}, headers=VIEWER).json()
    assert {w["order_id"] for w in top} == set(urgent)
    asked = client.get("/api/v1/waiting", params={"order_id": [newest, urgent[0], "ord-none"], "limit": 3},
                       headers=VIEWER).json()
    assert [w["order_id"] for w in asked] == [urgent[0], newest]  # the most urgent first; no such order: none
    assert all(w["because"] for w in asked)
