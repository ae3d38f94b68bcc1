"""Request bodies shared by several resources, and the response for JSON encoded beforehand."""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field


class Reasoned(BaseModel):
    """A staff action's body: every action says why (stored with the role that took it)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class JsonBytes(Response):
    """A body already encoded as JSON (a view the loop or a cache keeps): sent as it is, without FastAPI's
    validation and encoding of the route's ``response_model`` (which stays for the OpenAPI schema)."""

    media_type = "application/json"
