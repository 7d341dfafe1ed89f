"""case numbers (受理编号)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: cases registered before this revision have no number (their views show none).
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("case_no", sa.String(length=24), nullable=True))
        batch.create_unique_constraint(batch.f("uq_cases_case_no"), ["case_no"])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint(batch.f("uq_cases_case_no"), type_="unique")
        batch.drop_column("case_no")
