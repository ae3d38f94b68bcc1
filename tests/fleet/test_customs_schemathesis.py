"""Issue 12: schemathesis against the published OpenAPI — generated requests (with no token, a viewer's and an
authority's) must never get a 5xx, and every status a customs route returns must be one the schema documents."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import status_code_conformance

from fleet.api.main import create_app
from fleet.config import Settings
from fleet.services import build_services

NAMES = ("VN_CUSTOMS", "CN_CUSTOMS")
TOKENS = ("viewer-token-0123456789", "vn-customs-token-0123456789")
# every status these return must be documented (other routes are checked for 5xx only: their owners' part)
CUSTOMS_PATHS = ("/api/v1/customs/", "/api/v1/consignments/", "/api/v1/vehicles/{vehicle_id}/crossing",
                 "/api/v1/health")


def test_published_openapi_no_server_error_and_only_documented_statuses(tmp_path, key_dir):
    services = build_services(Settings.model_validate({
        "store": {"path": str(tmp_path / "fleet.db")}, "fleet": {"link": "inprocess"},
        "customs": {"zmq": {"router": "tcp://127.0.0.1:*", "pub": "tcp://127.0.0.1:*"}, "authorities": {
            name: {"public_key": (key_dir / f"{name}.pub").read_text().strip(), "side": name[:2]} for name in NAMES}},
        "auth": {"tokens": [{"token": TOKENS[0], "role": "viewer"},
                            {"token": TOKENS[1], "role": "customs:VN_CUSTOMS"}]}}))
    try:
        _run(schemathesis.openapi.from_asgi("/openapi.json", create_app(services)))
    finally:
        services.close()


def _run(schema) -> None:
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/v1/customs/events", "/api/v1/vehicles/{vehicle_id}/crossing"}
    calls = 0
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def exercise(case) -> None:
            nonlocal calls
            for token in (None, *TOKENS):
                response = case.call(headers={"Authorization": f"Bearer {token}"} if token else {})
                calls += 1
                assert response.status_code < 500, (case.method, case.path, response.status_code,
                                                    response.text[:300])
                if "customs" in case.operation.tags or case.path.startswith(CUSTOMS_PATHS):
                    case.validate_response(response, checks=[status_code_conformance])

        exercise()
    assert calls >= 3 * len(operations)
