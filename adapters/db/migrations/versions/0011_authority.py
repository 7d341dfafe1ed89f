"""authority (active users, evidence quota per user and day)

A user can be disabled (``active``): a disabled courier or lead cannot be named in a command and
their tokens stop working. Evidence uploads are counted per user and local day for the quota.

Revision ID: 0011
Revises: 0004
Create Date: 2026-11-29 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "evidence_usage",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "day"),
    )


def downgrade() -> None:
    op.drop_table("evidence_usage")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("active")
