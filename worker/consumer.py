"""Consumers: idempotent (the inbox) and in order (the gate).

**Idempotent.** The inbox row and the handler's effects commit in one transaction, so a
redelivered message does nothing twice.

**In order** (DESIGN §8). Every event carries its place in its case's stream: ``ordering_key``
and ``seq`` in the envelope, numbered at commit (adapters/db/outbox.py). :class:`OrderGate` wraps
a group's handlers — every group's, in this one place (worker/group.py puts it around each) — and
keeps, per group and key, the last sequence applied (``consumer_positions``). For a message with
sequence ``s`` and the group's position ``p``:

* ``s == p + 1``, or no event between ``p`` and ``s`` is routed to this group (the outbox says
  which events there are; the logistics group sees only a few of a case's): **apply**, then move
  the position to ``s``;
* an event between them is routed here and not applied yet: **hold** — the bus delivers the
  message again after a short delay (topology's hold queues), which is not a failed attempt, so
  a message waiting for its predecessor is never parked for it;
* ``s <= p``: a duplicate — **ack and ignore**; unless ``s`` is a recorded gap (below): then it is
  a **replay**, applied out of its place, and the gap is marked replayed;
* a message that is parked (its last attempt failed, or it asked to be) is recorded as a **gap**
  (``consumer_gaps``: group, key, seq, why), and the position moves past it, so its successors
  go on. ``handoff parked list`` shows the gaps; replayed (``handoff parked replay``), the
  message is applied whenever it comes back — it cannot go back in time, its successors are done.

The position is written after the handler's own transaction commits, never before: a position
never claims an effect that did not commit. A crash in between leaves the position behind its
effect; the redelivered message then finds ``s == p + 1``, runs the handler again — a no-op,
since every handler is idempotent (inbox, unique keys, or a recomputation from the case) — and
moves the position. So the gate needs nothing from the groups but idempotence, and holds for any
number of processes: a successor goes ahead only once the position shows its predecessor done.
Within a batch the messages are put in sequence order per key and gated in that order; those
that must wait are held (:class:`PartlyHeld`: with the later messages of their key, which wait
for them too) and the rest of the batch goes on. A :class:`TransactionalBatch` (an inbox group's
:class:`InboxBatch`, the projections' and the deadlines' batches) commits its verdicts' positions,
inbox rows and effects in one transaction, run again whole on a deadlock; any other batch handler
commits its effects, then the positions (as above).
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Integer, String, any_, bindparam, case, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.broker.bus import BatchHandler, Handler, Hold, Incoming, Park, PartlyHeld
from adapters.broker.outcomes import Outcome, decide, describe
from adapters.broker.topology import Group
from adapters.db.retry import ATTEMPTS, retry_conflicts
from adapters.db.tables import inbox, outbox
from adapters.db.types import UtcDateTime
from adapters.db.worker_tables import consumer_gaps, consumer_positions

log = logging.getLogger("handoff.order")

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


class TransactionalBatch(ABC):
    """A :data:`BatchHandler` whose effects can run in a transaction the caller holds
    (:meth:`within`): the ordering gate then commits its verdicts' positions and the effects in one
    transaction on one connection, run again whole when it meets a deadlock or a serialization
    failure (adapters/db/retry.py). :meth:`before` is what must happen outside that transaction,
    before it (given the whole batch, before the gate's verdicts: it must be harmless for a message
    that is then skipped or held). Called alone, a batch is :meth:`before`, then :meth:`within` in
    a transaction of its own, retried the same way."""

    engine: AsyncEngine
    what: str = "batch"
    """What the batch is called in the log of a retried conflict."""
    attempts: int = ATTEMPTS

    async def before(self, messages: Sequence[Incoming]) -> None:
        return None

    @abstractmethod
    async def within(self, conn: AsyncConnection, messages: Sequence[Incoming]) -> None:
        """The batch's effects in the caller's transaction on ``conn``."""

    async def __call__(self, messages: Sequence[Incoming]) -> None:
        await self.before(messages)

        async def once() -> None:
            async with self.engine.begin() as conn:
                await self.within(conn, messages)

        await retry_conflicts(once, what=self.what, attempts=self.attempts)


class BatchEffects(TransactionalBatch):
    """A :class:`TransactionalBatch` made of a group's functions (``within``, ``before``)."""

    def __init__(
        self,
        engine: AsyncEngine,
        within: Callable[[AsyncConnection, Sequence[Incoming]], Awaitable[None]],
        before: Callable[[Sequence[Incoming]], Awaitable[None]] | None = None,
        *,
        what: str = "batch",
        attempts: int = ATTEMPTS,
    ) -> None:
        self.engine = engine
        self._within = within
        self._before = before
        self.what = what
        self.attempts = attempts

    async def before(self, messages: Sequence[Incoming]) -> None:
        if self._before is not None:
            await self._before(messages)

    async def within(self, conn: AsyncConnection, messages: Sequence[Incoming]) -> None:
        await self._within(conn, messages)


class InboxBatch(TransactionalBatch):
    """A :data:`BatchHandler`: several messages in one transaction — one inbox insert for all
    (:func:`first_deliveries`), then the effects of the messages not seen before, in order. Any
    failure rolls back all of them. :meth:`within` does the same in a transaction the caller holds
    (the ordering gate's: positions, inbox and effects then commit together)."""

    what = "inbox batch"

    def __init__(self, engine: AsyncEngine, consumer: str, effect: Effect) -> None:
        self.engine = engine
        self.consumer = consumer
        self.effect = effect

    async def __call__(self, messages: Sequence[Incoming]) -> None:
        envelopes = [envelope_of(m) for m in messages]  # a message that is no envelope fails first
        async with self.engine.begin() as conn:
            await self._apply(conn, messages, envelopes)

    async def within(self, conn: AsyncConnection, messages: Sequence[Incoming]) -> None:
        await self._apply(conn, messages, [envelope_of(m) for m in messages])

    async def _apply(
        self, conn: AsyncConnection, messages: Sequence[Incoming], envelopes: Sequence[dict[str, Any]]
    ) -> None:
        fresh = await first_deliveries(conn, self.consumer, [m.message_id for m in messages], datetime.now(UTC))
        for message, envelope in zip(messages, envelopes, strict=True):
            if message.message_id in fresh:
                fresh.discard(message.message_id)  # the same message twice in a batch: once
                await self.effect(envelope, conn)


def idempotent_batch(engine: AsyncEngine, consumer: str, effect: Effect) -> InboxBatch:
    """Several messages in one transaction (:class:`InboxBatch`)."""
    return InboxBatch(engine, consumer, effect)


def idempotent(engine: AsyncEngine, consumer: str, effect: Effect) -> Handler:
    async def handle(message: Incoming) -> None:
        envelope = envelope_of(message)
        async with engine.begin() as conn:
            if not await first_deliveries(conn, consumer, [message.message_id], datetime.now(UTC)):
                return  # handled before: nothing twice
            await effect(envelope, conn)

    return handle


_PG_INBOX = text(
    "INSERT INTO inbox (message_id, consumer, handled_at) "
    "SELECT m, CAST(:consumer AS varchar), CAST(:handled_at AS timestamptz) "
    "FROM unnest(CAST(:ids AS varchar[])) AS m "
    "ON CONFLICT DO NOTHING RETURNING message_id"
).bindparams(bindparam("ids", type_=ARRAY(String)), bindparam("handled_at", type_=UtcDateTime()))
"""One statement whatever the number of messages (the ids are one array parameter): compiled once
by SQLAlchemy and prepared once per connection, not once per batch size."""


async def first_deliveries(conn: AsyncConnection, consumer: str, message_ids: Sequence[str], now: datetime) -> set[str]:
    """Record these messages in ``consumer``'s inbox; return those never recorded before (the rest
    were handled already). PostgreSQL: one ``INSERT … SELECT FROM unnest(:ids)``, the ids sorted
    (two processes inserting overlapping batches take the rows' locks in one order); SQLite: one
    cached single-row insert per message."""
    ids = sorted(set(message_ids))
    if conn.dialect.name == "postgresql":
        rows = await conn.execute(_PG_INBOX, {"ids": ids, "consumer": consumer, "handled_at": now})
        return {str(r[0]) for r in rows}
    fresh: set[str] = set()
    for message_id in ids:
        row = await conn.execute(
            sqlite_insert(inbox)
            .values(message_id=message_id, consumer=consumer, handled_at=now)
            .on_conflict_do_nothing()
            .returning(inbox.c.message_id)
        )
        if row.first() is not None:
            fresh.add(message_id)
    return fresh


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


# =========================================================================== order


@dataclass(frozen=True)
class Place:
    """Where a message stands in its stream."""

    key: str
    seq: int
    case_id: str | None


def place_of(message: Incoming) -> Place | None:
    """The message's place, or None for a message outside any stream (no ``seq``: committed
    before sequences existed, or not an envelope at all — the handler decides what that is)."""
    try:
        envelope = json.loads(message.body)
    except ValueError:
        return None
    if not isinstance(envelope, dict):
        return None
    key, seq = envelope.get("ordering_key"), envelope.get("seq")
    if not isinstance(key, str) or not key or not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return None
    case_id = envelope.get("case_id")
    return Place(key, seq, case_id if isinstance(case_id, str) else None)


class Verdict(Enum):
    APPLY = "apply"
    REPLAY = "replay"
    SKIP = "skip"
    HOLD = "hold"


def _insert(conn: AsyncConnection) -> Any:
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


_PG_POSITIONS = select(consumer_positions.c.ordering_key, consumer_positions.c.last_seq).where(
    consumer_positions.c.consumer == bindparam("consumer"),
    consumer_positions.c.ordering_key == any_(bindparam("keys", type_=ARRAY(String))),
)
"""A group's positions of some keys: one statement whatever their number (one array parameter)."""
_PG_RECEIVED = select(outbox.c.ordering_key, outbox.c.key_seq, outbox.c.type).where(
    outbox.c.ordering_key == any_(bindparam("keys", type_=ARRAY(String))),
    outbox.c.key_seq > bindparam("above"),
    outbox.c.key_seq < bindparam("below"),
)
"""The events of some keys between two sequences (:meth:`OrderGate._received`), one statement."""
_PG_ADVANCE = text(
    "INSERT INTO consumer_positions (consumer, ordering_key, last_seq, updated_at) "
    "SELECT CAST(:consumer AS varchar), k, s, CAST(:now AS timestamptz) "
    "FROM unnest(CAST(:keys AS varchar[]), CAST(:seqs AS integer[])) AS v(k, s) "
    "ON CONFLICT (consumer, ordering_key) DO UPDATE SET "
    "last_seq = GREATEST(consumer_positions.last_seq, excluded.last_seq), "
    "updated_at = CASE WHEN excluded.last_seq > consumer_positions.last_seq "
    "THEN excluded.updated_at ELSE consumer_positions.updated_at END"
).bindparams(
    bindparam("keys", type_=ARRAY(String)),
    bindparam("seqs", type_=ARRAY(Integer)),
    bindparam("now", type_=UtcDateTime()),
)
"""Move positions forward (never back), the keys in one order: one prepared statement whatever
their number."""


class OrderGate:
    """The ordering gate of one consumer group (see the module's docstring). ``engine`` is the
    database the group writes its effects to: the positions live beside them."""

    def __init__(
        self, engine: AsyncEngine, group: Group, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.engine = engine
        self.group = group
        self.consumer = group.name
        self.clock = clock
        self._bound: dict[str, bool] = {}

    def handler(self, inner: Handler) -> Handler:
        async def handle(message: Incoming) -> None:
            place = place_of(message)
            if place is None:
                await inner(message)
                return
            [verdict] = await self.verdicts([place])
            if verdict is Verdict.SKIP:
                log.debug("already applied: %s %s#%d", message.message_id, place.key, place.seq)
                return
            if verdict is Verdict.HOLD:
                raise Hold(f"{place.key}#{place.seq} waits for its predecessor")
            try:
                await inner(message)
            except Exception as exc:
                if decide(exc, message.attempt, self.group) is Outcome.PARK:
                    try:
                        await self.record_gap(message, place, describe(exc))
                    except Exception:
                        # parked without a gap: its successors wait until it is replayed (and
                        # then applied in its place) — order kept, the parked queue shows it
                        log.exception("could not record the gap of %s", message.message_id)
                raise
            await self.applied([place], replayed=[place] if verdict is Verdict.REPLAY else [])

        return handle

    def batch(self, inner: BatchHandler) -> BatchHandler:
        """Gate a batch: each key's messages in sequence order; those that must wait are held
        (:class:`PartlyHeld`, with the later messages of their key, which wait for them too) and
        the rest of the batch goes on. With a :class:`TransactionalBatch` (an inbox batch, the
        projections', the deadlines') on the gate's own database the verdicts, the inbox, the
        effects and the positions are one transaction, run again whole on a conflict."""

        async def handle(messages: Sequence[Incoming]) -> None:
            placed = [(m, place_of(m)) for m in messages]
            # each key's messages in sequence order (messages outside any stream first)
            ordered = sorted(placed, key=lambda mp: (mp[1].key, mp[1].seq) if mp[1] else ("", 0))
            gated = [p for _, p in ordered if p is not None]
            go = (Verdict.APPLY, Verdict.REPLAY)
            if isinstance(inner, TransactionalBatch) and inner.engine is self.engine:
                await inner.before([m for m, _ in ordered])

                async def once() -> dict[int, Verdict]:
                    async with self.engine.begin() as conn:
                        verdicts = dict(zip(map(id, gated), await self._verdicts(conn, gated), strict=True))
                        chosen = [m for m, p in ordered if p is None or verdicts[id(p)] in go]
                        if chosen:
                            await inner.within(conn, chosen)
                        applied = [p for p in gated if verdicts[id(p)] in go]
                        replayed = [p for p in gated if verdicts[id(p)] is Verdict.REPLAY]
                        await self._applied(conn, applied, replayed, self.clock())
                    return verdicts

                verdicts = await retry_conflicts(once, what=inner.what, attempts=inner.attempts)
            else:
                verdicts = dict(zip(map(id, gated), await self.verdicts(gated), strict=True))
                chosen = [m for m, p in ordered if p is None or verdicts[id(p)] in go]
                if chosen:
                    await inner(chosen)
                applied = [p for p in gated if verdicts[id(p)] in go]
                await self.applied(applied, replayed=[p for p in gated if verdicts[id(p)] is Verdict.REPLAY])
            waiting = frozenset(m.message_id for m, p in ordered if p is not None and verdicts[id(p)] is Verdict.HOLD)
            if waiting:
                raise PartlyHeld(waiting)

        return handle

    async def verdicts(self, places: Sequence[Place]) -> list[Verdict]:
        """What to do with each message, in the order given (each key's in sequence order): the
        ones before it in the list are taken as applied."""
        if not places:
            return []
        async with self.engine.connect() as conn:
            return await self._verdicts(conn, places)

    async def _verdicts(self, conn: AsyncConnection, places: Sequence[Place]) -> list[Verdict]:
        if not places:
            return []
        keys = sorted({p.key for p in places})
        if conn.dialect.name == "postgresql":
            rows = await conn.execute(_PG_POSITIONS, {"consumer": self.consumer, "keys": keys})
        else:
            rows = await conn.execute(
                select(consumer_positions.c.ordering_key, consumer_positions.c.last_seq).where(
                    consumer_positions.c.consumer == self.consumer, consumer_positions.c.ordering_key.in_(keys)
                )
            )
        position: dict[str, int] = {str(k): int(v) for k, v in rows}
        floor = min(position.get(k, 0) for k in keys)
        received: dict[str, set[int]] | None = None
        verdicts = []
        for place in places:
            last = position.get(place.key, 0)
            if place.seq <= last:
                verdict = Verdict.REPLAY if await self._open_gap(conn, place) else Verdict.SKIP
            elif place.seq == last + 1:
                verdict = Verdict.APPLY
            else:
                if received is None:  # once per batch, and only when a message is not next
                    received = await self._received(conn, keys, floor, max(p.seq for p in places))
                waiting = any(last < seq < place.seq for seq in received.get(place.key, ()))
                verdict = Verdict.HOLD if waiting else Verdict.APPLY
            if verdict is Verdict.APPLY:
                position[place.key] = place.seq
            verdicts.append(verdict)
        return verdicts

    async def _open_gap(self, conn: AsyncConnection, place: Place) -> bool:
        row = await conn.execute(
            select(consumer_gaps.c.seq).where(
                consumer_gaps.c.consumer == self.consumer,
                consumer_gaps.c.ordering_key == place.key,
                consumer_gaps.c.seq == place.seq,
                consumer_gaps.c.replayed_at.is_(None),
            )
        )
        return row.first() is not None

    async def _received(
        self, conn: AsyncConnection, keys: Sequence[str], above: int, below: int
    ) -> dict[str, set[int]]:
        """Per key, the sequences (``above`` < seq < ``below``) of the events this group receives:
        the predecessors a message may have to wait for. The outbox keeps every committed event
        with its place and type."""
        if conn.dialect.name == "postgresql":
            rows = await conn.execute(_PG_RECEIVED, {"keys": list(keys), "above": above, "below": below})
        else:
            rows = await conn.execute(
                select(outbox.c.ordering_key, outbox.c.key_seq, outbox.c.type).where(
                    outbox.c.ordering_key.in_(keys), outbox.c.key_seq > above, outbox.c.key_seq < below
                )
            )
        received: dict[str, set[int]] = {}
        for key, seq, kind in rows:
            if self._binds(str(kind)):
                received.setdefault(str(key), set()).add(int(seq))
        return received

    def _binds(self, kind: str) -> bool:
        if kind not in self._bound:
            self._bound[kind] = self.group.binds(kind)
        return self._bound[kind]

    async def applied(self, places: Sequence[Place], replayed: Sequence[Place] = ()) -> None:
        """Move the positions to what was applied (never back), and close the replayed gaps."""
        if not places:
            return
        async with self.engine.begin() as conn:
            await self._applied(conn, places, replayed, self.clock())

    async def _applied(
        self, conn: AsyncConnection, places: Sequence[Place], replayed: Sequence[Place], now: datetime
    ) -> None:
        if not places:
            return
        highest: dict[str, int] = {}
        for place in places:
            highest[place.key] = max(place.seq, highest.get(place.key, 0))
        await self._advance(conn, highest, now)
        for place in replayed:
            await conn.execute(
                update(consumer_gaps)
                .where(
                    consumer_gaps.c.consumer == self.consumer,
                    consumer_gaps.c.ordering_key == place.key,
                    consumer_gaps.c.seq == place.seq,
                    consumer_gaps.c.replayed_at.is_(None),
                )
                .values(replayed_at=now)
            )
            log.info("replayed out of its place: %s#%d", place.key, place.seq, extra={"group": self.consumer})

    async def _advance(self, conn: AsyncConnection, highest: dict[str, int], now: datetime) -> None:
        keys = sorted(highest)  # one lock order for every process
        if conn.dialect.name == "postgresql":
            seqs = [highest[key] for key in keys]
            await conn.execute(_PG_ADVANCE, {"consumer": self.consumer, "keys": keys, "seqs": seqs, "now": now})
            return
        statement = _insert(conn)(consumer_positions).values(
            [
                {"consumer": self.consumer, "ordering_key": key, "last_seq": highest[key], "updated_at": now}
                for key in keys
            ]
        )
        newer = statement.excluded.last_seq > consumer_positions.c.last_seq
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=[consumer_positions.c.consumer, consumer_positions.c.ordering_key],
                set_={
                    "last_seq": case((newer, statement.excluded.last_seq), else_=consumer_positions.c.last_seq),
                    "updated_at": case((newer, statement.excluded.updated_at), else_=consumer_positions.c.updated_at),
                },
            )
        )

    async def record_gap(self, message: Incoming, place: Place, reason: str) -> None:
        """The message is being parked: its successors may go on without it."""
        now = self.clock()
        async with self.engine.begin() as conn:
            statement = _insert(conn)(consumer_gaps).values(
                consumer=self.consumer,
                ordering_key=place.key,
                seq=place.seq,
                message_id=message.message_id,
                type=message.routing_key,
                case_id=place.case_id,
                reason=reason,
                parked_at=now,
            )
            await conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[consumer_gaps.c.consumer, consumer_gaps.c.ordering_key, consumer_gaps.c.seq],
                    set_={"reason": reason, "parked_at": now, "replayed_at": None},
                )
            )
            await self._advance(conn, {place.key: place.seq}, now)
        log.warning(
            "parked: its successors go on without it",
            extra={"group": self.consumer, "case_id": place.case_id, "key": place.key, "seq": place.seq},
        )
