"""Hand the committed events of the outbox straight to a consumer's handler, in commit order —
for tests of one worker without a broker (messaging itself is tested on RabbitMQ)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.broker.bus import Incoming
from adapters.db.tables import outbox


class OutboxFeed:
    def __init__(self, engine: AsyncEngine, *handlers: Callable[[Incoming], Awaitable[None]]) -> None:
        self.engine = engine
        self.handlers = handlers
        self.seen = 0

    async def __call__(self) -> list[str]:
        """Deliver every event committed since the last call; return their types."""
        async with self.engine.connect() as conn:
            rows = (
                (await conn.execute(select(outbox).where(outbox.c.seq > self.seen).order_by(outbox.c.seq)))
                .mappings()
                .all()
            )
        for row in rows:
            message = Incoming(
                message_id=row["id"],
                routing_key=row["type"],
                body=json.dumps(row["payload"], ensure_ascii=False).encode(),
                ordering_key=row["ordering_key"],
            )
            for handle in self.handlers:
                await handle(message)
            self.seen = row["seq"]
        return [r["type"] for r in rows]
