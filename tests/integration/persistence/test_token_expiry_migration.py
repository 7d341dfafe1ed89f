"""Migration 0006 on SQLite and PostgreSQL: the tokens issued before it, which never expired, get
an expiry 90 days after the migration (nobody is locked out on the day of the upgrade)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from adapters.db import domain_tables as t
from adapters.db.migrate import alembic_config, upgrade
from adapters.db.types import UtcDateTime

pytestmark = pytest.mark.integration


async def test_tokens_from_before_the_migration_expire_90_days_after_it(domain_db):
    engine, _ = domain_db
    before = ScriptDirectory.from_config(alembic_config()).get_revision("0006").down_revision
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), str(before)))
    created = datetime(2025, 1, 1, tzinfo=UTC)
    old_tokens = sa.table(
        "api_tokens",
        sa.column("token_hash", sa.String),
        sa.column("user_id", sa.String),
        sa.column("created_at", UtcDateTime()),
    )
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(t.users).values(id="u1", name="老用户", role="admin", scope="*", phone="", created_at=created)
        )
        await conn.execute(sa.insert(old_tokens).values(token_hash="a" * 64, user_id="u1", created_at=created))
    migrated_at = datetime.now(UTC)
    await upgrade(engine)
    async with engine.connect() as conn:
        (expires_at,) = (await conn.execute(sa.select(t.api_tokens.c.expires_at))).one()
    assert migrated_at + timedelta(days=90) <= expires_at <= datetime.now(UTC) + timedelta(days=90)
