"""handled cases: the steps a user took, by actor and time

已办办件 (seed 002) lists the cases a member of staff acted on, from the events of the outbox (the
case's history, kept): the event's actor as a column of its own (filled from the envelope for the
rows already there), indexed with the event's time. And the resend of a failed SMS, indexed: the failed lists (the
staff's, the admin's 待办) skip the ones resent.

Revision ID: 0026
Revises: 0020
Create Date: 2026-11-29 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("actor", sa.String(64), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE outbox SET actor = payload ->> 'actor'")
    else:
        op.execute("UPDATE outbox SET actor = json_extract(payload, '$.actor')")
    op.create_index("ix_outbox_actor", "outbox", ["actor", "created_at"])
    # the resend of a failed SMS: the failed lists (staff's, the admin's 待办) skip resent ones
    op.create_index("ix_notifications_resend_of", "notifications", ["resend_of"])


def downgrade() -> None:
    op.drop_index("ix_notifications_resend_of", table_name="notifications")
    op.drop_index("ix_outbox_actor", table_name="outbox")
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_column("actor")
