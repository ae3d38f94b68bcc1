"""Every mutating route checks the caller: no token or an unknown one is a 401, a role that may not is a 403
and changes nothing; each route is also taken by a role that may (so the table cannot pass vacuously)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fleet.alarms import AlarmKind
from fleet.orders import OrderCreate
from fleet.store.schema import orders, staff_actions
from planner.corridor import NodeKind
from tests.fleet.api.conftest import auth, token

REASON = {"reason": "test"}
ORDER = {"consignments": ["VN-ROLE00000001"], "pickup": "{vn_dock}", "drop": "{cn_dock}"}

#: (method, path, body, a role that may, roles that may not)
MUTATING = [
    ("POST", "/orders", ORDER, "dispatcher", ["viewer", "operator", "customs:VN_CUSTOMS"]),
    ("POST", "/orders/{order}/cancel", REASON, "dispatcher", ["viewer", "operator", "customs:CN_CUSTOMS"]),
    ("POST", "/vehicles/agv_001/actions", {"action": "pause", **REASON}, "dispatcher",
     ["viewer", "operator", "customs:VN_CUSTOMS"]),
    ("POST", "/vehicles/agv_001/actions", {"action": "emergency_stop", **REASON}, "operator",
     ["viewer", "dispatcher", "customs:VN_CUSTOMS"]),
    ("POST", "/vehicles/emergency-stop", REASON, "operator", ["viewer", "dispatcher", "customs:VN_CUSTOMS"]),
    ("POST", "/vehicles/release-emergency-stop", REASON, "operator", ["viewer", "dispatcher"]),
    ("POST", "/vehicles/agv_001/service", {"in_service": False, **REASON}, "operator", ["viewer", "dispatcher"]),
    ("POST", "/vehicles/agv_002/load-removed", REASON, "operator", ["viewer", "dispatcher", "customs:CN_CUSTOMS"]),
    ("POST", "/gates/{gate}/hold", REASON, "operator", ["viewer", "dispatcher", "customs:CN_CUSTOMS"]),
    ("POST", "/gates/{gate}/release", REASON, "operator", ["viewer", "dispatcher", "customs:CN_CUSTOMS"]),
    ("POST", "/alarms/{alarm}/acknowledge", None, "operator", ["viewer", "dispatcher", "customs:VN_CUSTOMS"]),
]
READS = ["/map", "/vehicles", "/vehicles/agv_001", "/orders", "/gates", "/alarms"]


@pytest.fixture
def targets(services):
    """The ids the table's paths and bodies name: an order to cancel, a gate, an alarm; agv_002 holds a load."""
    docks = {side: sorted(n.id for n in services.corridor.nodes_of(NodeKind.DOCK, jurisdiction=side))
             for side in ("VN", "CN")}
    order, _ = services.orders.create(OrderCreate(consignments=["VN-ROLE00000002"], pickup=docks["VN"][0],
                                                  drop=docks["CN"][0]), "test")
    alarm = services.alarms.raise_alarm(AlarmKind.LOW_BATTERY, "agv_001", "low")
    gates = [n.id for n in services.corridor.nodes_of(NodeKind.GATE)]
    assert gates
    held, _ = services.orders.create(OrderCreate(consignments=["VN-ROLE00000003"], pickup=docks["VN"][1],
                                                 drop=docks["CN"][1]), "test")
    track = services.dispatcher.tracks["agv_002"]  # a load left aboard, for the operator to say it was taken off
    track.job = services.dispatcher._hold_the_load(track, docks["VN"][1], held)
    track.job.held_at = track.job.goals[0]  # and stands at its bay
    return {"order": order.id, "gate": gates[0], "alarm": alarm.id, "vn_dock": docks["VN"][0],
            "cn_dock": docks["CN"][0]}


def _request(client, method, path, body, targets, headers):
    body = None if body is None else {k: (v.format(**targets) if isinstance(v, str) else v) for k, v in body.items()}
    return client.request(method, "/api/v1" + path.format(**targets), json=body, headers=headers)


def _counts(services) -> tuple[int, int]:
    with services.store.reading() as conn:
        return (conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one(),
                conn.execute(sa.select(sa.func.count()).select_from(staff_actions)).scalar_one())


@pytest.mark.parametrize(("method", "path", "body", "allowed", "denied"), MUTATING,
                         ids=[f"{m[1]}-{(m[2] or {}).get('action', '')}" for m in MUTATING])
def test_mutating_route_401_403_and_allowed(client, services, targets, method, path, body, allowed, denied):
    before = _counts(services)
    for headers in ({}, {"Authorization": "Bearer not-a-token-0123456789"}):
        reply = _request(client, method, path, body, targets, headers)
        assert reply.status_code == 401, reply.text
    for role in denied:
        reply = _request(client, method, path, body, targets, auth(role))
        assert reply.status_code == 403, (role, reply.text)
    assert _counts(services) == before, "a refused call changed something"
    for role in (allowed, "admin"):
        reply = _request(client, method, path, body, targets, auth(role))
        assert reply.status_code < 300 or (role == "admin" and reply.status_code in (200, 409)), (role, reply.text)


#: a request without a known token: none, an unknown one, or one in the query (the HTTP API takes the header only)
NO_CALLER = [("", {}), ("", {"Authorization": "Bearer not-a-token-0123456789"}),
             ("?token=not-a-token-0123456789", {}), (f"?token={token('dispatcher')}", {})]
BAD_BODIES = ["not json", '{"unexpected": 1}', "[]"]


@pytest.mark.parametrize(("method", "path"), sorted({(m[0], m[1]) for m in MUTATING} | {("POST", "/customs/events")}
                                                    | {("GET", path) for path in READS}))
def test_401_goes_before_any_422(client, targets, method, path):
    """Found by hand: a token in the query and an invalid body were a 422 (the query parameter, then the body)
    before the 401, so a caller without a token learnt what the route validates; invalid JSON was a 422 with a
    header token too. Whatever the body and the query, no known token is a 401."""
    for query, headers in NO_CALLER:
        for body in BAD_BODIES:
            reply = client.request(method, "/api/v1" + path.format(**targets) + query, content=body,
                                   headers={"Content-Type": "application/json", **headers})
            assert reply.status_code == 401, (query, headers, body, reply.text)
            assert reply.json() == {"detail": "missing or unknown bearer token"}
            assert reply.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("path", READS)
def test_reads_are_for_staff(client, path):
    assert client.get("/api/v1" + path).status_code == 401
    assert client.get("/api/v1" + path, headers=auth("customs:VN_CUSTOMS")).status_code == 403
    for role in ("viewer", "dispatcher", "operator", "admin"):
        assert client.get("/api/v1" + path, headers=auth(role)).status_code == 200, role


def test_customs_authorities_read_the_audit_log(client):
    for role in ("customs:VN_CUSTOMS", "customs:CN_CUSTOMS", "viewer"):
        assert client.get("/api/v1/audit/verify", headers=auth(role)).status_code == 200
    assert client.get("/api/v1/audit").status_code == 401


def test_no_dependency_is_handed_to_the_thread_pool(client, services, monkeypatch):
    """Looking up the services, the views and the caller's role is done on the event loop, and so is a read
    route's answer when it is built already: each hand-off to the thread pool cost a wait for the GIL among
    the API's forty threads per request. Only building an answer (a store read, the loop's lock) goes there."""
    import anyio.to_thread

    hand_offs = []
    original = anyio.to_thread.run_sync

    async def counted(func, *args, **kwargs):
        hand_offs.append(getattr(getattr(func, "func", func), "__name__", repr(func)))  # a partial's function
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    monkeypatch.setattr(services.dispatcher, "built_json", lambda view, vehicle_id=None: None)
    assert client.get("/api/v1/vehicles", headers=auth("viewer")).status_code == 200
    assert hand_offs == ["vehicles_json"]  # the build only
    hand_offs.clear()
    monkeypatch.setattr(services.dispatcher, "built_json", lambda view, vehicle_id=None: b"[]")
    answer = client.get("/api/v1/vehicles", headers=auth("viewer"))
    assert answer.json() == [] and hand_offs == []
    assert client.get("/api/v1/health").status_code == 200
    assert hand_offs == []


#: every route that takes a body, each with a known role that may not take it (a dispatcher and an operator may
#: take /actions: which action each may is read from the body, so a malformed one is their 422)
BODY_ROUTES_DENIED = sorted({(m[0], m[1], role) for m in MUTATING if m[2] is not None for role in m[4]
                             if not (m[1].endswith("/actions") and role in ("dispatcher", "operator"))}
                            | {("POST", "/customs/events", "viewer"), ("POST", "/customs/events", "admin")})


@pytest.mark.parametrize(("method", "path", "role"), BODY_ROUTES_DENIED)
def test_403_goes_before_any_422(client, services, targets, method, path, role):
    """Found by hand: a viewer's order or gate hold with a malformed body was a 422 (its validation errors, the
    route's schema told to a caller who may not use it) instead of a 403. Whatever the body and the query, a
    known token whose role may not take the route is a 403, and nothing changes."""
    before = _counts(services)
    for query in ("", "?unexpected=1"):
        for body in BAD_BODIES:
            reply = client.request(method, "/api/v1" + path.format(**targets) + query, content=body,
                                   headers={"Content-Type": "application/json", **auth(role)})
            assert reply.status_code == 403, (query, body, reply.text)
            assert reply.json()["detail"].startswith(f"role {role} may not") or "customs authority" in reply.text
    assert _counts(services) == before
