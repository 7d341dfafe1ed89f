"""watched duties: the 预审 and legal limits, 容缺 IOUs and the stages' own limits on case_clocks

The deadline watcher keeps, beside the promised limit, the running pre-review's due date, the
legal due date, the 容缺 materials still owed and the open stages that have their own limit. The
rows already there are marked as computed long ago, so the watcher's next scan recomputes them all
and fills the new columns.

Revision ID: 0015
Revises: 0013
Create Date: 2026-11-29 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None

FLAGS = ("prereview_overdue", "legal_overdue")


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy of the table on SQLite), like 0005.
    op.add_column("case_clocks", sa.Column("prereview_due_on", sa.Date(), nullable=True))
    op.add_column("case_clocks", sa.Column("legal_due_on", sa.Date(), nullable=True))
    for name in FLAGS:
        op.add_column("case_clocks", sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("case_clocks", sa.Column("iou_due_on", sa.Date(), nullable=True))
    op.add_column("case_clocks", sa.Column("ious_owed", sa.JSON(), nullable=True))
    op.add_column("case_clocks", sa.Column("stage_limits", sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":  # SQLite cannot drop a default without that copy
        for name in FLAGS:
            op.alter_column("case_clocks", name, server_default=None)
    op.execute("UPDATE case_clocks SET as_of = '2000-01-01'")


def downgrade() -> None:
    with op.batch_alter_table("case_clocks") as batch:
        for name in ("stage_limits", "ious_owed", "iou_due_on", "legal_overdue", "legal_due_on"):
            batch.drop_column(name)
        batch.drop_column("prereview_overdue")
        batch.drop_column("prereview_due_on")
