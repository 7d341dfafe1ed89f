"""workers (case clocks, announcements, indicator projection, shipments' labels and attempts)

The deadline watcher's case clocks and announcements, the indicator projection, the booking
attempts and courier labels of shipments, and the audience and parameters of notifications.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 07:35:25.861519
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import adapters.db.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "indicator_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("window_office_id", sa.String(length=64), nullable=False),
        sa.Column("department_office_id", sa.String(length=64), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("decided", sa.Integer(), nullable=False),
        sa.Column("should_be_decided", sa.Integer(), nullable=False),
        sa.Column("early", sa.Integer(), nullable=False),
        sa.Column("overdue", sa.Integer(), nullable=False),
        sa.Column("trips_saved", sa.Integer(), nullable=False),
        sa.Column("rated", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("bad", sa.Integer(), nullable=False),
        sa.Column("rectified", sa.Integer(), nullable=False),
        sa.Column("distance_saved_km", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("day", "window_office_id", "department_office_id", name=op.f("pk_indicator_days")),
    )
    op.create_table(
        "indicator_stage_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("window_office_id", sa.String(length=64), nullable=False),
        sa.Column("department_office_id", sa.String(length=64), nullable=False),
        sa.Column("stage_type", sa.String(length=32), nullable=False),
        sa.Column("stages", sa.Integer(), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.Column("calendar_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "window_office_id", "department_office_id", "stage_type", name=op.f("pk_indicator_stage_days")
        ),
    )
    op.create_table(
        "watch_announcements",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("package_id", sa.String(length=64), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("announced_at", adapters.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_watch_announcements")),
    )
    op.create_table(
        "case_clocks",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("case_no", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("window_office_id", sa.String(length=64), nullable=False),
        sa.Column("department_office_id", sa.String(length=64), nullable=False),
        sa.Column("collected_on", sa.Date(), nullable=False),
        sa.Column("forwarding_due_on", sa.Date(), nullable=False),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("promised", sa.Integer(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("used", sa.Integer(), nullable=True),
        sa.Column("remaining", sa.Integer(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("supplement_due_on", sa.Date(), nullable=True),
        sa.Column("watching", sa.Boolean(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("updated_at", adapters.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_clocks_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_clocks")),
    )
    with op.batch_alter_table("case_clocks", schema=None) as batch_op:
        batch_op.create_index("ix_case_clocks_watching", ["watching", "as_of"], unique=False)

    op.create_table(
        "case_facts",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("collected_on", sa.Date(), nullable=False),
        sa.Column("window_office_id", sa.String(length=64), nullable=False),
        sa.Column("department_office_id", sa.String(length=64), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("decided", sa.Boolean(), nullable=False),
        sa.Column("due_passed", sa.Boolean(), nullable=False),
        sa.Column("early", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("trip_saved", sa.Boolean(), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("bad_rating", sa.Boolean(), nullable=False),
        sa.Column("rectified", sa.Boolean(), nullable=False),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("updated_at", adapters.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_facts_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_facts")),
    )
    with op.batch_alter_table("case_facts", schema=None) as batch_op:
        batch_op.create_index("ix_case_facts_open", ["open", "as_of"], unique=False)

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        # rows written before this revision were all the applicant's, their params kept in `reason`
        batch_op.add_column(
            sa.Column("audience", sa.String(length=16), nullable=False, server_default=sa.text("'applicant'"))
        )
        batch_op.add_column(sa.Column("user_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))

    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("label_sha256", sa.String(length=64), nullable=True))
        # existing rows (none are written before this revision, but be safe) get an empty list
        batch_op.add_column(sa.Column("attempts", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("polled_at", adapters.db.types.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("params")
        batch_op.drop_column("user_id")
        batch_op.drop_column("audience")

    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_column("polled_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("label_sha256")

    with op.batch_alter_table("case_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_case_facts_open")

    op.drop_table("case_facts")
    with op.batch_alter_table("case_clocks", schema=None) as batch_op:
        batch_op.drop_index("ix_case_clocks_watching")

    op.drop_table("case_clocks")
    op.drop_table("watch_announcements")
    op.drop_table("indicator_stage_days")
    op.drop_table("indicator_days")
