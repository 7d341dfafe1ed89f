"""Transaction-scoped locks by name, for workers that recompute a row from an aggregate.

Two consumers handling events of the same case at once (two worker processes) must not interleave
"read the case, write what follows from it": the later writer could commit an older reading. A
PostgreSQL advisory lock held until the end of the transaction orders them without touching the
case's own row (which the API updates). SQLite has one writer and one connection per process
(adapters/db/engine.py), so transactions are already serial there.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def lock_for_transaction(conn: AsyncConnection, name: str) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name})
