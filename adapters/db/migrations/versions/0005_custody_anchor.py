"""custody anchored beyond the database (chain length and head on packages, signed checkpoints)

Each package row keeps its custody chain's length and head hash (backfilled from the existing
custody events); ``custody_checkpoints`` and ``custody_checkpoint_leaves`` keep the signed
checkpoints and what each of them pinned.

Revision ID: 0005
Revises: 0010
Create Date: 2026-11-29 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import adapters.db.types

revision = "0005"
down_revision = "0010"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    # Plain ADD COLUMN with a default, not a batch copy of the table: on SQLite a batch operation
    # drops and recreates ``packages``, which the package items reference with ON DELETE CASCADE.
    op.add_column("packages", sa.Column("chain_length", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("packages", sa.Column("chain_head", sa.String(length=64), nullable=False, server_default=GENESIS))
    # Backfill from the chains as they are now: the anchor pins them from here on.
    op.execute(
        """
        UPDATE packages SET
          chain_length = (SELECT COUNT(*) FROM custody_events c WHERE c.package_id = packages.id),
          chain_head = COALESCE(
            (SELECT c.hash FROM custody_events c WHERE c.package_id = packages.id ORDER BY c.seq DESC LIMIT 1),
            chain_head)
        """
    )
    if op.get_bind().dialect.name == "postgresql":  # SQLite cannot drop a default without that copy
        op.alter_column("packages", "chain_length", server_default=None)
        op.alter_column("packages", "chain_head", server_default=None)

    op.create_table(
        "custody_checkpoints",
        sa.Column("n", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("made_at", adapters.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("n", name=op.f("pk_custody_checkpoints")),
    )
    with op.batch_alter_table("custody_checkpoints", schema=None) as batch_op:
        batch_op.create_index("ix_custody_checkpoints_day", ["day"], unique=False)

    op.create_table(
        "custody_checkpoint_leaves",
        sa.Column("checkpoint_n", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.String(length=64), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_n"],
            ["custody_checkpoints.n"],
            name=op.f("fk_custody_checkpoint_leaves_checkpoint_n_custody_checkpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("checkpoint_n", "package_id", name=op.f("pk_custody_checkpoint_leaves")),
    )
    with op.batch_alter_table("custody_checkpoint_leaves", schema=None) as batch_op:
        batch_op.create_index("ix_custody_checkpoint_leaves_package", ["package_id", "checkpoint_n"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("custody_checkpoint_leaves", schema=None) as batch_op:
        batch_op.drop_index("ix_custody_checkpoint_leaves_package")
    op.drop_table("custody_checkpoint_leaves")
    with op.batch_alter_table("custody_checkpoints", schema=None) as batch_op:
        batch_op.drop_index("ix_custody_checkpoints_day")
    op.drop_table("custody_checkpoints")
    op.drop_column("packages", "chain_head")
    op.drop_column("packages", "chain_length")
