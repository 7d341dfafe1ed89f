"""Transaction-scoped locks by name, for workers that recompute a row from an aggregate.

Two consumers handling events of the same case at once (two worker processes) must not interleave
"read the case, write what follows from it": the later writer could commit an older reading. A
PostgreSQL advisory lock held until the end of the transaction orders them without touching the
case's own row (which the API updates). SQLite has one writer and one connection per process
(adapters/db/engine.py), so transactions are already serial there.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def lock_for_transaction(conn: AsyncConnection, name: str) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name})


async def lock_all_for_transaction(conn: AsyncConnection, names: Sequence[str]) -> None:
    """Several locks in one round trip, taken in the order given (sorted by the caller: every
    process that takes several must take them in one order, or two can deadlock)."""
    if conn.dialect.name == "postgresql" and names:
        await conn.execute(
            text(
                "SELECT count(pg_advisory_xact_lock(hashtextextended(name, 0)))"
                " FROM unnest(CAST(:names AS text[])) WITH ORDINALITY AS wanted(name, place)"
            ),
            {"names": list(names)},
        )
