"""The async engine for a database URL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


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
    # No pre-ping: it costs a round trip per transaction; stale connections are recycled instead,
    # and a broken one fails its transaction, which callers retry.
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
