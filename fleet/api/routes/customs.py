"""Customs events in, clearance and gate answers out."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from fleet.api.deps import CallerDep, GateDep
from fleet.customs.envelope import CONSIGNMENT_PATTERN, DIRECTION_PATTERN, VEHICLE_PATTERN

router = APIRouter(tags=["customs"])


class IngestReply(BaseModel):
    status: str  # ACK or NACK
    outcome: str  # accepted | duplicate | refused
    event_id: str | None = None
    reason: str | None = None


@router.post("/customs/events", response_model=IngestReply, responses={
    400: {"model": IngestReply, "description": "refused (NACK) with the reason; nothing applied"},
    403: {"model": IngestReply, "description": "the token's authority may not post this authority's events"}})
async def post_event(request: Request, gate: GateDep, caller: CallerDep) -> Any:
    """Submit one signed event (the envelope of docs/customs-protocol.md). At-least-once: resend until ACK."""
    if caller.customs_authority is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only a customs authority's token may post events")
    body = await request.body()
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
    consignments: Annotated[str, Query(description="comma-separated consignment ids aboard")] = "",
) -> dict[str, Any]:
    """The full gate rule for this vehicle now; the answer is recorded in the audit log as a decision."""
    if direction not in gate.directions:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"direction must be one of {sorted(gate.directions)}")
    aboard = [c for c in (part.strip() for part in consignments.split(",")) if c]
    malformed = [c for c in aboard if not re.match(CONSIGNMENT_PATTERN, c)]
    if malformed:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"malformed consignment ids {malformed}: each must match {CONSIGNMENT_PATTERN}")
    return gate.decide(vehicle_id, direction, aboard).as_dict()
