"""Shared dependencies: the services the app holds, and bearer-token roles (DESIGN.md §7).

Route functions declare who may call them with the typed aliases at the bottom (``Reader``, ``Dispatching``,
``Operating``...), built with :func:`require_role`: no token or an unknown one is a 401, a known token
whose role may not do this is a 403. Both go before a 422, whatever the body or query
(:func:`refusal_before_validation`).

The dependencies are ``async``: they only look things up, and FastAPI runs every plain ``def`` dependency
in its thread pool, a hand-off (and a wait for the GIL) per dependency per request (tests/bench/bench_fleet.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, NamedTuple

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


class _RouteAccess(NamedTuple):
    needs_caller: bool  # the route checks its caller's token
    checks: tuple[AccessCheck, ...]  # and may refuse a known one


#: each route's access, by its endpoint (as ``_QUERY_NAMES``)
_ACCESS: dict[Callable[..., object], _RouteAccess] = {}


async def refusal_before_validation(request: Request) -> HTTPException | None:
    """The 401 or 403 the route's dependencies would answer this request, for the 422 FastAPI raised before
    running them: it parses the JSON body, and the routers check the query, before a route's dependencies check
    the token and the role, so a caller without a known token, or whose role may not take the route, learnt what
    the route validates. None: the 422 stands."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return None
    access = _ACCESS.get(route.endpoint)
    if access is None:
        dependencies = [d.call for d in _dependants(route)]
        access = _ACCESS[route.endpoint] = _RouteAccess(
            get_caller in dependencies, tuple(call for call in dependencies if isinstance(call, AccessCheck)))
    if not access.needs_caller:
        return None
    credentials = await _bearer(request)
    role = role_of(request, credentials.credentials if credentials else None)
    if role is None:
        return unauthorized()
    caller = Caller(role)
    return next((refused for check in access.checks if (refused := check.refusal(caller)) is not None), None)


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


class AccessCheck(ABC):
    """A dependency that lets a known caller through or refuses them (403). A callable object rather than a
    closure so that :func:`refusal_before_validation` can ask it too, for a request FastAPI refused before
    running the route's dependencies."""

    @abstractmethod
    def refusal(self, caller: Caller) -> HTTPException | None:
        """The 403 for a caller who may not take the route; None for one who may."""

    async def __call__(self, caller: CallerDep) -> Caller:
        refused = self.refusal(caller)
        if refused is not None:
            raise refused
        return caller


@dataclass(frozen=True)
class RoleCheck(AccessCheck):
    """Lets through ``roles`` and admin (and any customs authority if ``customs``)."""

    roles: tuple[Role, ...]
    customs: bool = False

    def refusal(self, caller: Caller) -> HTTPException | None:
        return None if may(caller, *self.roles, customs=self.customs) else forbidden(caller, *self.roles)


class CustomsAuthorityCheck(AccessCheck):
    """Lets through a customs authority only (not admin: an event is posted in one authority's name)."""

    def refusal(self, caller: Caller) -> HTTPException | None:
        return None if caller.customs_authority is not None else \
            HTTPException(status.HTTP_403_FORBIDDEN, "only a customs authority's token may post events")


def require_role(*roles: Role, customs: bool = False) -> RoleCheck:
    """A dependency that lets through ``roles`` and admin (and any customs authority if ``customs``); 403 else."""
    return RoleCheck(roles, customs)


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
#: Posting customs events: a customs authority, for its own events only (checked as each event is ingested).
CustomsAuthority = Annotated[Caller, Depends(CustomsAuthorityCheck())]
GateDep = Annotated[CustomsGate, Depends(get_gate)]
ServicesDep = Annotated[Services, Depends(get_services)]
StoreDep = Annotated[Store, Depends(get_store)]
OrderReadsDep = Annotated[OrderReads, Depends(get_order_reads)]
ViewsDep = Annotated[FleetViews, Depends(get_views)]
