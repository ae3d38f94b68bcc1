"""Request bodies shared by several resources."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Reasoned(BaseModel):
    """A staff action's body: every action says why (stored with the role that took it)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)
