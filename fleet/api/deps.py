"""Shared dependencies: the services the app holds, and bearer-token roles (DESIGN.md §7).

Route functions declare who may call them with the typed aliases at the bottom (``Reader``, ``Dispatching``,
``Operating``...), built with :func:`require_role`: no token or an unknown one is a 401, a known token
whose role may not do this is a 403.

The dependencies are ``async``: they only look things up, and FastAPI runs every plain ``def`` dependency
in its thread pool, a hand-off (and a wait for the GIL) per dependency per request (tests/bench/bench_fleet.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from fleet.customs.gate import CustomsGate
from fleet.live_views import FleetViews
from fleet.orders.reads import OrderReads
from fleet.roles import CUSTOMS_ROLE_PREFIX, Role
from fleet.services import Services
from fleet.store import Store

_bearer = HTTPBearer(auto_error=False)
#: The largest id or offset a query may name: beyond it SQLite's integers overflow (a 422, never a 500).
MAX_ID = 2**62


@dataclass(frozen=True)
class Caller:
    role: str

    @property
    def customs_authority(self) -> str | None:
        return self.role.removeprefix(CUSTOMS_ROLE_PREFIX) if self.role.startswith(CUSTOMS_ROLE_PREFIX) else None


async def known_query_only(request: HTTPConnection) -> None:
    """Refuse a query parameter the route does not take (a 422 naming it and those it takes): ignored, a misspelt
    filter (``/orders?status=`` for ``state``) answered the whole list as if it were the filtered one."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):  # the stream's WebSocket reads its own (token, topics)
        return
    taken = _QUERY_NAMES.get(route.endpoint)
    if taken is None:
        taken = _QUERY_NAMES[route.endpoint] = _query_names(route)
    unknown = sorted(set(request.query_params) - taken)
    if unknown:
        raise RequestValidationError([{
            "type": "extra_forbidden", "loc": ("query", unknown[0]), "input": request.query_params[unknown[0]],
            "msg": f"{unknown[0]!r} is not a query parameter of this route; it takes "
                   f"{', '.join(sorted(taken)) if taken else 'none'}"}])


#: for a router's ``dependencies``: every route of the API refuses unknown query parameters
KNOWN_QUERY_ONLY = Depends(known_query_only)


#: each route's query parameters, by its endpoint (an APIRoute is not hashable; every app built from the same
#: routers takes the same parameters)
_QUERY_NAMES: dict[Callable[..., object], frozenset[str]] = {}


def _query_names(route: APIRoute) -> frozenset[str]:
    return frozenset(p.alias for dependant in _dependants(route) for p in dependant.query_params)


def _dependants(route: APIRoute) -> Iterator[Dependant]:
    """The route's own dependant and its dependencies', all the way down."""
    dependants = [route.dependant]
    while dependants:
        dependant = dependants.pop()
        yield dependant
        dependants.extend(dependant.dependencies)


#: whether each route checks its caller's token, by its endpoint (as ``_QUERY_NAMES``)
_NEEDS_CALLER: dict[Callable[..., object], bool] = {}


async def caller_unknown(request: Request) -> bool:
    """Whether the route checks its caller's token and this request carries no known one, for a 401 in place of a
    422: FastAPI parses the JSON body, and the routers check the query, before a route's dependencies check the
    token, so a caller without one learnt what the route validates."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return False
    needs = _NEEDS_CALLER.get(route.endpoint)
    if needs is None:
        needs = _NEEDS_CALLER[route.endpoint] = any(d.call is get_caller for d in _dependants(route))
    credentials = await _bearer(request)
    return needs and role_of(request, credentials.credentials if credentials else None) is None


async def get_services(request: Request) -> Services:
    return request.app.state.services


async def get_gate(request: Request) -> CustomsGate:
    return (await get_services(request)).gate


# What the read routes use: a leader's app and a standby's (fleet/api/standby.py) both set these. Coroutines, as
# every dependency that only looks something up: FastAPI runs a plain function on a worker thread, a hop to a
# thread and back for each request.
async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_order_reads(request: Request) -> OrderReads:
    return request.app.state.order_reads


async def get_views(request: Request) -> FleetViews:
    return request.app.state.views


def role_of(connection: HTTPConnection, token: str | None) -> str | None:
    """The role a token carries, or None for no token or an unknown one."""
    return connection.app.state.tokens.get(token) if token else None


async def get_caller(request: Request,
                     credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
    role = role_of(request, credentials.credentials if credentials else None)
    if role is None:
        raise unauthorized()
    return Caller(role)


def unauthorized() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or unknown bearer token",
                         headers={"WWW-Authenticate": "Bearer"})


CallerDep = Annotated[Caller, Depends(get_caller)]


def may(caller: Caller, *roles: Role, customs: bool = False) -> bool:
    """Whether the caller has one of ``roles`` (admin has every role), or is a customs authority if ``customs``."""
    return caller.role == Role.ADMIN or caller.role in roles or (customs and caller.customs_authority is not None)


def require_role(*roles: Role, customs: bool = False) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency that lets through ``roles`` and admin (and any customs authority if ``customs``); 403 else."""
    async def check(caller: CallerDep) -> Caller:
        if not may(caller, *roles, customs=customs):
            raise forbidden(caller, *roles)
        return caller

    return check


def forbidden(caller: Caller, *roles: Role) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN,
                         f"role {caller.role} may not do this; it takes {' or '.join([*roles, Role.ADMIN])}")


#: Who reads the fleet's state (and admin, as everywhere).
STAFF = (Role.VIEWER, Role.DISPATCHER, Role.OPERATOR)
Reader = Annotated[Caller, Depends(require_role(*STAFF))]
#: Staff, and both customs authorities: every gate decision is auditable by both sides.
AuditReader = Annotated[Caller, Depends(require_role(*STAFF, customs=True))]
Dispatching = Annotated[Caller, Depends(require_role(Role.DISPATCHER))]
Operating = Annotated[Caller, Depends(require_role(Role.OPERATOR))]
#: Vehicle actions: dispatchers pause, resume and cancel; operators e-stop; which applies depends on the action.
Acting = Annotated[Caller, Depends(require_role(Role.DISPATCHER, Role.OPERATOR))]
GateDep = Annotated[CustomsGate, Depends(get_gate)]
ServicesDep = Annotated[Services, Depends(get_services)]
StoreDep = Annotated[Store, Depends(get_store)]
OrderReadsDep = Annotated[OrderReads, Depends(get_order_reads)]
ViewsDep = Annotated[FleetViews, Depends(get_views)]
