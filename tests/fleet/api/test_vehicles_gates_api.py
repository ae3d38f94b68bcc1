"""Vehicles and gates over HTTP against the real dispatcher and in-process vehicles: the actions reach the
vehicle, a service change and a gate hold are kept and shown, each recorded as a staff action with its reason."""

from __future__ import annotations

from fleet.vehicles.link import wait_for
from tests.fleet.api.conftest import VEHICLES, auth, staff_actions_of

VIEWER, DISPATCHER, OPERATOR = auth("viewer"), auth("dispatcher"), auth("operator")


def eventually(predicate, timeout_s: float = 5.0) -> bool:
    return wait_for(predicate, timeout_s)


def test_list_and_read_vehicles(client):
    vehicles = client.get("/api/v1/vehicles", headers=VIEWER).json()
    assert [v["id"] for v in vehicles] == [f"agv_{i:03d}" for i in range(1, VEHICLES + 1)]
    assert eventually(lambda: client.get("/api/v1/vehicles/agv_001", headers=VIEWER).json()["connection"] == "ONLINE")
    one = client.get("/api/v1/vehicles/agv_001", headers=VIEWER).json()
    assert one["last_node"] and one["battery"] is not None and one["in_service"]
    assert client.get("/api/v1/vehicles/agv_999", headers=VIEWER).status_code == 404
    assert client.get("/api/v1/vehicles/Not-An-Id", headers=VIEWER).status_code == 422


def test_pause_and_resume_reach_the_vehicle(client, services, link):
    reply = client.post("/api/v1/vehicles/agv_002/actions", json={"action": "pause", "reason": "inspection"},
                        headers=DISPATCHER)
    assert reply.status_code == 200, reply.text
    assert link.state("agv_002").paused
    assert client.post("/api/v1/vehicles/agv_002/actions", json={"action": "resume", "reason": "done"},
                       headers=DISPATCHER).status_code == 200
    assert not link.state("agv_002").paused
    assert [(a["action"], a["target"], a["reason"], a["role"]) for a in staff_actions_of(services)] == [
        ("pause", "vehicle:agv_002", "inspection", "dispatcher"), ("resume", "vehicle:agv_002", "done", "dispatcher")]


def test_bad_actions_are_4xx(client):
    for body in ({"action": "fly", "reason": "x"}, {"action": "pause"}, {"action": "pause", "reason": ""}):
        reply = client.post("/api/v1/vehicles/agv_001/actions", json=body, headers=DISPATCHER)
        assert reply.status_code == 422, body
    reply = client.post("/api/v1/vehicles/agv_999/actions", json={"action": "pause", "reason": "x"}, headers=DISPATCHER)
    assert reply.status_code == 404


def test_fleet_emergency_stop_and_release(client, link):
    reply = client.post("/api/v1/vehicles/emergency-stop", json={"reason": "fire drill"}, headers=OPERATOR)
    assert reply.status_code == 200 and len(reply.json()["vehicles"]) == VEHICLES
    assert all(link.state(f"agv_{i:03d}").e_stop != "NONE" for i in range(1, VEHICLES + 1))
    assert client.post("/api/v1/vehicles/release-emergency-stop", json={"reason": "drill over"},
                       headers=OPERATOR).status_code == 200
    assert all(link.state(f"agv_{i:03d}").e_stop == "NONE" for i in range(1, VEHICLES + 1))


def test_out_of_service_and_back_survives_in_the_registry(client, services):
    reply = client.post("/api/v1/vehicles/agv_003/service", json={"in_service": False, "reason": "brakes"},
                        headers=OPERATOR)
    assert reply.status_code == 200
    assert (reply.json()["in_service"], reply.json()["service_reason"]) == (False, "brakes")
    assert {v.id: v.in_service for v in services.registry.all()}["agv_003"] is False
    reply = client.post("/api/v1/vehicles/agv_003/service", json={"in_service": True, "reason": "fixed"},
                        headers=OPERATOR)
    assert reply.json()["in_service"] is True
    assert [a["action"] for a in staff_actions_of(services)] == ["out_of_service", "in_service"]


def test_gates_hold_and_release(client, services):
    gates = client.get("/api/v1/gates", headers=VIEWER).json()
    assert gates and all(not g["held"] for g in gates)
    gate = gates[0]["id"]
    held = client.post(f"/api/v1/gates/{gate}/hold", json={"reason": "suspicious load"}, headers=OPERATOR)
    assert held.status_code == 200 and held.json()["held"] and held.json()["hold_reason"] == "suspicious load"
    assert {g["id"]: g["held"] for g in client.get("/api/v1/gates", headers=VIEWER).json()}[gate]
    released = client.post(f"/api/v1/gates/{gate}/release", json={"reason": "cleared"}, headers=OPERATOR)
    assert released.status_code == 200 and not released.json()["held"]
    assert [(a["action"], a["target"]) for a in staff_actions_of(services)] == [
        ("hold_gate", f"gate:{gate}"), ("release_gate", f"gate:{gate}")]
    assert client.post("/api/v1/gates/no_gate/hold", json={"reason": "x"}, headers=OPERATOR).status_code == 404
    assert client.post(f"/api/v1/gates/{gate}/hold", json={}, headers=OPERATOR).status_code == 422


def test_a_cancel_between_nodes_is_refused_with_what_to_do_instead(client, link, services):
    node = services.corridor.nodes[link.state("agv_001").last_node_id]
    link.move_by_hand("agv_001", node.x + 3.0, node.y)  # paused on its way, say: between nodes
    track = services.dispatcher.tracks["agv_001"]
    assert eventually(lambda: track.state is not None and abs(track.state.pose.x - node.x - 3.0) < 0.01)
    reply = client.post("/api/v1/vehicles/agv_001/actions", json={"action": "cancel", "reason": "x"},
                        headers=DISPATCHER)
    assert reply.status_code == 409, reply.text
    assert f"agv_001 stands 3.0 m from {node.id}, between nodes" in reply.text and "Pause it" in reply.text
    link.move_by_hand("agv_001", node.x, node.y)
    assert eventually(lambda: track.state is not None and abs(track.state.pose.x - node.x) < 0.01)
    assert client.post("/api/v1/vehicles/agv_001/actions", json={"action": "cancel", "reason": "x"},
                       headers=DISPATCHER).status_code == 200
