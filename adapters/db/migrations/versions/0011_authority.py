"""authority and truthful states (active users, evidence quota, ready for pickup)

A user can be disabled (``active``): a disabled courier or lead cannot be named in a command and
their tokens stop working. Evidence uploads are counted per user and local day for the quota. A
case records when its result became ready for pickup (``ready_at``); an outbound package says
whether it carries the application's materials or a supplement taken in at the window
(``purpose``).

Revision ID: 0011
Revises: 0006
Create Date: 2026-11-29 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import adapters.db.types

revision = "0011"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD/DROP COLUMN (SQLite has both): a batch copy of a table other tables refer to
    # fails on SQLite with foreign keys on.
    op.add_column("cases", sa.Column("ready_at", adapters.db.types.UtcDateTime(timezone=True), nullable=True))
    # Results that already wait for the applicant: signed for at the window, or kept at the
    # department after the decision. Pickup is registered from ready_for_pickup only.
    op.execute(
        """UPDATE cases SET state = 'ready_for_pickup',
               ready_at = (SELECT max(e.server_time) FROM custody_events e
                           WHERE e.package_id = cases.result_package_id AND e.kind = 'signed')
           WHERE delivery = 'pickup_at_window' AND state = 'result_shipped'
             AND EXISTS (SELECT 1 FROM packages p WHERE p.id = cases.result_package_id AND p.state = 'signed')"""
    )
    op.execute(
        """UPDATE cases SET state = 'ready_for_pickup', ready_at = decided_at
           WHERE delivery = 'pickup_at_department' AND state = 'decided'"""
    )
    op.add_column("users", sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column("packages", sa.Column("purpose", sa.String(length=16), nullable=False, server_default="materials"))
    op.create_table(
        "evidence_usage",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "day"),
    )


def downgrade() -> None:
    op.drop_table("evidence_usage")
    op.drop_column("packages", "purpose")
    op.drop_column("users", "active")
    op.drop_column("cases", "ready_at")
