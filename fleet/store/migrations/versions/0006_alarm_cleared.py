"""When an alarm's cause ended (a silent vehicle reporting again, a customs link back): it stays open until an
operator acknowledges it, marked cleared.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alarms") as batch:
        batch.add_column(sa.Column("cleared_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alarms") as batch:
        batch.drop_column("cleared_at")
