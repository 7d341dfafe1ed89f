"""Who a bearer token belongs to, remembered for a few seconds so that a request does not read the
token first; a revocation still holds from the very next request.

Every write that can take authority away from a token — revoking a user's tokens, disabling a
user, changing a role or a scope (adapters/db/admin.py) — bumps ``auth_version`` in its own
transaction. The process that wrote it drops its cache at once; on PostgreSQL the same transaction
notifies ``handoff_auth``, on which every API process listens and drops its own. While a process
is not listening (PostgreSQL unreachable, the listener reconnecting) it caches nothing, so a
missed notification can never keep a revoked token alive. SQLite runs one process: the local drop
is all there is.

An entry is stored only if no drop happened while its owner was being read: a request that read
the token just before a revocation committed cannot put the old principal back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.admin import AUTH_CHANNEL
from api.auth import Principal

log = logging.getLogger("handoff.api")

MAX_ENTRIES = 10_000
"""Beyond this many tokens the cache starts again empty (a bound, not an eviction policy)."""


@dataclass(frozen=True)
class Entry:
    principal: Principal
    expires_at: datetime
    """When the token itself expires (compared with the service's clock on every hit)."""
    until: float
    """``time.monotonic()`` after which the entry is read again from the database."""


class PrincipalCache:
    """token hash → principal for ``seconds`` (0: no caching)."""

    def __init__(self, seconds: float = 5.0, *, listening: bool = False) -> None:
        self.seconds = seconds
        self._entries: dict[str, Entry] = {}
        self._generation = 0
        self._needs_listener = listening
        self._live = not listening
        self.version = 0
        """The highest auth version this process has been told about."""
        self._changed = asyncio.Event()
        self.attempted = asyncio.Event()
        """Set once the listener has tried to connect (at once where there is nothing to listen to)."""
        if not listening:
            self.attempted.set()

    @property
    def generation(self) -> int:
        """Taken before reading a token's owner and handed back to :meth:`put`."""
        return self._generation

    @property
    def live(self) -> bool:
        return self._live and self.seconds > 0

    def get(self, token_hash: str) -> Entry | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry.until <= time.monotonic():
            self._entries.pop(token_hash, None)
            return None
        return entry

    def put(self, token_hash: str, principal: Principal, expires_at: datetime, generation: int) -> None:
        if not self.live or generation != self._generation:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[token_hash] = Entry(principal, expires_at, time.monotonic() + self.seconds)

    def drop(self, version: int | None = None) -> None:
        """Forget every principal (an authority change committed; ``version``: its number when known)."""
        self._entries.clear()
        self._generation += 1
        if version is not None and version > self.version:
            self.version = version
        self._changed.set()
        self._changed = asyncio.Event()

    async def seen(self, version: int) -> None:
        """Until this process has been told about ``version`` (for tests across processes)."""
        while self.version < version:
            await self._changed.wait()

    def _set_live(self, live: bool) -> None:
        self._live = live
        self.drop()

    async def listen(self, engine: AsyncEngine, retry_seconds: float = 1.0) -> None:
        """PostgreSQL: LISTEN on ``handoff_auth`` until cancelled, reconnecting after a loss;
        the cache is off whenever the listener is not connected. Other databases: nothing to do."""
        if engine.dialect.name != "postgresql":
            self.attempted.set()
            return
        import asyncpg

        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            connection: Any = None
            lost = asyncio.Event()
            try:
                connection = await asyncpg.connect(url)
                connection.add_termination_listener(lambda _, lost=lost: lost.set())
                await connection.add_listener(AUTH_CHANNEL, self._notified)
                self._set_live(True)
                self.attempted.set()
                await lost.wait()
                log.warning("auth listener lost its connection; principals are not cached until it is back")
            except (OSError, asyncpg.PostgresError):
                log.warning("auth listener unavailable; principals are not cached", exc_info=True)
            finally:
                self.attempted.set()
                self._set_live(False)
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close()
            await asyncio.sleep(retry_seconds)

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            version: int | None = int(payload)
        except ValueError:
            version = None
        self.drop(version)
