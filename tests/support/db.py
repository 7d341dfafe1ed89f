"""Databases for integration tests: a fresh SQLite file, or a fresh PostgreSQL database with a
random name (dropped afterwards). With CI=true a PostgreSQL that cannot be reached fails the
test instead of skipping it."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.crypto import IdCipher
from adapters.db.engine import make_engine
from adapters.db.migrate import upgrade
from adapters.db.outbox import write_outbox
from adapters.db.tables import outbox

__all__ = ["CIPHER", "postgres_engine", "read_outbox", "sqlite_engine", "write_outbox"]

PG_HOST = "127.0.0.1:5432"

CIPHER = IdCipher({"k1": b"0" * 32}, hash_key=b"h" * 32)


async def read_outbox(engine: AsyncEngine) -> list[str]:
    """The types of the events in the outbox, in commit order."""
    async with engine.connect() as conn:
        return list((await conn.execute(select(outbox.c.type).order_by(outbox.c.seq))).scalars())


async def _prepare(engine: AsyncEngine) -> None:
    await upgrade(engine)  # tests build their databases by running the real migrations


async def sqlite_engine(tmp_path) -> AsyncIterator[AsyncEngine]:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
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
    engine = make_engine(f"postgresql+asyncpg://postgres@{PG_HOST}/{name}", pool_size=8)
    try:
        await _prepare(engine)
        yield engine
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
