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

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import DateTime, String, bindparam, insert, text
from sqlalchemy.dialects.postgresql import ARRAY
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
    if conn.dialect.name == "postgresql" and len(counts) == 1 and len(events) == counts[keys[0]]:
        await _write_one_stream(conn, keys[0], events)
        return
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


_PG_ONE_STREAM = text(
    "WITH bumped AS ("
    "INSERT INTO event_sequences (ordering_key, last_seq) VALUES (:key, :count) "
    "ON CONFLICT (ordering_key) DO UPDATE SET last_seq = event_sequences.last_seq + EXCLUDED.last_seq "
    "RETURNING last_seq) "
    "INSERT INTO outbox (id, type, ordering_key, key_seq, case_id, package_id, actor, payload, created_at, attempts) "
    "SELECT e.id, e.type, :key, b.last_seq - :count + e.n, e.case_id, e.package_id, e.actor, "
    "CAST(e.head || ',\"seq\":' || (b.last_seq - :count + e.n) || '}' AS json), e.created_at, 0 "
    "FROM bumped AS b, unnest(CAST(:ids AS varchar[]), CAST(:types AS varchar[]), CAST(:case_ids AS varchar[]), "
    "CAST(:package_ids AS varchar[]), CAST(:actors AS varchar[]), CAST(:heads AS text[]), "
    "CAST(:created AS timestamptz[])) WITH ORDINALITY AS e(id, type, case_id, package_id, actor, head, created_at, n)"
).bindparams(
    *(bindparam(name, type_=ARRAY(String)) for name in ("ids", "types", "case_ids", "package_ids", "actors", "heads")),
    bindparam("created", type_=ARRAY(DateTime(timezone=True))),
)
"""The events of one stream (one case, the usual commit) in one statement: the counter's bump and
the outbox rows, each numbered from the bumped value (the counter row is still the last lock the
transaction takes). Each payload is the envelope's JSON with its ``seq`` appended in SQL. One
statement whatever the number of events: compiled once, prepared once per connection."""


async def _write_one_stream(conn: AsyncConnection, key: str, events: Sequence[ev.Event]) -> None:
    heads = []
    for e in events:
        if e.occurred_at.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        envelope = json.dumps({**ev.to_envelope(e), "ordering_key": key})
        heads.append(envelope[:-1])  # without its closing brace: the SQL appends "seq" and closes it
    await conn.execute(
        _PG_ONE_STREAM,
        {
            "key": key,
            "count": len(events),
            "ids": [e.event_id for e in events],
            "types": [e.type for e in events],
            "case_ids": [e.case_id for e in events],
            "package_ids": [e.package_id for e in events],
            "actors": [e.actor for e in events],
            "heads": heads,
            "created": [e.occurred_at for e in events],
        },
    )
