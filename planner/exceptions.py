"""The planner's own exceptions (networkx style: named, with a clear message)."""

from __future__ import annotations


class PlannerError(Exception):
    """Base of every planner error."""


class UnknownNode(PlannerError, KeyError):
    def __init__(self, node: str) -> None:
        super().__init__(f"node {node!r} is not in the corridor")
        self.node = node

    def __str__(self) -> str:
        return str(self.args[0])


class NoRoute(PlannerError):
    """No route satisfies the request (direction, restrictions)."""


class NoPlan(PlannerError):
    """No conflict-free timed plan within the search limits."""


class InvalidRequest(PlannerError, ValueError):
    """The request itself is wrong (an unknown node, a bad field); the message names the offending item."""


class PlanInterrupted(PlannerError):
    """A full replan gave up because its caller asked it to stop; the planner is as it was before the call."""
