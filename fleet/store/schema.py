"""The store's tables, in SQLAlchemy Core: one definition that SQLite and PostgreSQL both run.

Alembic migrations (``fleet/store/migrations``) create and change them; this module is what the code reads
and writes through. JSON columns hold documents the fleet never queries inside (event bodies, timelines'
causes); everything filtered on is a column of its own.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

customs_events = Table(
    "customs_events", metadata,
    Column("event_id", String(64), primary_key=True),
    Column("authority", String(32), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("raw", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    # the seq of the event's event_accepted audit record: which events a clearance snapshot covers
    Column("audit_seq", Integer, nullable=True),
    UniqueConstraint("authority", "seq"),
    Index("ix_customs_events_audit_seq", "audit_seq"),
)

clearance_snapshots = Table(  # the customs gate's whole clearance state, as of one audit record
    "clearance_snapshots", metadata,
    Column("audit_seq", Integer, primary_key=True, autoincrement=False),  # its own `snapshot` audit record
    Column("state", Text, nullable=False),  # JSON; its sha256 is in that audit record, signed by the fleet
    Column("taken_at", Float, nullable=False),
)

audit_log = Table(
    "audit_log", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("recorded_at", String(40), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

orders = Table(
    "orders", metadata,
    Column("id", String(40), primary_key=True),
    Column("state", String(24), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("pickup", String(64), nullable=False),
    Column("drop", String(64), nullable=False),
    Column("consignments", JSON, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("earliest_start", Float, nullable=True),
    Column("latest_delivery", Float, nullable=True),
    Column("vehicle_id", String(64), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("idempotency_key", String(128), nullable=True, unique=True),
    Column("reason", Text, nullable=True),
    Index("ix_orders_state", "state"),
    Index("ix_orders_vehicle", "vehicle_id"),
)

#: the consignments of active orders (one active order per consignment), and of finished orders that took them across
#: the border (a consignment crosses once per customs declaration: OrderService refuses booking it again)
order_consignments = Table(
    "order_consignments", metadata,
    Column("consignment_id", String(32), primary_key=True),
    Column("order_id", String(40), ForeignKey("orders.id"), nullable=False),
)

order_transitions = Table(
    "order_transitions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", String(40), ForeignKey("orders.id"), nullable=False),
    Column("at", Float, nullable=False),
    Column("from_state", String(24), nullable=True),
    Column("to_state", String(24), nullable=False),
    Column("reason", Text, nullable=False),
    Column("cause", JSON, nullable=False),  # {"kind": "vehicle"|"gate"|"dispatcher"|"system", ...}
    Index("ix_order_transitions_order", "order_id"),
)

vehicles = Table(
    "vehicles", metadata,
    Column("id", String(64), primary_key=True),
    Column("home", String(8), nullable=False),
    Column("may_cross", Boolean, nullable=False),
    Column("start_node", String(64), nullable=False),
    Column("in_service", Boolean, nullable=False, default=True),
    Column("service_reason", Text, nullable=True),
    # the vehicle's current VDA 5050 order, so a restarted fleet carries on where it was
    Column("vda_order_id", String(64), nullable=True),
    Column("vda_update_id", Integer, nullable=False, default=0),
    Column("order_id", String(40), nullable=True),
    # a load no order carries any more (cancelled once loaded, or its drop failed) until an operator says it was
    # taken off by hand: {"consignments": [...], "bays": [...]}, so a restart keeps the vehicle at its bay
    Column("held_load", JSON, nullable=True),
    # the way released to it as last sent (released_way: where it stood, then the nodes ahead), so a restarted fleet
    # judges it by what it was released, not by what it says it was, until it has planned it again
    Column("released_way", JSON, nullable=True),
)

staff_actions = Table(  # every dispatcher's / operator's action, with who and why
    "staff_actions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("role", String(64), nullable=False),
    Column("action", String(48), nullable=False),
    Column("target", String(96), nullable=False),
    Column("reason", Text, nullable=False),
    Column("detail", JSON, nullable=False),
)

alarms = Table(
    "alarms", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("raised_at", Float, nullable=False),
    Column("kind", String(48), nullable=False),
    Column("subject", String(96), nullable=False),
    Column("message", Text, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("acknowledged_at", Float, nullable=True),
    Column("acknowledged_by", String(64), nullable=True),
    Column("cleared_at", Float, nullable=True),  # its cause ended (it stays open until acknowledged); 0006
    Index("ix_alarms_open", "acknowledged_at"),
)

gate_holds = Table(  # an operator's hold of a gate: the gate rule denies there while it stands
    "gate_holds", metadata,
    Column("gate", String(64), primary_key=True),
    Column("held_at", Float, nullable=False),
    Column("held_by", String(64), nullable=False),
    Column("reason", Text, nullable=False),
)

leadership = Table(  # one row: the epoch of the last leader elected, the fencing token (fleet/store/leadership.py)
    "leadership", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("epoch", Integer, nullable=False),
    Column("holder", String(128), nullable=False),
    Column("since", Float, nullable=False),
)

live_views = Table(  # the leader's vehicle and gate views, one row each, for a standby's reads (fleet/live_views.py)
    "live_views", metadata,
    Column("name", String(32), primary_key=True),
    Column("taken_at", Float, nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("body", Text, nullable=False),
)
