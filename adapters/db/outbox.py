"""The transactional outbox: events are written in the same transaction as the rows that caused
them; the relay (worker/relay.py) publishes them afterwards. Nothing is published that was not
committed, and nothing committed is lost.

**Sequence numbers** (DESIGN §8). Each event gets its place in its case's stream (the envelope's
``ordering_key`` and ``seq``, see handoff/events.py), numbered here, at commit, from the case's
row in ``event_sequences``: one upsert per case bumps ``last_seq`` by the number of events and
returns the new value. Why the case and not the emitting aggregate's version: the applicant's SMS
follow the case's events and its packages' events together; a package event carries only its
package's version, and two counters cannot say whether ``package.signed`` (package version 4)
comes before or after ``case.accepted`` (case version 5). One counter per case can. Why at commit
and not in the domain: packages are separate aggregates, saved in transactions of their own (a
courier's pickup touches the package, not the case); the counter row is what serialises them.

The row lock held from the bump to the commit makes the numbers follow commit order: a second
writer of the same case waits, then counts on from the first's committed value; a rolled-back
transaction gives its numbers back, so a case's sequence has no holes. Counter rows are locked
in key order and last in the transaction (after every domain row), so two writers of several
cases (a batch hand-over) cannot deadlock on them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables import outbox
from adapters.db.worker_tables import event_sequences
from handoff import events as ev

ordering_key = ev.ordering_key


async def allocate(conn: AsyncConnection, counts: dict[str, int]) -> dict[str, int]:
    """Reserve ``counts[key]`` numbers for each key; return the first of each key's range."""
    if not counts:
        return {}
    statement = _bump(conn.dialect.name)
    first: dict[str, int] = {}
    for key in sorted(counts):  # one lock order for every writer
        last = int((await conn.execute(statement, {"ordering_key": key, "last_seq": counts[key]})).scalar_one())
        first[key] = last - counts[key] + 1
    return first


_BUMP: dict[str, Any] = {}
_INSERT_OUTBOX = insert(outbox)


def _bump(dialect: str) -> Any:
    """The counter's upsert, built once per dialect (every committed event goes through it)."""
    found = _BUMP.get(dialect)
    if found is None:
        dialect_insert: Any = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = dialect_insert(event_sequences)
        found = _BUMP[dialect] = statement.on_conflict_do_update(
            index_elements=[event_sequences.c.ordering_key],
            set_={"last_seq": event_sequences.c.last_seq + statement.excluded.last_seq},
        ).returning(event_sequences.c.last_seq)
    return found


async def write_outbox(conn: AsyncConnection, events: Sequence[ev.Event]) -> None:
    if not events:
        return
    keys = [ordering_key(e) for e in events]
    # An event with neither case nor package is alone in its stream: number 1, no counter row.
    counts = Counter(k for k, e in zip(keys, events, strict=True) if k != e.event_id)
    next_seq = await allocate(conn, dict(counts))
    rows = []
    for key, e in zip(keys, events, strict=True):
        seq = next_seq.get(key, 1)
        if key in next_seq:
            next_seq[key] += 1
        rows.append(
            {
                "id": e.event_id,
                "type": e.type,
                "ordering_key": key,
                "key_seq": seq,
                "case_id": e.case_id,
                "package_id": e.package_id,
                "actor": e.actor,
                "payload": {**ev.to_envelope(e), "ordering_key": key, "seq": seq},
                "created_at": e.occurred_at,
                "attempts": 0,
            }
        )
    await conn.execute(_INSERT_OUTBOX, rows)
