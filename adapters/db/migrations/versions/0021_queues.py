"""queues and the archive search

证件类型, 领取方式 and 意见 of a pickup registration (发放登记); indexes for the console's 待办 (an
office's cases in a state; open supplements, IOUs owed and open stages; packages still on their
way from or to an office) and for 办件档案 (cases by the applicant's phone, keyed ID-number hash,
name or matter, newest first).

Revision ID: 0021
Revises: 0019
Create Date: 2026-11-29 20:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0019"
branch_labels = None
depends_on = None

MOVING = "state IN ('sealed', 'with_courier', 'in_transit', 'arrived', 'pushed')"

PLAIN = [
    ("ix_cases_phone_collected", "cases", ["applicant_phone", "collected_at", "id"]),
    ("ix_cases_id_hash_collected", "cases", ["applicant_id_hash", "collected_at", "id"]),
    ("ix_cases_name_collected", "cases", ["applicant_name", "collected_at", "id"]),
    ("ix_cases_matter_collected", "cases", ["matter_id", "collected_at", "id"]),
    ("ix_cases_window_state", "cases", ["window_office_id", "state"]),
    ("ix_cases_department_state", "cases", ["department_office_id", "state"]),
]
PARTIAL = [
    ("ix_case_ious_owed", "case_ious", ["due_on", "case_id"], "fulfilled_at IS NULL"),
    ("ix_case_supplements_open", "case_supplements", ["due_on", "case_id"], "supplied_at IS NULL"),
    ("ix_case_stages_open", "case_stages", ["start_on", "case_id"], "end_on IS NULL"),
    ("ix_packages_from_moving", "packages", ["from_party", "state"], MOVING),
    ("ix_packages_to_moving", "packages", ["to_party", "state"], MOVING),
]


def upgrade() -> None:
    # 发放登记: 证件类型, 领取方式 and 意见 (seed 002); plain add_column (pickups has a foreign key)
    op.add_column("pickups", sa.Column("id_type", sa.String(24), nullable=False, server_default="resident_id"))
    op.add_column("pickups", sa.Column("method", sa.String(24), nullable=False, server_default="window"))
    op.add_column("pickups", sa.Column("note", sa.Text(), nullable=False, server_default=""))
    for name, table, columns in PLAIN:
        op.create_index(name, table, columns)
    for name, table, columns, where in PARTIAL:
        op.create_index(name, table, columns, postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def downgrade() -> None:
    for name, table, *_ in reversed(PARTIAL):
        op.drop_index(name, table_name=table)
    for name, table, _columns in reversed(PLAIN):
        op.drop_index(name, table_name=table)
    for column in ("note", "method", "id_type"):
        op.drop_column("pickups", column)
