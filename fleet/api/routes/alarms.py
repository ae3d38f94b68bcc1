"""Alarms for the control room: list (open ones only, if asked) and acknowledge."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel

from fleet.alarms import Alarm
from fleet.api.deps import MAX_ID, Operating, Reader, ServicesDep

router = APIRouter(tags=["alarms"])


class AlarmPage(BaseModel):
    alarms: list[Alarm]
    total: int
    limit: int
    offset: int


@router.get("/alarms", response_model=AlarmPage)
def list_alarms(services: ServicesDep, _: Reader, open: bool = False,
                limit: Annotated[int, Query(ge=1, le=500)] = 100,
                offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> AlarmPage:
    """Newest first; ``open=true``: only those not yet acknowledged."""
    page, total = services.alarms.list(open_only=open, limit=limit, offset=offset)
    return AlarmPage(alarms=page, total=total, limit=limit, offset=offset)


@router.post("/alarms/{alarm_id}/acknowledge", response_model=Alarm)
def acknowledge(alarm_id: Annotated[int, Path(ge=1, le=MAX_ID)], services: ServicesDep,
                caller: Operating) -> Alarm:
    try:
        return services.alarms.acknowledge(alarm_id, caller.role)
    except KeyError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alarm {alarm_id}") from None
