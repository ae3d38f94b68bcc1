"""The customs link's one exception family."""

from __future__ import annotations


class CustomsError(Exception):
    """Base of every error the customs link raises on purpose."""


class MalformedInput(CustomsError, ValueError):
    """Input that is refused before or while it is parsed: too big, too deep, not JSON, not text."""


class CheckpointError(CustomsError, ValueError):
    """A signed audit checkpoint that is malformed or does not verify."""
