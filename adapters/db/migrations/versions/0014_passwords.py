"""passwords and sessions: staff sign in with a user name and a password into a session

``user_credentials``: one argon2id hash per user who may sign in, whether the password is a
one-time one set by an admin (``must_change``), and the consecutive failures with the lock-out
they earned. ``user_sessions``: the SHA-256 of each session cookie, when it was last used (idle
expiry) and when it ends at the latest.

Revision ID: 0014
Revises: 0015
Create Date: 2026-11-29 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import adapters.db.types

revision = "0014"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_credentials",
        sa.Column("user_id", sa.String(length=64), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("must_change", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("changed_at", adapters.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", adapters.db.types.UtcDateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "user_sessions",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column("user_id", sa.String(length=64), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", adapters.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", adapters.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", adapters.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", adapters.db.types.UtcDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_user_sessions_user", "user_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_user_sessions_user", table_name="user_sessions")
    op.drop_table("user_sessions")
    op.drop_table("user_credentials")
