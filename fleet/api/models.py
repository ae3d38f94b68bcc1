"""Request bodies shared by several resources, and the response for JSON encoded beforehand."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool


class Reasoned(BaseModel):
    """A staff action's body: every action says why (stored with the role that took it)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class JsonBytes(Response):
    """A body already encoded as JSON (a view the loop or a cache keeps): sent as it is, without FastAPI's
    validation and encoding of the route's ``response_model`` (which stays for the OpenAPI schema)."""

    media_type = "application/json"


async def json_answer(built: bytes | None, build: Callable[[], bytes]) -> JsonBytes:
    """``built`` as it is, on the event loop; without it, ``build`` on a worker thread (it reads the store or waits
    for a lock). The read routes are coroutines for this: most of their answers are built already, and a hop to a
    worker thread and back cost each of them two turns at the GIL among the API's forty threads and the loop's
    (docs/operations.md, "Measured load")."""
    return JsonBytes(built if built is not None else await run_in_threadpool(build))
