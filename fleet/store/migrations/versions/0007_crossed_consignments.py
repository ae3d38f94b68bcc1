"""The consignments of finished orders that took them across the border stay in ``order_consignments``: a
consignment crosses once per customs declaration, and an order booking it again is refused. The orders that crossed
before this revision (their consignments were let go when they finished) have theirs put back, the latest first;
one booked again since, on an order still active, keeps that order's row.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: the order states in which the load is across the border line (fleet.orders.model.ACROSS), and the finished ones
ACROSS = ("crossing", "to_drop")
FINISHED = ("delivered", "cancelled", "failed")

orders = sa.table("orders", sa.column("id"), sa.column("state"), sa.column("consignments", sa.JSON),
                  sa.column("created_at"))
transitions = sa.table("order_transitions", sa.column("order_id"), sa.column("from_state"), sa.column("to_state"))
order_consignments = sa.table("order_consignments", sa.column("consignment_id"), sa.column("order_id"))


def upgrade() -> None:
    conn = op.get_bind()
    crossed = conn.execute(
        sa.select(orders.c.id, orders.c.consignments)
        .where(orders.c.state.in_(FINISHED), orders.c.id.in_(
            sa.select(transitions.c.order_id).where(transitions.c.from_state.in_(ACROSS),
                                                    transitions.c.to_state.in_(FINISHED))))
        .order_by(orders.c.created_at.desc(), orders.c.id)).all()
    taken = set(conn.execute(sa.select(order_consignments.c.consignment_id)).scalars())
    rows = []
    for order_id, consignments in crossed:
        for consignment in consignments:
            if consignment not in taken:
                taken.add(consignment)
                rows.append({"consignment_id": consignment, "order_id": order_id})
    if rows:
        conn.execute(order_consignments.insert(), rows)


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(order_consignments.delete().where(order_consignments.c.order_id.in_(
        sa.select(orders.c.id).where(orders.c.state.in_(FINISHED)))))
