"""Durable state of the fleet manager: SQLAlchemy Core (SQLite WAL by default), Alembic migrations, the
hash-chained audit log, and one repository module per service."""

from fleet.store.audit import AuditKind, AuditRecord, verify_chain
from fleet.store.database import NewEvent, Store, StoredEvent, StoredSnapshot, StoreError

__all__ = ["AuditKind", "AuditRecord", "NewEvent", "Store", "StoreError", "StoredEvent", "StoredSnapshot",
           "verify_chain"]
