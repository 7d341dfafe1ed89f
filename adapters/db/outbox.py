"""The transactional outbox: events are written in the same transaction as the rows that caused
them; the relay (worker/relay.py) publishes them afterwards. Nothing is published that was not
committed, and nothing committed is lost."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables import outbox
from handoff import events as ev


def ordering_key(event: ev.Event) -> str:
    """Events with the same key are published in commit order: a case's events stay in order."""
    return event.case_id or event.package_id or event.event_id


async def write_outbox(conn: AsyncConnection, events: Sequence[ev.Event]) -> None:
    if not events:
        return
    await conn.execute(
        insert(outbox),
        [
            {
                "id": e.event_id,
                "type": e.type,
                "ordering_key": ordering_key(e),
                "case_id": e.case_id,
                "package_id": e.package_id,
                "payload": ev.to_envelope(e),
                "created_at": e.occurred_at,
                "attempts": 0,
            }
            for e in events
        ],
    )
