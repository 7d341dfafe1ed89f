"""The schema the migrations build is exactly what the tables declare (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from adapters.db.migrate import current_revision
from adapters.db.tables import metadata
from tests.support.db import postgres_engine, sqlite_engine

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
async def migrated(request, tmp_path):
    gen = sqlite_engine(tmp_path) if request.param == "sqlite" else postgres_engine()
    engine = await gen.__anext__()
    yield engine
    await gen.aclose()


async def test_the_migrated_schema_equals_the_declared_tables(migrated):
    async with migrated.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
        )
    assert diff == []
    assert await current_revision(migrated) is not None


async def test_migrating_twice_changes_nothing(migrated):
    from adapters.db.migrate import upgrade

    before = await current_revision(migrated)
    await upgrade(migrated)
    assert await current_revision(migrated) == before
