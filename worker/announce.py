"""Announcing what time has brought (a deadline near, a package stalled…): once per occasion.

The watchers find the same situation at every scan; ``watch_announcements`` remembers the occasion
by key, and the event goes to the outbox in the same transaction as that row — announced exactly
once, and never lost."""

from __future__ import annotations

import logging

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.outbox import write_outbox
from adapters.db.worker_tables import watch_announcements
from handoff import events as ev

log = logging.getLogger("handoff.watch")


async def announce(engine: AsyncEngine, key: str, event: ev.Event) -> int:
    """Write ``event`` to the outbox unless ``key`` was announced before; 1 if written, else 0."""
    async with engine.begin() as conn:
        dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        fresh = await conn.execute(
            dialect_insert(watch_announcements)
            .values(
                key=key,
                kind=event.type,
                case_id=event.case_id,
                package_id=event.package_id,
                event_id=event.event_id,
                announced_at=event.occurred_at,
            )
            .on_conflict_do_nothing()
            .returning(watch_announcements.c.key)
        )
        if fresh.first() is None:
            return 0
        await write_outbox(conn, [event])
    log.info(
        "announced", extra={"case_id": event.case_id, "package_id": event.package_id, "event": event.type, "key": key}
    )
    return 1
