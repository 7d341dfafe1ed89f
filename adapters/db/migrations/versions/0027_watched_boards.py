"""indexes of the watched duties' boards (法定期限 passed, 预审 late, 容缺 owed)

The deadline boards ``legal_overdue``, ``prereview`` and ``iou`` (migration 0015's watched duties)
had no index of their own: at 1,000,000 cases the first page took 80 ms for everything and 2–5 s
for a city, sorting every watched row. Each gets what the other boards have (0013): a partial
index in the board's order whose predicate is the board's (written as SQLAlchemy writes the
query: booleans ``IS TRUE``, the state inline), with a twin per window and per department for
scoped callers.

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-30 00:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

LEGAL_OVERDUE = "watching IS TRUE AND legal_overdue IS TRUE"
PREREVIEW = "watching IS TRUE AND state = 'received' AND prereview_overdue IS TRUE"
IOU = "watching IS TRUE AND iou_due_on IS NOT NULL"

INDEXES: list[tuple[str, list[str], str]] = [
    (f"ix_case_clocks_{board}{suffix}", [*office, due, "case_id"], where)
    for board, due, where in (
        ("legal_overdue", "legal_due_on", LEGAL_OVERDUE),
        ("prereview", "prereview_due_on", PREREVIEW),
        ("iou", "iou_due_on", IOU),
    )
    for suffix, office in (("", []), ("_window", ["window_office_id"]), ("_dept", ["department_office_id"]))
]


def upgrade() -> None:
    for name, columns, where in INDEXES:
        op.create_index(
            name, "case_clocks", columns, unique=False, postgresql_where=sa.text(where), sqlite_where=sa.text(where)
        )


def downgrade() -> None:
    for name, _, _ in reversed(INDEXES):
        op.drop_index(name, table_name="case_clocks")
