"""courier lists: indexes for the courier's phone screen

The courier's three lists read one page with LIMIT in SQL: the packages in hand and those sealed
at an office of the route by holder (then last movement and id, the keyset), and the day's 送达
reports by the reporting courier, kind and time.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-29 20:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_packages_holder", "packages", ["holder", "last_movement_at", "id"])
    op.create_index("ix_custody_events_reporter", "custody_events", ["from_party", "kind", "server_time"])


def downgrade() -> None:
    op.drop_index("ix_custody_events_reporter", table_name="custody_events")
    op.drop_index("ix_packages_holder", table_name="packages")
