"""auth version

One row counting the changes that can take authority away from a bearer token (a revocation, a
user disabled, a role or scope changed). The API caches token → principal for a few seconds; a
write that bumps this row (and, on PostgreSQL, notifies ``handoff_auth`` in the same transaction)
drops every process's cache, so a revocation holds from the very next request.

Revision ID: 0016
Revises: 0014
Create Date: 2026-11-29 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "auth_version",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "version": 0}])


def downgrade() -> None:
    op.drop_table("auth_version")
