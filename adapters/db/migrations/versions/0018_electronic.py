"""electronic materials and results

Files attached to a case's materials at the window (``case_files``), the manifest an electronic
push records in its custody event (``custody_events.files``), and the signed electronic results
(``case_results``, 电子证照).

Revision ID: 0018
Revises: 0022 (re-chained after merging main; was 0016)
Create Date: 2026-11-29 20:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.db.types import UtcDateTime

revision = "0018"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("custody_events", sa.Column("files", sa.JSON(), nullable=True))
    op.create_table(
        "case_files",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("item_seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("uploaded_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_files_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_files")),
        sa.UniqueConstraint("case_id", "item_seq", "sha256", name="uq_case_files_item_sha256"),
    )
    op.create_index("ix_case_files_case", "case_files", ["case_id", "item_seq"])
    op.create_table(
        "case_results",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("signer", sa.String(300), nullable=False),
        sa.Column("office_id", sa.String(64), nullable=False),
        sa.Column("signed_at", UtcDateTime(), nullable=False),
        sa.Column("signed_by", sa.String(64), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_results_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_results")),
    )
    op.create_index("ix_case_results_sha256", "case_results", ["sha256"])
    op.create_index("ix_case_results_case", "case_results", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_results_case", "case_results")
    op.drop_index("ix_case_results_sha256", "case_results")
    op.drop_table("case_results")
    op.drop_index("ix_case_files_case", "case_files")
    op.drop_table("case_files")
    op.drop_column("custody_events", "files")
