"""The async engine for a database URL."""

from __future__ import annotations

import json
import select
from typing import Any

import orjson
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

CONNECT_TIMEOUT_SECONDS = 5
"""How long opening a PostgreSQL connection may take before the request fails (503)."""


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """PostgreSQL: a pool of ``pool_size``. SQLite: one connection (SQLite has one writer at a
    time; one connection serialises transactions in-process instead of failing with 'database is
    locked'), WAL journal, foreign keys on."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # At most 2 × pool_size connections, as with pool_size plus as many in overflow, but all kept once
    # opened: an overflow connection was closed at its checkin and opened again in the next burst, so
    # under load requests paid for new PostgreSQL sessions (a backend started, TLS tried, auth) over
    # and over (py-spy on the API at 64 connections: connect and close on every few requests).
    engine = create_async_engine(
        url,
        pool_size=2 * pool_size,
        max_overflow=0,
        pool_recycle=1800,
        pool_timeout=10,
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
        json_deserializer=json_loads,
    )
    event.listen(engine.sync_engine, "checkout", _closed_on_checkout)
    return engine


def json_loads(text: str | bytes) -> Any:
    """The json and jsonb values PostgreSQL sends, decoded (the codec SQLAlchemy's asyncpg dialect
    sets on every connection calls it): orjson, several times faster than the standard library on
    the aggregates' JSON columns (a case with its children and packages is one JSON-heavy row).
    What PostgreSQL stores is valid JSON, so both read it alike — save integers beyond 64 bits,
    which orjson reads as floats; none are stored (a request body's integers are bounded,
    api/routing.MAX_INT, and the columns aggregated are at most bigint). Anything orjson refuses
    goes to the standard library."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _closed_on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A database restart found without a round trip per checkout (no pre-ping).

    A restarting PostgreSQL ends every session: it sends a last error and closes the socket. An
    idle pooled connection never has anything to read, so one whose socket is readable (that last
    message, or the end of the stream) or that asyncpg already marked closed is dead: it is
    discarded and the checkout opens a fresh one (one ``poll`` of the socket, no round trip), and
    the first request after a restart does not fail. A connection that dies unseen (its first
    statement fails with a disconnect) invalidates the pool through SQLAlchemy's ``is_disconnect``:
    that one request fails (503), the next ones reconnect."""
    raw = getattr(dbapi_connection, "_connection", None)
    if raw is None:
        return
    if raw.is_closed() or _readable(getattr(raw, "_transport", None)):
        raise exc.DisconnectionError("the pooled connection was ended by the server")


def _readable(transport: Any) -> bool:
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return False
    fd = sock.fileno()
    if fd < 0:
        return True
    if not hasattr(select, "poll"):  # pragma: no cover - Windows
        return bool(select.select([fd], [], [], 0)[0])
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


async def ping(engine: AsyncEngine) -> None:
    """The readiness check of a database: one ``SELECT 1``; raises when it cannot be reached."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
