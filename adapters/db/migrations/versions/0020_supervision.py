"""supervision, rectification due dates, office hours, audit entries

- ``case_supervisions``: 督办, a supervisor's note on a case for its department, and the answer.
- ``ratings.rectify_due_on``: a bad rating's 整改 is due on this working day (HANDOFF_RECTIFY_DAYS);
  差评整改率 counts only answers on or before it.
- ``offices.hours``: opening hours, printed on the notices beside the address and telephone.
- ``audit_entries``: every admin write with its actor (also logged on ``handoff.audit``).

Revision ID: 0020
Revises: 0018
Create Date: 2026-11-29 20:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import adapters.db.types

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_supervisions",
        sa.Column("case_id", sa.String(64), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("at", adapters.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_at", adapters.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "seq"),
    )
    op.create_index(
        "ix_case_supervisions_open",
        "case_supervisions",
        ["case_id"],
        postgresql_where=sa.text("answered_at IS NULL"),
        sqlite_where=sa.text("answered_at IS NULL"),
    )
    op.add_column("ratings", sa.Column("rectify_due_on", sa.Date(), nullable=True))
    op.add_column("offices", sa.Column("hours", sa.String(200), nullable=False, server_default=""))
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", adapters.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
    )
    op.create_index("ix_audit_entries_at", "audit_entries", ["at", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_entries_at", table_name="audit_entries")
    op.drop_table("audit_entries")
    op.drop_column("offices", "hours")
    op.drop_column("ratings", "rectify_due_on")
    op.drop_index("ix_case_supervisions_open", table_name="case_supervisions")
    op.drop_table("case_supervisions")
