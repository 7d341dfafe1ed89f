"""event order (sequence per case, consumer positions and gaps)

Every event committed from now on carries its place among its case's events (``outbox.key_seq``,
the envelope's ``seq``), numbered from ``event_sequences``; each consumer group keeps how far it
has applied every case (``consumer_positions``) and the parked messages it went past
(``consumer_gaps``). Events committed before have no number and are handled unordered; a case's
new events start at 1.

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-29 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import adapters.db.types

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_sequences",
        sa.Column("ordering_key", sa.String(length=64), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("ordering_key", name=op.f("pk_event_sequences")),
    )
    op.create_table(
        "consumer_positions",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("ordering_key", sa.String(length=64), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", adapters.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "ordering_key", name=op.f("pk_consumer_positions")),
    )
    op.create_table(
        "consumer_gaps",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("ordering_key", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("parked_at", adapters.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", adapters.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("consumer", "ordering_key", "seq", name=op.f("pk_consumer_gaps")),
    )
    with op.batch_alter_table("consumer_gaps", schema=None) as batch_op:
        batch_op.create_index("ix_consumer_gaps_case", ["case_id"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_seq", sa.Integer(), nullable=True))
        batch_op.create_index("ix_outbox_key_seq", ["ordering_key", "key_seq"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_key_seq")
        batch_op.drop_column("key_seq")
    with op.batch_alter_table("consumer_gaps", schema=None) as batch_op:
        batch_op.drop_index("ix_consumer_gaps_case")
    op.drop_table("consumer_gaps")
    op.drop_table("consumer_positions")
    op.drop_table("event_sequences")
