"""Who may do what (DESIGN.md §7): the staff roles, and one role per customs authority (``customs:<NAME>``)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"  # reads everything staff may read
    DISPATCHER = "dispatcher"  # creates and cancels orders; pauses, resumes and cancels vehicles
    OPERATOR = "operator"  # holds gates, e-stops, takes vehicles out of service, acknowledges alarms
    ADMIN = "admin"  # all of the above


#: ``customs:<AUTHORITY>``: posts that authority's own events and reads clearance and the audit log.
CUSTOMS_ROLE_PREFIX = "customs:"
STAFF_ROLES = tuple(str(r) for r in Role)


def customs_role(authority: str) -> str:
    return f"{CUSTOMS_ROLE_PREFIX}{authority}"
