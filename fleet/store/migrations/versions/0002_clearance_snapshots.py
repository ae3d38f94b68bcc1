"""Clearance snapshots: the customs gate restarts from a snapshot tied to an audit record, not a full replay.

``customs_events`` gains ``audit_seq`` (the seq of each event's ``event_accepted`` audit record, filled in
here for the events already stored), so a restart reads only the events after a snapshot. The per-subject
``clearance_state`` table, which nothing read back, is replaced by ``clearance_snapshots``.

Revision ID: 0002
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customs_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audit_seq", sa.Integer(), nullable=True))
        batch_op.create_index("ix_customs_events_audit_seq", ["audit_seq"], unique=False)
    bind = op.get_bind()
    audit_log = sa.table("audit_log", sa.column("seq", sa.Integer), sa.column("kind", sa.String),
                         sa.column("body", sa.Text))
    events = sa.table("customs_events", sa.column("event_id", sa.String), sa.column("audit_seq", sa.Integer))
    accepted = []
    for seq, body in bind.execute(sa.select(audit_log.c.seq, audit_log.c.body)
                                  .where(audit_log.c.kind == "event_accepted")):
        try:
            event_id = json.loads(body).get("event_id")
        except (ValueError, RecursionError, AttributeError):
            continue  # not a record the fleet wrote: left for the gate's replay to report
        if isinstance(event_id, str):
            accepted.append({"b_event_id": event_id, "b_audit_seq": seq})
    if accepted:
        bind.execute(events.update().where(events.c.event_id == sa.bindparam("b_event_id"))
                     .values(audit_seq=sa.bindparam("b_audit_seq")), accepted)
    op.drop_table("clearance_state")
    op.create_table(
        "clearance_snapshots",
        sa.Column("audit_seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("taken_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("audit_seq"),
    )


def downgrade() -> None:
    op.drop_table("clearance_snapshots")
    op.create_table(
        "clearance_state",
        sa.Column("subject", sa.String(length=96), nullable=False),
        sa.Column("authority", sa.String(length=32), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("subject", "authority"),
    )
    with op.batch_alter_table("customs_events", schema=None) as batch_op:
        batch_op.drop_index("ix_customs_events_audit_seq")
        batch_op.drop_column("audit_seq")
