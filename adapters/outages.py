"""Which failures mean "a service we depend on cannot be reached" (issue 15, DESIGN §10): the
database or the broker is down, restarting, refusing connections or dropped ours. The API answers
those 503 (api/outages.py); the workers log them as one line, not as a bug with its traceback."""

from __future__ import annotations

import socket
from types import TracebackType

import aiormq.exceptions
import asyncpg.exceptions
import sqlalchemy.exc

_DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.CannotConnectNowError,  # starting up or shutting down
    asyncpg.exceptions.AdminShutdownError,  # terminated by the administrator (a restart)
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.PostgresConnectionError,  # class 08, ConnectionDoesNotExistError among them
    asyncpg.exceptions.TooManyConnectionsError,
    sqlalchemy.exc.TimeoutError,  # no connection free in the pool in time
)
_BROKER_ERRORS: tuple[type[BaseException], ...] = (
    aiormq.exceptions.AMQPConnectionError,
    aiormq.exceptions.ChannelInvalidStateError,
)


def _owner(exc: BaseException) -> str:
    """The dependency whose client code raised ``exc``, from the modules in its traceback."""
    tb: TracebackType | None = exc.__traceback__
    owner = "database"
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(("aiormq", "aio_pika", "adapters.broker")):
            owner = "broker"
        elif module.startswith(("sqlalchemy", "asyncpg", "aiosqlite", "adapters.db")):
            owner = "database"
        tb = tb.tb_next
    return owner


def _classify(exc: BaseException) -> str | None:
    if isinstance(exc, _BROKER_ERRORS):
        return "broker"
    if isinstance(exc, _DATABASE_ERRORS):
        return "database"
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return "database"
    if isinstance(exc, sqlalchemy.exc.OperationalError):
        return "database"  # SQLite: locked, unable to open; PostgreSQL: the server went away
    if isinstance(exc, (sqlalchemy.exc.InterfaceError, asyncpg.exceptions.InterfaceError)) and (
        "closed" in str(exc) or "connection" in str(exc).lower()
    ):
        return "database"
    if isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror)) or type(exc) is OSError:
        # refused, reset, unreachable; not FileNotFoundError and its kin, which are our own
        return _owner(exc)
    return None


def unavailable(exc: BaseException) -> str | None:
    """``"database"`` or ``"broker"`` when ``exc`` — or an error it wraps or was raised during —
    says that service cannot be reached now; None for anything else."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        found = _classify(current)
        if found is not None:
            return found
        for inner in (getattr(current, "orig", None), current.__cause__, current.__context__):
            if isinstance(inner, BaseException):
                stack.append(inner)
    return None
