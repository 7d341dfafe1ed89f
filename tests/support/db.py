"""Databases for integration tests: a fresh SQLite file, or a fresh PostgreSQL database with a
random name (dropped afterwards). With CI=true a PostgreSQL that cannot be reached fails the
test instead of skipping it."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from adapters.crypto import IdCipher
from adapters.db import domain_tables
from handoff import events as ev

PG_HOST = "127.0.0.1:5432"

_test_meta = MetaData()
test_outbox = Table(
    "test_outbox",
    _test_meta,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("type", String(64), nullable=False),
)

CIPHER = IdCipher({"k1": b"0" * 32}, hash_key=b"h" * 32)


async def write_test_outbox(conn: AsyncConnection, events: Sequence[ev.Event]) -> None:
    await conn.execute(insert(test_outbox), [{"type": e.type} for e in events])


async def read_outbox(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(test_outbox.c.type).order_by(test_outbox.c.n))).scalars())


async def _prepare(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(domain_tables.metadata.create_all)
        await conn.run_sync(_test_meta.create_all)


async def sqlite_engine(tmp_path) -> AsyncIterator[AsyncEngine]:  # type: ignore[no-untyped-def]
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}", pool_size=1, max_overflow=0)
    try:
        await _prepare(engine)
        yield engine
    finally:
        await engine.dispose()


def service_missing(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable: {exc}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


async def postgres_engine() -> AsyncIterator[AsyncEngine]:
    import asyncpg

    name = f"handoff_t_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect(f"postgresql://postgres@{PG_HOST}/postgres")
    except OSError as exc:
        service_missing(f"PostgreSQL on {PG_HOST}", exc)
        raise
    await admin.execute(f'CREATE DATABASE "{name}"')
    engine = create_async_engine(f"postgresql+asyncpg://postgres@{PG_HOST}/{name}", poolclass=NullPool)
    try:
        await _prepare(engine)
        yield engine
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
