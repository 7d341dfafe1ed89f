"""matter catalogue: the elements of seed 002, implementations per region, versions, retirement

Matters get the catalogue's elements (实施清单名称, 事项类型, 服务对象, 到现场次数, 受理条件,
办理结果名称 and its 电子证照), a version number and a retirement time; their materials the
电子证照 that may replace them (免提交). ``matter_implementations`` says, per region, which
department decides for that region's applicants (属地) and which regions' windows may collect
(通办范围); ``matter_versions`` keeps every version's terms. A case records its applicant's region
and the home department the applicant was spared a trip to (少跑距离).

Existing matters have no implementations: their department decides for everyone and every window
may collect, as before. Their present terms are version 1; ``matter_versions`` holds each version
written from now on.

Revision ID: 0019
Revises: 0016
Create Date: 2026-11-29 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0016"
branch_labels = None
depends_on = None

MATTER_COLUMNS = (
    ("list_name", sa.String(length=200), ""),
    ("matter_type", sa.String(length=32), "行政许可"),
    ("visits", sa.Integer(), "1"),
    ("conditions", sa.Text(), ""),
    ("result_name", sa.String(length=200), ""),
    ("result_licence", sa.String(length=200), ""),
    ("version", sa.Integer(), "1"),
)


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy of the tables on SQLite: cases and matters have foreign keys).
    for name, kind, default in MATTER_COLUMNS:
        op.add_column("matters", sa.Column(name, kind, nullable=False, server_default=default))
    op.add_column("matters", sa.Column("service_objects", sa.JSON(), nullable=True))
    op.add_column("matters", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("matter_materials", sa.Column("licence", sa.String(length=200), nullable=False, server_default=""))
    op.add_column("matter_materials", sa.Column("exempt", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("cases", sa.Column("applicant_region", sa.String(length=6), nullable=False, server_default=""))
    op.add_column("cases", sa.Column("home_office_id", sa.String(length=64), nullable=True))
    op.create_table(
        "matter_implementations",
        sa.Column("matter_id", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("office_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["matters.id"],
            name=op.f("fk_matter_implementations_matter_id_matters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_matter_implementations_region_code_regions")
        ),
        sa.ForeignKeyConstraint(
            ["office_id"], ["offices.id"], name=op.f("fk_matter_implementations_office_id_offices")
        ),
        sa.PrimaryKeyConstraint("matter_id", "region_code", name=op.f("pk_matter_implementations")),
    )
    op.create_table(
        "matter_versions",
        sa.Column("matter_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["matter_id"], ["matters.id"], name=op.f("fk_matter_versions_matter_id_matters"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("matter_id", "version", name=op.f("pk_matter_versions")),
    )


def downgrade() -> None:
    op.drop_table("matter_versions")
    op.drop_table("matter_implementations")
    op.drop_column("cases", "home_office_id")
    op.drop_column("cases", "applicant_region")
    op.drop_column("matter_materials", "exempt")
    op.drop_column("matter_materials", "licence")
    for name in ("retired_at", "service_objects", *(n for n, _, _ in MATTER_COLUMNS)):
        op.drop_column("matters", name)
