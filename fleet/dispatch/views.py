"""What the dispatcher shows of vehicles and gates (the API's Public models), and the actions it takes."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from agv_agent.protocol import OperatingMode
from pydantic import BaseModel


class VehicleAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    EMERGENCY_STOP = "emergency_stop"
    RELEASE_EMERGENCY_STOP = "release_emergency_stop"


class VehicleView(BaseModel):
    id: str
    home: str
    may_cross: bool
    in_service: bool
    service_reason: str | None = None
    connection: str | None = None  # ONLINE | OFFLINE | CONNECTIONBROKEN | None (never heard of)
    state_age_s: float | None = None
    #: its last state came within a few seconds (fleet.dispatch.steps.REPORTING_S): the age is as of this view;
    #: once it stops reporting, a view says so, and the age grows from there
    reporting: bool = False
    last_node: str | None = None
    x: float | None = None
    y: float | None = None
    theta: float | None = None
    speed: float = 0.0
    battery: float | None = None
    driving: bool = False
    paused: bool = False
    e_stop: str = "NONE"
    #: VDA 5050: MANUAL, SERVICE or TEACHIN is a vehicle people drive; it takes no order (unavailable meanwhile)
    operating_mode: OperatingMode = OperatingMode.AUTOMATIC
    errors: list[str] = []
    order_id: str | None = None
    job: str | None = None  # deliver | park | charge | hold, or None when idle
    released_nodes: list[str] = []
    horizon_nodes: list[str] = []
    #: why it stands still though it has somewhere to go: the planner found no way for now (a goal taken, the
    #: lanes ahead reserved), as it last said; tried again every few seconds. None when it is not stalled.
    stalled_because: str | None = None
    #: consignments aboard that no order carries any more (cancelled once loaded, or a failed drop): the vehicle
    #: waits at a holding bay until an operator says they were taken off (POST /vehicles/{id}/load-removed)
    held_load: list[str] = []
    held_at: str | None = None  # the holding bay it waits at with ``held_load``, once there


class WaitingVehicle(BaseModel):
    vehicle_id: str
    order_id: str | None
    #: where it waits: the gate itself, or past it, the last node before the crossing (relay: before the handoff pad)
    at: str
    direction: str
    consignments: list[str]
    allowed: bool  # it may go on now: the gate rule allows it and nothing else keeps it (a hold, relay: its partner)
    reasons: list[str]
    authorities: dict[str, Any]


class GateView(BaseModel):
    id: str
    side: str
    held: bool
    hold_reason: str | None = None
    queue: list[WaitingVehicle] = []
