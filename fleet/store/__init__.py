"""Durable state of the fleet manager: one SQLite file (WAL), the hash-chained audit log."""

from fleet.store.audit import AuditRecord, verify_chain
from fleet.store.sqlite import SqliteStore, StoredEvent

__all__ = ["AuditRecord", "SqliteStore", "StoredEvent", "verify_chain"]
