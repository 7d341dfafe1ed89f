"""The outbox relay: publishes committed events, in commit order per case, and marks them sent.

* PostgreSQL: batches claimed with ``FOR UPDATE SKIP LOCKED``, so several relays share the work;
  a relay publishes a case's rows only up to the first unpublished row of that case outside its
  batch (held by another relay, or not yet claimed), so a case's events never overtake each other.
* SQLite (embedded): one relay, plain batches.
* Wake-up: LISTEN on ``handoff_outbox`` (PostgreSQL), poked by :class:`OutboxPoke` after commits —
  at most one NOTIFY per process every few milliseconds, sent outside the API's transaction, so
  commits are never serialised on the notification queue — and polling as the fallback.

A crash between publish and commit publishes the batch again: consumers deduplicate (inbox).

Publishing in order keeps the consumers from waiting, but it is not what keeps the order: a
redelivery after a broker restart, a retry through a delay queue or a competing process can still
put a case's event ahead of its predecessor. Each event carries its place in its case's stream
(``seq``, given at commit: adapters/db/outbox.py) in the envelope and the ``x-handoff-seq``
header, and the consumers hold back what came early (worker/consumer.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, String, Text, bindparam, cast, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.broker.bus import Outgoing, Publisher, PublishFailed
from adapters.broker.outcomes import describe
from adapters.db.tables import outbox
from adapters.db.types import UtcDateTime
from adapters.outages import unavailable

log = logging.getLogger("handoff.relay")
CHANNEL = "handoff_outbox"

# Built once, with arrays for the lists (PostgreSQL), so each statement is compiled once and
# prepared once per connection whatever the batch's size.
_COLUMNS = (
    outbox.c.seq,
    outbox.c.id,
    outbox.c.type,
    outbox.c.ordering_key,
    outbox.c.key_seq,
    cast(outbox.c.payload, Text).label("payload"),
)
_CLAIM = select(*_COLUMNS).where(outbox.c.published_at.is_(None)).order_by(outbox.c.seq).limit(bindparam("batch"))
_PG_CLAIM = _CLAIM.with_for_update(skip_locked=True)
_PG_FOREIGN_FIRST = text(
    "SELECT ordering_key, min(seq) FROM outbox "
    "WHERE published_at IS NULL AND seq < :top AND ordering_key = ANY(CAST(:keys AS varchar[])) "
    "AND NOT (seq = ANY(CAST(:seqs AS bigint[]))) GROUP BY ordering_key"
).bindparams(bindparam("keys", type_=ARRAY(String)), bindparam("seqs", type_=ARRAY(BigInteger)))
_PG_MARK = text(
    "UPDATE outbox SET published_at = :now, attempts = attempts + 1 WHERE seq = ANY(CAST(:seqs AS bigint[]))"
).bindparams(bindparam("seqs", type_=ARRAY(BigInteger)), bindparam("now", type_=UtcDateTime()))


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        publisher: Publisher,
        *,
        batch: int = 200,
        poll_seconds: float = 0.5,
        listen_url: str | None = None,
        max_backoff: float = 5.0,
    ) -> None:
        self.max_backoff = max_backoff
        self.engine = engine
        self.publisher = publisher
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.listen_url = listen_url
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False
        self.published = 0

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Publish one batch; return how many events were published."""
        async with self.engine.connect() as conn:
            async with conn.begin():
                rows = await self._claim(conn)
                if not rows:
                    return 0
                await self.publisher.publish(
                    [
                        Outgoing(
                            message_id=r.id,
                            routing_key=r.type,
                            body=r.payload.encode(),
                            ordering_key=r.ordering_key,
                            seq=r.key_seq,
                        )
                        for r in rows
                    ]
                )
                seqs = [r.seq for r in rows]
                now = datetime.now(UTC)
                if conn.dialect.name == "postgresql":
                    await conn.execute(_PG_MARK, {"seqs": seqs, "now": now})
                else:
                    await conn.execute(
                        update(outbox)
                        .where(outbox.c.seq.in_(seqs))
                        .values(published_at=now, attempts=outbox.c.attempts + 1)
                    )
        self.published += len(rows)
        return len(rows)

    async def _claim(self, conn: AsyncConnection) -> list[Any]:
        """The next batch, each row's payload as the JSON text it was stored as (the message body:
        nothing parsed and written again)."""
        postgres = conn.dialect.name == "postgresql"
        rows = list(await conn.execute(_PG_CLAIM if postgres else _CLAIM, {"batch": self.batch}))
        if not postgres or not rows:
            return rows
        # A case's rows may be published only up to the first unpublished row of that case that is
        # not in this batch (another relay holds it): that one must go first. Rows held by others
        # count as unpublished until their relay commits. Rows beyond the batch (unclaimed, or
        # committed since) come after every row of the batch, so only those below its last one are
        # looked at.
        found = await conn.execute(
            _PG_FOREIGN_FIRST,
            {"keys": sorted({r.ordering_key for r in rows}), "seqs": [r.seq for r in rows], "top": rows[-1].seq},
        )
        foreign_first: dict[str, int] = {str(key): int(first) for key, first in found}
        if not foreign_first:
            return rows
        return [r for r in rows if r.seq < foreign_first.get(r.ordering_key, r.seq + 1)]

    async def run(self) -> None:
        """Until :meth:`stop`: publish while there is work, then wait for a poke or the poll."""
        listener = await self._listen()
        backoff = self.poll_seconds
        failing = False
        try:
            while not self._stopping:
                try:
                    count = await self.run_once()
                except Exception as exc:
                    backoff = min(backoff * 2, self.max_backoff)
                    failing = True
                    # the broker or the database down (or refusing): one line with the cause; a bug
                    # keeps its traceback
                    expected = isinstance(exc, PublishFailed) or unavailable(exc) is not None
                    log.warning(
                        "relay batch failed; retrying in %.1f s: %s", backoff, describe(exc), exc_info=not expected
                    )
                    # no poke cuts the pause short (commits go on while the broker is down)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopped.wait(), backoff)
                    continue
                if failing and count:
                    log.info("relay publishing again")
                    failing = False
                backoff = self.poll_seconds
                if count:
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), backoff)
        finally:
            if listener is not None:
                await listener.close()

    def stop(self) -> None:
        self._stopping = True
        self._stopped.set()
        self._wake.set()

    async def _listen(self) -> Any:
        if not self.listen_url:
            return None
        import asyncpg

        try:
            connection = await asyncpg.connect(self.listen_url)
            await connection.add_listener(CHANNEL, lambda *_: self._wake.set())
            return connection
        except (OSError, asyncpg.PostgresError):
            log.warning("LISTEN unavailable; relying on polling", exc_info=True)
            return None


class OutboxPoke:
    """Tells relays that there is something new, at most once per ``interval`` per process, on a
    connection of its own after the commit (never inside the API's transaction)."""

    def __init__(self, engine: AsyncEngine | None, local: OutboxRelay | None = None, interval: float = 0.02) -> None:
        self.engine = engine if engine is not None and engine.dialect.name == "postgresql" else None
        self.local = local
        self.interval = interval
        self._pending: asyncio.Task[None] | None = None

    def __call__(self) -> None:
        if self.local is not None:
            self.local.wake()
        if self.engine is None or (self._pending is not None and not self._pending.done()):
            return
        self._pending = asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        await asyncio.sleep(self.interval)
        assert self.engine is not None
        try:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql(f"NOTIFY {CHANNEL}")
                await conn.commit()
        except Exception:
            log.debug("NOTIFY failed; relays will poll", exc_info=True)
