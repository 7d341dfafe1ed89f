from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from adapters.calendar import load_calendar
from adapters.crypto import IdCipher
from adapters.db import domain_tables
from adapters.db.repositories import SqlUnitOfWork
from handoff import events as ev

PG_ADMIN = os.environ.get("HANDOFF_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")

_test_meta = MetaData()
test_outbox = Table(
    "test_outbox",
    _test_meta,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("type", String(64), nullable=False),
)


async def _outbox(conn: AsyncConnection, events: Sequence[ev.Event]) -> None:
    await conn.execute(insert(test_outbox), [{"type": e.type} for e in events])


async def read_outbox(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(test_outbox.c.type).order_by(test_outbox.c.n))).scalars())


@pytest.fixture(scope="session")
def calendar():
    return load_calendar()


CIPHER = IdCipher({"k1": b"0" * 32}, hash_key=b"h" * 32)


async def _prepare(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(domain_tables.metadata.create_all)
        await conn.run_sync(_test_meta.create_all)


async def _sqlite(tmp_path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}", pool_size=1, max_overflow=0)
    try:
        await _prepare(engine)
        yield engine
    finally:
        await engine.dispose()


async def _postgres() -> AsyncIterator[AsyncEngine]:
    import asyncpg

    name = f"handoff_t_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    except OSError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable on 127.0.0.1:5432: {exc}")
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    await admin.execute(f'CREATE DATABASE "{name}"')
    engine = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", poolclass=NullPool)
    await _prepare(engine)
    try:
        yield engine
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def domain_db(request, tmp_path):
    gen = _sqlite(tmp_path) if request.param == "sqlite" else _postgres()
    engine = await gen.__anext__()
    yield engine, lambda: SqlUnitOfWork(engine, CIPHER, _outbox)
    await gen.aclose()


@pytest.fixture
async def pg_domain_db():
    gen = _postgres()
    engine = await gen.__anext__()
    yield engine, lambda: SqlUnitOfWork(engine, CIPHER, _outbox)
    await gen.aclose()
