"""Transactions that lost a race with another one: run them again.

PostgreSQL aborts one transaction of a deadlock (SQLSTATE 40P01) and, at the serializable level,
one that cannot be serialised (40001). Neither is a fault of the work: its transaction rolled back
whole, and the same work run again a moment later succeeds. :func:`retry_conflicts` runs a unit of
work — a function that opens, fills and commits its own transaction — again after a short, growing
pause, a few times, before letting the error through (then it is the caller's failure as any
other: a message retried through the delay queues, a periodic task tried at its next tick)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger("handoff.db")

T = TypeVar("T")

DEADLOCK = "40P01"
SERIALIZATION_FAILURE = "40001"
CONFLICTS = frozenset({DEADLOCK, SERIALIZATION_FAILURE})
ATTEMPTS = 5
"""How many times a unit of work runs before a conflict is let through."""


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, or of the error it wraps (SQLAlchemy wraps asyncpg's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str):
            return state
        inner = getattr(current, "orig", None)
        current = inner if isinstance(inner, BaseException) else current.__cause__
    return None


def is_conflict(exc: BaseException) -> bool:
    """A deadlock or a serialization failure: the transaction lost a race, run it again."""
    return sqlstate(exc) in CONFLICTS


async def retry_conflicts(
    work: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int = ATTEMPTS,
    pause: float = 0.05,
) -> T:
    """``work()``, run again after a pause (``pause``, doubled each time, with jitter) when it
    fails with a deadlock or a serialization failure, at most ``attempts`` times in all."""
    attempt = 1
    while True:
        try:
            return await work()
        except Exception as exc:
            if attempt >= attempts or not is_conflict(exc):
                raise
            delay = pause * 2 ** (attempt - 1) * (0.5 + random.random())
            log.info(
                "%s: %s (SQLSTATE %s); running it again in %.0f ms",
                what,
                "deadlock" if sqlstate(exc) == DEADLOCK else "serialization failure",
                sqlstate(exc),
                delay * 1000,
                extra={"attempt": attempt},
            )
            attempt += 1
            await asyncio.sleep(delay)
