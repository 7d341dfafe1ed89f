"""The async engine for a database URL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

CONNECT_TIMEOUT_SECONDS = 5
"""How long opening a PostgreSQL connection may take before the request fails (503)."""


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """PostgreSQL: a pool of ``pool_size``. SQLite: one connection (SQLite has one writer at a
    time; one connection serialises transactions in-process instead of failing with 'database is
    locked'), WAL journal, foreign keys on."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # Pre-ping: after a database restart every pooled connection is dead; the ping (one round trip
    # at checkout) finds them and opens fresh ones, so the service recovers by itself instead of
    # failing one request per stale connection.
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
    )


async def ping(engine: AsyncEngine) -> None:
    """The readiness check of a database: one ``SELECT 1``; raises when it cannot be reached."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
