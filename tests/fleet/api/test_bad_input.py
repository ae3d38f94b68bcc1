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


LONE_SURROGATE = r'"\ud800"'  # JSON text a client may send; no UTF-8 encodes it: was a 500 (UnicodeEncodeError)
BAD += [
    ("POST", "/gates/vn_gate_out_1/hold", f'{{"reason": {LONE_SURROGATE}}}'),
    ("POST", "/orders", f'{{"consignments": [{LONE_SURROGATE}], "pickup": "vn_dock_1", "drop": "cn_dock_1"}}'),
    ("POST", "/orders", f'{{"consignments": ["VN-ABC0000001"], "pickup": {LONE_SURROGATE}, "drop": "cn_dock_1"}}'),
    ("POST", "/orders/ord-x/cancel", f'{{"reason": {LONE_SURROGATE}}}'),
    ("POST", "/vehicles/agv_001/actions", f'{{"action": "pause", "reason": {LONE_SURROGATE}}}'),
    ("POST", "/vehicles/emergency-stop", f'{{"reason": {LONE_SURROGATE}}}'),
    ("POST", "/vehicles/agv_001/service", f'{{"in_service": false, "reason": {LONE_SURROGATE}}}'),
]


# Python's JSON reader takes NaN, Infinity and 1e400; the 422 echoing them back was a 500 (JSON has no such numbers)
ORDER = '"consignments": ["VN-100000000001"], "pickup": "vn_dock_1", "drop": "cn_dock_1"'
BAD += [
    ("POST", "/orders", f'{{{ORDER}, "priority": NaN}}'),
    ("POST", "/orders", f'{{{ORDER}, "latest_delivery": 1e400}}'),
    ("POST", "/orders", f'{{{ORDER}, "earliest_start": NaN}}'),
    ("POST", "/orders/ord-x/cancel", '{"reason": NaN}'),
    ("POST", "/vehicles/agv_001/service", '{"in_service": NaN, "reason": "x"}'),
    ("POST", "/vehicles/emergency-stop", '{"reason": Infinity}'),
    ("POST", "/gates/vn_gate_out_1/hold", '{"reason": -Infinity}'),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD, ids=[f"{m} {p[:40]}" for m, p, _ in BAD])
def test_bad_input_is_4xx(client, method, path, body):
    kwargs = {"content": body, "headers": {**ADMIN, "content-type": "application/json"}} if isinstance(body, str) \
        else {"json": body, "headers": ADMIN}
    reply = client.request(method, "/api/v1" + path, **kwargs)
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


def test_a_422_echoes_a_lone_surrogate_escaped_and_a_long_input_cut(client):
    """A lone surrogate in a field was a 500 (UnicodeEncodeError writing the 422); a 500 KB field was echoed whole."""
    reply = client.post("/api/v1/gates/vn_gate_out_1/hold", content=f'{{"reason": {LONE_SURROGATE}}}',
                        headers={**ADMIN, "content-type": "application/json"})
    assert reply.status_code == 422 and reply.json()["field"] == "body.reason"
    assert reply.json()["detail"][0]["input"] == "\ud800"
    huge = {"consignments": "x" * 500_000, "pickup": "vn_dock_1", "drop": "cn_dock_1"}
    reply = client.post("/api/v1/orders", json=huge, headers=ADMIN)
    assert reply.status_code == 422 and len(reply.content) < 2_000, len(reply.content)
