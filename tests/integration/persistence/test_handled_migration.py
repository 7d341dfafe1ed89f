"""Migration 0026 on SQLite and PostgreSQL: the events written before it get their actor from the
envelope (已办办件 reads the column), and the column and its index come and go with the revision."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command

from adapters.db.migrate import alembic_config, upgrade
from adapters.db.tables import outbox
from adapters.db.types import UtcDateTime

pytestmark = pytest.mark.integration


async def test_events_from_before_the_migration_get_their_actor_from_the_envelope(domain_db):
    engine, _ = domain_db
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0020"))
    old_outbox = sa.table(
        "outbox",
        sa.column("id", sa.String),
        sa.column("type", sa.String),
        sa.column("ordering_key", sa.String),
        sa.column("case_id", sa.String),
        sa.column("payload", sa.JSON),
        sa.column("created_at", UtcDateTime()),
        sa.column("attempts", sa.Integer),
    )
    at = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(old_outbox),
            [
                {
                    "id": f"e-{n}",
                    "type": "case.accepted",
                    "ordering_key": "c-1",
                    "case_id": "c-1",
                    "payload": {"actor": actor, "type": "case.accepted"},
                    "created_at": at,
                    "attempts": 0,
                }
                for n, actor in enumerate(("dept-zj", "system"))
            ],
        )
    await upgrade(engine)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(outbox.c.id, outbox.c.actor).order_by(outbox.c.id))).all()
    assert [tuple(r) for r in rows] == [("e-0", "dept-zj"), ("e-1", "system")]
