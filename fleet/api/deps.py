"""Shared dependencies: the services the app holds, and bearer-token roles (DESIGN.md §7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fleet.config import CUSTOMS_ROLE_PREFIX, STAFF_ROLES
from fleet.customs.gate import CustomsGate

_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class Caller:
    role: str

    @property
    def customs_authority(self) -> str | None:
        return self.role.removeprefix(CUSTOMS_ROLE_PREFIX) if self.role.startswith(CUSTOMS_ROLE_PREFIX) else None

    @property
    def staff(self) -> bool:
        return self.role in STAFF_ROLES


def get_gate(request: Request) -> CustomsGate:
    return request.app.state.gate


def get_caller(request: Request,
               credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
    role = request.app.state.tokens.get(credentials.credentials) if credentials else None
    if role is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or unknown bearer token",
                            headers={"WWW-Authenticate": "Bearer"})
    return Caller(role)


def require_viewer(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
    """Any staff role or a customs authority may read clearance."""
    return caller


GateDep = Annotated[CustomsGate, Depends(get_gate)]
CallerDep = Annotated[Caller, Depends(get_caller)]
