"""Vehicles: their live state, instant actions, a fleet-wide e-stop, and taking one out of service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status
from pydantic import BaseModel

from fleet.api.deps import Acting, Operating, Reader, Role, ServicesDep, ViewsDep, forbidden, may
from fleet.api.models import Reasoned, json_answer
from fleet.customs.envelope import VEHICLE_PATTERN
from fleet.dispatch import VehicleAction, VehicleView
from fleet.dispatch.snapshot import JsonView
from fleet.live_views import FleetViews

router = APIRouter(tags=["vehicles"])

VehicleId = Annotated[str, Path(pattern=VEHICLE_PATTERN)]
#: Who may take each action: dispatchers steer the work, operators stop the machines.
ACTION_ROLES = {VehicleAction.PAUSE: Role.DISPATCHER, VehicleAction.RESUME: Role.DISPATCHER,
                VehicleAction.CANCEL: Role.DISPATCHER, VehicleAction.EMERGENCY_STOP: Role.OPERATOR,
                VehicleAction.RELEASE_EMERGENCY_STOP: Role.OPERATOR}


class VehicleActionCreate(Reasoned):
    action: VehicleAction


class ServiceChangeCreate(Reasoned):
    in_service: bool


class Done(BaseModel):
    done: str
    vehicles: list[str]


@router.get("/vehicles", response_model=list[VehicleView])
async def list_vehicles(views: ViewsDep, _: Reader) -> Response:
    return await json_answer(views.built_json(JsonView.VEHICLES), views.vehicles_json)


@router.get("/vehicles/{vehicle_id}", response_model=VehicleView)
async def get_vehicle(vehicle_id: VehicleId, views: ViewsDep, _: Reader) -> Response:
    try:
        return await json_answer(views.built_json(JsonView.VEHICLE, vehicle_id), lambda: views.vehicle_json(vehicle_id))
    except KeyError:
        raise _unknown(vehicle_id) from None


@router.post("/vehicles/emergency-stop", response_model=Done)
def emergency_stop_all(body: Reasoned, services: ServicesDep, caller: Operating) -> Done:
    services.dispatcher.emergency_stop_all(caller.role, body.reason)
    return Done(done=VehicleAction.EMERGENCY_STOP, vehicles=[v.id for v in services.dispatcher.vehicles()])


@router.post("/vehicles/release-emergency-stop", response_model=Done)
def release_emergency_stop_all(body: Reasoned, services: ServicesDep, caller: Operating) -> Done:
    services.dispatcher.release_emergency_stop_all(caller.role, body.reason)
    return Done(done=VehicleAction.RELEASE_EMERGENCY_STOP, vehicles=[v.id for v in services.dispatcher.vehicles()])


@router.post("/vehicles/{vehicle_id}/actions", response_model=VehicleView)
def act(vehicle_id: VehicleId, body: VehicleActionCreate, services: ServicesDep, caller: Acting) -> VehicleView:
    """pause, resume, cancel (dispatcher); emergency_stop, release_emergency_stop (operator)."""
    if not may(caller, ACTION_ROLES[body.action]):
        raise forbidden(caller, ACTION_ROLES[body.action])
    _known(services.dispatcher, vehicle_id)
    services.dispatcher.act(vehicle_id, body.action, caller.role, body.reason)
    return services.dispatcher.vehicle(vehicle_id)


@router.post("/vehicles/{vehicle_id}/load-removed", response_model=VehicleView)
def load_removed(vehicle_id: VehicleId, body: Reasoned, services: ServicesDep, caller: Operating) -> VehicleView:
    """The load the vehicle holds at a holding bay (its order was cancelled once loaded, or its drop failed) was
    taken off by hand: the vehicle is free again. 409 when it holds none."""
    _known(services.dispatcher, vehicle_id)
    services.dispatcher.load_removed(vehicle_id, caller.role, body.reason)
    return services.dispatcher.vehicle(vehicle_id)


@router.post("/vehicles/{vehicle_id}/service", response_model=VehicleView)
def set_service(vehicle_id: VehicleId, body: ServiceChangeCreate, services: ServicesDep,
                caller: Operating) -> VehicleView:
    """Out of service: no orders; its place stays reserved where it stands. Back in: it takes orders again."""
    _known(services.dispatcher, vehicle_id)
    services.dispatcher.set_in_service(vehicle_id, body.in_service, caller.role, body.reason)
    return services.dispatcher.vehicle(vehicle_id)


def _known(views: FleetViews, vehicle_id: str) -> VehicleView:
    try:
        return views.vehicle(vehicle_id)
    except KeyError:
        raise _unknown(vehicle_id) from None


def _unknown(vehicle_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no vehicle {vehicle_id!r}")
