"""A package's step written in one statement (PostgreSQL): the hot write of a courier's report.

A step on a package — a scan in transit, a delivery, an exception — changes the package row, adds
one custody event and emits the package's events; the request that made it also stores its answer
with its idempotency key. :func:`write_package_step` writes all of it in one round trip: one
statement of data-modifying CTEs, run on the request's own transaction through asyncpg directly
(prepared once per connection by asyncpg's statement cache, no SQLAlchemy compilation or result
processing per request). It is the same writes as the general path (``SqlPackages.save``, the
outbox writer, ``queries.store_idempotent_answer``), with the same guarantees:

* **Optimistic version check**: the package row is updated only if its version is still the one
  read; the custody row, the case's sequence bump, the outbox rows and the answer are all written
  from the update's RETURNING, so when the version moved nothing is written and the caller raises
  ``ConcurrentUpdate`` (the transaction, the reservation of the key with it, is rolled back).
* **Lock order**: the package row is locked before the case's sequence row (the bump reads the
  update's rows), as the general path does — counter rows last.
* **Sequence numbers**: the case's counter is bumped by the number of events and the events take
  the numbers below the new value, in order, as ``outbox.allocate`` gives them.

A broken connection is invalidated (never handed out again by the pool) and raised as a connection
error — ``adapters.outages.unavailable`` makes it a 503.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.outages import unavailable
from handoff import events as ev
from handoff.package import CustodyEvent, Package
from handoff.timeutil import require_aware

_PACKAGE_COLUMNS = (
    "code",
    "case_id",
    "direction",
    "medium",
    "from_party",
    "to_party",
    "state",
    "carrier",
    "waybill",
    "holder",
    "exception_kind",
    "created_at",
    "last_movement_at",
    "version",
    "purpose",
    "chain_length",
    "chain_head",
)
_CUSTODY_COLUMNS = (
    "seq",
    "kind",
    "from_party",
    "to_party",
    "actor",
    "server_time",
    "client_time",
    "method",
    "place",
    "evidence",
    "discrepancies",
    "note",
    "prev_hash",
    "hash",
    "files",
)
_JSON_COLUMNS = {"evidence", "discrepancies", "files"}


def _statement(answer: bool) -> str:
    n = 2  # $1 package id, $2 the version read
    sets = []
    for name in _PACKAGE_COLUMNS:
        n += 1
        sets.append(f"{name} = ${n}")
    link_values = []
    for name in _CUSTODY_COLUMNS:
        n += 1
        link_values.append(f"${n}::json" if name in _JSON_COLUMNS else f"${n}")
    key, count = n + 1, n + 2
    ids, types, case_ids, package_ids, actors, payloads, created = range(n + 3, n + 10)
    n += 9
    answered = ""
    if answer:
        a_actor, a_key, a_status, a_body = range(n + 1, n + 5)
        answered = (
            f", answered AS (UPDATE idempotency_keys SET status = ${a_status}, body = ${a_body}"
            f" WHERE actor = ${a_actor} AND key = ${a_key} AND EXISTS (SELECT 1 FROM pkg) RETURNING 1)"
        )
    return (
        f"WITH pkg AS (UPDATE packages SET {', '.join(sets)} WHERE id = $1 AND version = $2 RETURNING id)"
        f", link AS (INSERT INTO custody_events (package_id, {', '.join(_CUSTODY_COLUMNS)})"
        f" SELECT id, {', '.join(link_values)} FROM pkg RETURNING 1)"
        f", counter AS (INSERT INTO event_sequences (ordering_key, last_seq) SELECT ${key}, ${count} FROM pkg"
        " ON CONFLICT (ordering_key) DO UPDATE SET last_seq = event_sequences.last_seq + excluded.last_seq"
        " RETURNING last_seq)"
        ", posted AS (INSERT INTO outbox"
        " (id, type, ordering_key, key_seq, case_id, package_id, actor, payload, created_at, attempts)"
        f" SELECT e.id, e.type, ${key}, counter.last_seq - ${count} + e.n, e.case_id, e.package_id, e.actor,"
        "(e.payload || (counter.last_seq - " + f"${count}" + " + e.n)::text || '}')::json, e.created_at::timestamptz, 0"
        f" FROM counter, unnest(${ids}::text[], ${types}::text[], ${case_ids}::text[], ${package_ids}::text[],"
        f" ${actors}::text[], ${payloads}::text[], ${created}::text[])"
        " WITH ORDINALITY AS e(id, type, case_id, package_id, actor, payload, created_at, n) RETURNING 1)"
        f"{answered}"
        " SELECT (SELECT count(*) FROM pkg) AS updated, (SELECT count(*) FROM link) AS linked,"
        " (SELECT count(*) FROM posted) AS posted"
    )


_STATEMENTS = {True: _statement(True), False: _statement(False)}


CANNOT: Any = object()


async def fetchrow(conn: AsyncConnection, sql: str, args: Sequence[Any], *, begin: bool = False) -> Any:
    """One statement on the transaction of ``conn`` (an SQLAlchemy connection on asyncpg), sent
    through asyncpg itself: prepared once per connection by asyncpg's statement cache, its row as
    asyncpg gives it (the dialect's JSON codec decodes JSON). ``begin``: start the transaction
    first if no statement has yet (as SQLAlchemy would: its BEGIN). :data:`CANNOT` when the
    connection is not asyncpg's or has no transaction: the caller takes SQLAlchemy's way.

    A connection that broke under the statement is invalidated (the pool never hands it out again)
    and raised as a connection error, which ``adapters.outages.unavailable`` makes a 503."""
    raw = await conn.get_raw_connection()
    adapted: Any = raw.dbapi_connection  # the dialect's adapter: its mutex and transaction
    driver = raw.driver_connection
    mutex = getattr(adapted, "_execute_mutex", None)
    if not isinstance(driver, asyncpg.Connection) or mutex is None or not hasattr(adapted, "_transaction"):
        return CANNOT
    if adapted._transaction is None and not (begin and hasattr(adapted, "_start_transaction")):
        return CANNOT
    try:
        async with mutex:
            if adapted._transaction is None:
                await adapted._start_transaction()
            return await driver.fetchrow(sql, *args)
    except asyncpg.PostgresError as exc:
        if not driver.is_closed() and unavailable(exc) is None:
            raise  # the server's refusal: the caller's transaction is rolled back
        await conn.invalidate()
        raise
    except asyncio.CancelledError:
        # cancelled under the statement: where the protocol stands is not known, the connection
        # is not used again
        await conn.invalidate()
        raise
    except Exception as exc:
        # The connection broke under the statement: asyncpg says so with a connection error, an
        # interface error, or (the session ended by the server while idle in our transaction) an
        # internal protocol state error. It is never used again, and the request answers 503.
        await conn.invalidate()
        if unavailable(exc) is None:
            raise asyncpg.ConnectionDoesNotExistError(f"the connection broke: {type(exc).__name__}: {exc}") from exc
        raise


def fits(package: Package, links: Sequence[CustodyEvent], events: Sequence[ev.Event]) -> bool:
    """Whether the step is the shape this statement writes: one new custody event and at least one
    event, all in one stream (the package's case)."""
    if len(links) != 1 or not events:
        return False
    keys = {ev.ordering_key(e) for e in events}
    return len(keys) == 1 and not any(ev.ordering_key(e) == e.event_id for e in events)


def _payload_prefix(e: ev.Event, key: str) -> str:
    """The outbox payload as ``outbox.write_outbox`` writes it, less its closing ``"seq": N}``,
    which the statement appends once the case's counter gave the number."""
    text = json.dumps({**ev.to_envelope(e), "ordering_key": key})
    return text[:-1] + (', "seq": ' if len(text) > 2 else '"seq": ')


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


async def write_package_step(
    conn: AsyncConnection,
    package: Package,
    version_read: int,
    link_row: dict[str, Any],
    events: Sequence[ev.Event],
    values: dict[str, Any],
    answer: tuple[str, str, int, str] | None,
) -> bool | None:
    """Write the step; True when written, False when the package's version moved (nothing was
    written), None when this connection cannot take it (not asyncpg, or outside its transaction:
    the caller writes the general way)."""
    key = ev.ordering_key(events[0])
    args: list[Any] = [package.id, version_read]
    args.extend(values[name] for name in _PACKAGE_COLUMNS)
    args.extend(_json(link_row[name]) if name in _JSON_COLUMNS else link_row[name] for name in _CUSTODY_COLUMNS)
    args.extend(
        [
            key,
            len(events),
            [e.event_id for e in events],
            [e.type for e in events],
            [e.case_id for e in events],
            [e.package_id for e in events],
            [e.actor for e in events],
            [_payload_prefix(e, key) for e in events],
            # as text: a timestamptz[] parameter costs asyncpg a type introspection per connection
            [require_aware(e.occurred_at).isoformat() for e in events],
        ]
    )
    if answer is not None:
        args.extend(answer)
    row = await fetchrow(conn, _STATEMENTS[answer is not None], args)
    if row is CANNOT:
        return None
    assert row is not None
    if row["updated"] != 1:
        return False
    if row["linked"] != 1 or row["posted"] != len(events):  # pragma: no cover - the CTEs read the update
        raise RuntimeError("the package's step was written in part")
    return True
