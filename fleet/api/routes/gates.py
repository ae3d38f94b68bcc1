"""The customs gates: each gate's queue with both authorities' answers, and an operator's hold and release."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status

from fleet.api.deps import Operating, Reader, ServicesDep, ViewsDep
from fleet.api.models import Reasoned, json_answer
from fleet.dispatch import GateView
from fleet.dispatch.snapshot import JsonView
from fleet.services import Services

router = APIRouter(tags=["gates"])

GateId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/gates", response_model=list[GateView])
async def list_gates(views: ViewsDep, _: Reader) -> Response:
    """Every gate: held or not (and why), and the vehicles waiting there with the gate rule's answer and reasons
    (as the last dispatch tick left them)."""
    return await json_answer(views.built_json(JsonView.GATES), views.gates_json)


@router.post("/gates/{gate_id}/hold", response_model=GateView)
def hold_gate(gate_id: GateId, body: Reasoned, services: ServicesDep, caller: Operating) -> GateView:
    """The gate rule denies at this gate until it is released; a release not yet used is taken back."""
    _act(services.dispatcher.hold_gate, gate_id, caller.role, body.reason)
    return _gate(services, gate_id)


@router.post("/gates/{gate_id}/release", response_model=GateView)
def release_gate(gate_id: GateId, body: Reasoned, services: ServicesDep, caller: Operating) -> GateView:
    _act(services.dispatcher.release_gate, gate_id, caller.role, body.reason)
    return _gate(services, gate_id)


def _act(action, gate_id: str, by: str, reason: str) -> None:
    try:
        action(gate_id, by, reason)
    except KeyError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no gate {gate_id!r}") from None


def _gate(services: Services, gate_id: str) -> GateView:
    return next(g for g in services.dispatcher.gates() if g.id == gate_id)
