"""Customs events in, clearance and gate answers out."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from fleet.api.deps import CallerDep, CustomsAuthority, GateDep
from fleet.customs.envelope import (
    CONSIGNMENT_PATTERN,
    DIRECTION_PATTERN,
    PATTERN_WORDS,
    VEHICLE_PATTERN,
    CustomsEvent,
)
from fleet.customs.gate import MAX_EVENT_BYTES

router = APIRouter(tags=["customs"])


class IngestReply(BaseModel):
    status: str  # ACK or NACK
    outcome: str  # accepted | duplicate | refused
    event_id: str | None = None
    reason: str | None = None
    resend: bool | None = None  # on a NACK: false = the refusal is final, do not send the same event again
    checkpoint: dict[str, Any] | None = None  # the fleet's latest signed audit checkpoint


def _inline_refs(schema: Any, defs: dict[str, Any]) -> Any:
    """The JSON schema with its ``$defs`` references inlined (OpenAPI's requestBody has no ``$defs``)."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline_refs(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline_refs(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline_refs(v, defs) for v in schema]
    return schema


_EVENT_SCHEMA = CustomsEvent.model_json_schema()
_EVENT_BODY = {"requestBody": {"required": True, "description": "one signed event (docs/customs-protocol.md §2)",
                               "content": {"application/json": {"schema": _inline_refs(
                                   _EVENT_SCHEMA, _EVENT_SCHEMA.get("$defs", {}))}}}}


def _nack(code: int, reason: str) -> JSONResponse:
    return JSONResponse({"status": "NACK", "outcome": "refused", "event_id": None, "reason": reason,
                         "resend": False}, status_code=code)


async def _bounded_body(request: Request) -> bytes | None:
    """The body, or None as soon as it passes MAX_EVENT_BYTES (the rest is never read into memory)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_EVENT_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/customs/events", response_model=IngestReply, openapi_extra=_EVENT_BODY, responses={
    400: {"model": IngestReply, "description": "refused (NACK) with the reason; nothing applied"},
    403: {"model": IngestReply, "description": "the token's authority may not post this authority's events"},
    413: {"model": IngestReply, "description": f"body over {MAX_EVENT_BYTES} bytes; nothing applied"},
    415: {"model": IngestReply, "description": "the body is not declared application/json"}})
async def post_event(request: Request, gate: GateDep, caller: CustomsAuthority) -> Any:
    """Submit one signed event (the envelope of docs/customs-protocol.md). At-least-once: resend until ACK."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return _nack(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "malformed: Content-Type must be application/json")
    body = await _bounded_body(request)
    if body is None:
        return _nack(status.HTTP_413_CONTENT_TOO_LARGE, f"malformed: larger than {MAX_EVENT_BYTES} bytes")
    # signature check and SQLite commit block: run them off the event loop so reads stay responsive
    result = await run_in_threadpool(gate.ingest, body, via="http", submitted_by=caller.customs_authority)
    code = status.HTTP_200_OK if result.acknowledged else \
        status.HTTP_403_FORBIDDEN if result.forbidden else status.HTTP_400_BAD_REQUEST
    return JSONResponse(result.as_dict(), status_code=code)


@router.get("/consignments/{consignment_id}/clearance")
def consignment_clearance(consignment_id: Annotated[str, Path(pattern=CONSIGNMENT_PATTERN)], gate: GateDep,
                          _: CallerDep) -> dict[str, Any]:
    """Each authority's status for the consignment alone (vehicle conditions aside)."""
    return gate.clearance_of(consignment_id)


@router.get("/vehicles/{vehicle_id}/crossing")
def vehicle_crossing(
    vehicle_id: Annotated[str, Path(pattern=VEHICLE_PATTERN)], gate: GateDep, _: CallerDep,
    direction: Annotated[str, Query(pattern=DIRECTION_PATTERN)],
    consignments: Annotated[str, Query(max_length=4096,
                                       description="comma-separated consignment ids aboard")] = "",
) -> dict[str, Any]:
    """The full gate rule for this vehicle now. A question, not a decision: nothing is recorded or published
    (the fleet records a decision when it acts on one)."""
    if direction not in gate.directions:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"direction must be one of {sorted(gate.directions)}")
    aboard = [c for c in (part.strip() for part in consignments.split(",")) if c]
    malformed = [c for c in aboard if not re.match(CONSIGNMENT_PATTERN, c)]
    if malformed:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"malformed consignment ids {malformed[:5]}: {PATTERN_WORDS[CONSIGNMENT_PATTERN]}")
    return gate.evaluate(vehicle_id, direction, aboard).as_dict()


@router.get("/health/customs")
def customs_health(gate: GateDep, _: CallerDep) -> dict[str, Any]:
    """Seconds since each authority was last heard from (null: never), and each stream's known gaps."""
    return gate.link_health()
