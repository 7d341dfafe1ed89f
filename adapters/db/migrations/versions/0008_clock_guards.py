"""clock guards: the lead's approval of a late-recorded stage, the reason of a repeated 补正

Revision ID: 0008
Revises: 0011
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: stages recorded before this revision needed no approval.
    with op.batch_alter_table("case_stages") as batch:
        batch.add_column(sa.Column("approved_by", sa.String(length=64), nullable=True))
    with op.batch_alter_table("case_supplements") as batch:
        batch.add_column(sa.Column("reason", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("case_supplements") as batch:
        batch.drop_column("reason")
    with op.batch_alter_table("case_stages") as batch:
        batch.drop_column("approved_by")
