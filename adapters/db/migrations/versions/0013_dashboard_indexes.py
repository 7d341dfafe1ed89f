"""dashboard indexes (deadline boards, ledger, stalled packages, lead inbox, open clocks); clock inputs

A clock row keeps the case's limit and decision date beside its acceptance date, so that a new
calendar recomputes every open clock from the clock rows, their stages and extensions alone
(rows written before are recomputed from their case the first time).

Each dashboard reads one page with LIMIT inside the SQL, in the order of an index that matches its
predicates: partial indexes for the boards that are a subset (their predicates written ``IS TRUE``
/ ``IS FALSE``, as SQLAlchemy writes its boolean comparisons, so the planner can prove that a query
implies them), with a per-office twin on the window and on the department for scoped callers.
The ledger's indexes carry the case id, its keyset's tie-break.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

OVERDUE = "watching IS TRUE AND overdue IS TRUE"
DUE_SOON = "watching IS TRUE AND overdue IS FALSE AND remaining IS NOT NULL"
FORWARDING = "watching IS TRUE AND state IN ('collected', 'forwarded')"
MOVING = "state IN ('sealed', 'with_courier', 'in_transit', 'arrived', 'pushed')"

INDEXES: list[tuple[str, str, list[str], str | None]] = [
    ("ix_case_clocks_watched", "case_clocks", ["case_id"], "watching IS TRUE"),
    ("ix_case_clocks_overdue", "case_clocks", ["due_on", "case_id"], OVERDUE),
    ("ix_case_clocks_overdue_window", "case_clocks", ["window_office_id", "due_on", "case_id"], OVERDUE),
    ("ix_case_clocks_overdue_dept", "case_clocks", ["department_office_id", "due_on", "case_id"], OVERDUE),
    ("ix_case_clocks_due_soon", "case_clocks", ["remaining", "due_on", "case_id"], DUE_SOON),
    (
        "ix_case_clocks_due_soon_window",
        "case_clocks",
        ["window_office_id", "remaining", "due_on", "case_id"],
        DUE_SOON,
    ),
    (
        "ix_case_clocks_due_soon_dept",
        "case_clocks",
        ["department_office_id", "remaining", "due_on", "case_id"],
        DUE_SOON,
    ),
    ("ix_case_clocks_forwarding", "case_clocks", ["forwarding_due_on", "case_id"], FORWARDING),
    (
        "ix_case_clocks_forwarding_window",
        "case_clocks",
        ["window_office_id", "forwarding_due_on", "case_id"],
        FORWARDING,
    ),
    (
        "ix_case_clocks_forwarding_dept",
        "case_clocks",
        ["department_office_id", "forwarding_due_on", "case_id"],
        FORWARDING,
    ),
    ("ix_cases_collected", "cases", ["collected_at", "id"], None),
    ("ix_cases_window_collected", "cases", ["window_office_id", "collected_at", "id"], None),
    ("ix_cases_department_collected", "cases", ["department_office_id", "collected_at", "id"], None),
    ("ix_packages_stalled", "packages", ["last_movement_at", "id"], MOVING),
    ("ix_lead_copies_unremarked", "case_lead_copies", ["lead", "copied_at", "case_id", "seq"], "remarked_at IS NULL"),
    (
        "ix_lead_copies_remarked",
        "case_lead_copies",
        ["lead", "copied_at", "case_id", "seq"],
        "remarked_at IS NOT NULL",
    ),
]
REPLACED = [
    ("ix_case_clocks_watching", "case_clocks", ["watching", "as_of"]),  # ix_case_clocks_watched instead
    ("ix_cases_window", "cases", ["window_office_id", "collected_at"]),
    ("ix_cases_department", "cases", ["department_office_id", "collected_at"]),
]


def upgrade() -> None:
    with op.batch_alter_table("case_clocks") as batch:
        batch.add_column(sa.Column("limit_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("decided_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("legal_limit_days", sa.Integer(), nullable=True))
    for name, table, _ in REPLACED:
        op.drop_index(name, table_name=table)
    for name, table, columns, where in INDEXES:
        if where is None:
            op.create_index(name, table, columns, unique=False)
        else:
            op.create_index(
                name, table, columns, unique=False, postgresql_where=sa.text(where), sqlite_where=sa.text(where)
            )


def downgrade() -> None:
    for name, table, _, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    for name, table, columns in REPLACED:
        op.create_index(name, table, columns, unique=False)
    with op.batch_alter_table("case_clocks") as batch:
        batch.drop_column("legal_limit_days")
        batch.drop_column("decided_on")
        batch.drop_column("limit_days")
