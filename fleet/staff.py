"""Dispatchers' and operators' actions, each stored with the role that took it and the reason given."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection

from fleet.store import Store
from fleet.store.schema import staff_actions


class StaffLog:
    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self.store, self.clock = store, clock

    def record(self, *, role: str, action: str, target: str, reason: str, detail: dict[str, Any] | None = None) -> None:
        with self.store.transaction() as conn:
            self.insert(conn, role=role, action=action, target=target, reason=reason, detail=detail)

    def insert(self, conn: Connection, *, role: str, action: str, target: str, reason: str,
               detail: dict[str, Any] | None = None) -> None:
        """Record inside the caller's transaction (with the change the action made)."""
        conn.execute(staff_actions.insert().values(at=self.clock(), role=role, action=action, target=target,
                                                   reason=reason, detail=detail or {}))
