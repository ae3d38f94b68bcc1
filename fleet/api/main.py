"""Wires the FastAPI app: settings, services on ``app.state``, one router per resource under /api/v1."""

from __future__ import annotations

from fastapi import FastAPI

from fleet.api.routes import customs
from fleet.config import Settings
from fleet.customs.gate import CustomsGate

API_PREFIX = "/api/v1"


def create_app(settings: Settings, gate: CustomsGate) -> FastAPI:
    app = FastAPI(title="xborder fleet manager", version="0.1.0",
                  description="Cargo AGVs across the Vietnam-China border at Bac Luan II: customs gate and fleet API.")
    app.state.gate = gate
    app.state.tokens = {t.token: t.role for t in settings.auth.tokens}
    app.include_router(customs.router, prefix=API_PREFIX)

    @app.get(f"{API_PREFIX}/health", tags=["health"])
    def health() -> dict[str, object]:
        """Liveness only, without a token; the customs links' state is GET /health/customs (token)."""
        return {"status": "ok"}

    return app
