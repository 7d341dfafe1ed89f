"""token expiry

Every bearer token carries the moment it stops working (DESIGN §12). Tokens issued before this
revision never expired; they now expire 90 days after the migration, so nobody is locked out on
the day of the upgrade and no old token lives for ever.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-29 17:10:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import adapters.db.types

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

GRACE = timedelta(days=90)


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("expires_at", adapters.db.types.UtcDateTime(timezone=True), nullable=True))
    tokens = sa.table("api_tokens", sa.column("expires_at", adapters.db.types.UtcDateTime(timezone=True)))
    op.execute(tokens.update().values(expires_at=datetime.now(UTC) + GRACE))
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("expires_at", existing_type=adapters.db.types.UtcDateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
