"""Bad input is a 4xx, never a 5xx: a table of malformed requests against every route family, plus the
OpenAPI document every route must appear in."""

from __future__ import annotations

import pytest

from tests.fleet.api.conftest import auth

ADMIN = auth("admin")
HUGE = str(2**70)

BAD = [
    ("GET", "/audit?after=" + HUGE, None),
    ("GET", "/audit?after=-1", None),
    ("GET", "/audit?limit=abc", None),
    ("GET", "/alarms?offset=" + HUGE, None),
    ("POST", f"/alarms/{HUGE}/acknowledge", None),
    ("GET", "/orders?offset=" + HUGE, None),
    ("GET", "/orders?vehicle_id=NOT%20AN%20ID", None),
    ("GET", "/orders/" + "x" * 5000, None),
    ("POST", "/orders", "not json"),
    ("POST", "/orders", []),
    ("POST", "/orders", {"consignments": "VN-ABC0000001", "pickup": 1, "drop": None}),
    ("POST", "/orders/ord-x/cancel", {"reason": "x" * 501}),
    ("POST", "/vehicles/agv_001/actions", {"action": None, "reason": "x"}),
    ("POST", "/vehicles/agv_001/service", {"in_service": "maybe", "reason": "x"}),
    ("POST", "/vehicles/emergency-stop", {"reason": "x", "extra": 1}),
    ("POST", "/vehicles/agv_001/load-removed", {"reason": "x"}),  # it holds no load: 409
    ("POST", "/vehicles/agv_999/load-removed", {"reason": "x"}),
    ("POST", "/gates/" + "g" * 100 + "/hold", {"reason": "x"}),
    ("GET", "/vehicles/" + "a" * 100, None),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD, ids=[f"{m} {p[:40]}" for m, p, _ in BAD])
def test_bad_input_is_4xx(client, method, path, body):
    kwargs = {"content": body} if isinstance(body, str) else {"json": body}
    reply = client.request(method, "/api/v1" + path, headers=ADMIN, **kwargs)
    assert 400 <= reply.status_code < 500, reply.text


def test_openapi_lists_every_resource(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/map", "/api/v1/vehicles", "/api/v1/vehicles/{vehicle_id}/actions", "/api/v1/orders",
                 "/api/v1/orders/{order_id}/cancel", "/api/v1/gates/{gate_id}/hold", "/api/v1/audit/export",
                 "/api/v1/alarms/{alarm_id}/acknowledge", "/api/v1/customs/events"):
        assert path in paths, path


@pytest.mark.parametrize(("path", "unknown"), [("/orders?status=created", "status"),
                                               ("/audit?kinds=decision", "kinds"),
                                               ("/alarms?open=true&acknowledged=false", "acknowledged"),
                                               ("/vehicles?limit=5", "limit")])
def test_a_query_parameter_a_route_does_not_take_is_refused_not_ignored(client, path, unknown):
    """A misspelt filter (``status`` for ``state``) answered the whole list as if it were the filtered one."""
    reply = client.get("/api/v1" + path, headers=ADMIN)
    assert reply.status_code == 422, reply.text
    assert reply.json()["field"] == f"query.{unknown}" and unknown in reply.json()["detail"][0]["msg"]


def test_the_query_parameters_a_route_takes_are_answered(client):
    assert client.get("/api/v1/orders?state=created&limit=5", headers=ADMIN).status_code == 200
    assert client.get("/api/v1/audit?kind=decision&kind=alarm&after=0", headers=ADMIN).status_code == 200
    assert client.get("/api/v1/map?frame=local", headers=ADMIN).status_code == 200
