"""What the consumer groups have made of each case's stream (worker/consumer.py keeps it): the
gaps — parked messages that their successors went past — for ``handoff parked list`` and the case."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.worker_tables import consumer_gaps


async def gaps(
    conn: AsyncConnection, *, consumer: str | None = None, case_id: str | None = None, open_only: bool = False
) -> list[dict[str, Any]]:
    """The recorded gaps, oldest first; ``open_only``: those not replayed yet."""
    conditions = []
    if consumer is not None:
        conditions.append(consumer_gaps.c.consumer == consumer)
    if case_id is not None:
        conditions.append(consumer_gaps.c.case_id == case_id)
    if open_only:
        conditions.append(consumer_gaps.c.replayed_at.is_(None))
    rows = await conn.execute(
        select(consumer_gaps).where(and_(true(), *conditions)).order_by(consumer_gaps.c.parked_at, consumer_gaps.c.seq)
    )
    return [dict(r) for r in rows.mappings()]
