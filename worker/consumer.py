"""Idempotent consumers: the inbox row and the handler's effects commit in one transaction, so a
redelivered message does nothing twice."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.broker.bus import BatchHandler, Handler, Incoming, Park
from adapters.db.tables import inbox

Effect = Callable[[dict[str, Any], AsyncConnection], Awaitable[None]]


def envelope_of(message: Incoming) -> dict[str, Any]:
    """The event envelope a message carries; Park when it is not one (it never will be)."""
    try:
        envelope = json.loads(message.body)
    except ValueError as exc:
        raise Park(f"not JSON: {exc}") from exc
    if not isinstance(envelope, dict) or "type" not in envelope:
        raise Park("not an event envelope")
    return envelope


def idempotent_batch(engine: AsyncEngine, consumer: str, effect: Effect) -> BatchHandler:
    """Several messages in one transaction: one multi-row inbox insert, then the effects of the
    messages not seen before, in order. Any failure rolls back all of them (the consumer then
    handles them one by one)."""

    async def handle(messages: Sequence[Incoming]) -> None:
        envelopes = [envelope_of(m) for m in messages]
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            fresh = set(
                (
                    await conn.execute(
                        dialect_insert(inbox)
                        .values(
                            [{"message_id": m.message_id, "consumer": consumer, "handled_at": now} for m in messages]
                        )
                        .on_conflict_do_nothing()
                        .returning(inbox.c.message_id)
                    )
                ).scalars()
            )
            done: set[str] = set()
            for message, envelope in zip(messages, envelopes, strict=True):
                if message.message_id in fresh and message.message_id not in done:
                    done.add(message.message_id)
                    await effect(envelope, conn)

    return handle


def idempotent(engine: AsyncEngine, consumer: str, effect: Effect) -> Handler:
    async def handle(message: Incoming) -> None:
        envelope = envelope_of(message)
        async with engine.begin() as conn:
            dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            first = await conn.execute(
                dialect_insert(inbox)
                .values(message_id=message.message_id, consumer=consumer, handled_at=datetime.now(UTC))
                .on_conflict_do_nothing()
                .returning(inbox.c.message_id)
            )
            if first.first() is None:
                return  # handled before: nothing twice
            await effect(envelope, conn)

    return handle


def affected_cases(messages: Sequence[Incoming]) -> tuple[bool, list[str]]:
    """(a calendar was uploaded, the cases whose events these are — each once, in order)."""
    calendar_changed, case_ids = False, dict[str, None]()
    for message in messages:
        envelope = envelope_of(message)
        kind = str(envelope["type"])
        if kind == "calendar.updated":
            calendar_changed = True
        elif kind.startswith(("case.", "stage.")) and envelope.get("case_id"):
            case_ids[str(envelope["case_id"])] = None
    return calendar_changed, list(case_ids)
