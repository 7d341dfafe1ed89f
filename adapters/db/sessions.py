"""Passwords and sessions at rest: a user's argon2id hash with its failed sign-ins and lock-out
(``user_credentials``), and the signed-in sessions by the SHA-256 of their cookie
(``user_sessions``). Hashing and the rules (lengths, back-off, idle limits) live in api/sessions.py;
this module only reads and writes rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db import domain_tables as t


@dataclass(frozen=True)
class Credential:
    user_id: str
    name: str
    role: str
    scope: str
    active: bool
    password_hash: str
    must_change: bool
    failures: int
    locked_until: datetime | None


@dataclass(frozen=True)
class SessionOwner:
    user_id: str
    name: str
    role: str
    scope: str
    must_change: bool
    last_seen_at: datetime
    expires_at: datetime


async def credential(conn: AsyncConnection, user_id: str) -> Credential | None:
    """The user with their password row; None when either is missing."""
    u, c = t.users.c, t.user_credentials.c
    row = (
        await conn.execute(
            select(u.id, u.name, u.role, u.scope, u.active, c.password_hash, c.must_change, c.failures, c.locked_until)
            .join(t.user_credentials, c.user_id == u.id)
            .where(u.id == user_id)
        )
    ).first()
    return Credential(*row) if row else None


async def has_password(conn: AsyncConnection, user_id: str) -> bool:
    found = await conn.execute(select(t.user_credentials.c.user_id).where(t.user_credentials.c.user_id == user_id))
    return found.first() is not None


async def set_password(
    conn: AsyncConnection, user_id: str, password_hash: str, *, must_change: bool, at: datetime
) -> None:
    """Store a new password hash (and clear the failures and the lock-out)."""
    values = {
        "password_hash": password_hash,
        "must_change": must_change,
        "changed_at": at,
        "failures": 0,
        "locked_until": None,
    }
    changed = await conn.execute(
        update(t.user_credentials).where(t.user_credentials.c.user_id == user_id).values(**values)
    )
    if changed.rowcount == 0:
        await conn.execute(insert(t.user_credentials).values(user_id=user_id, **values))


async def count_failure(conn: AsyncConnection, user_id: str) -> int:
    """One more consecutive failure, counted in the database (two wrong passwords at the same
    moment count twice); the new count."""
    c = t.user_credentials.c
    counted = await conn.execute(
        update(t.user_credentials).where(c.user_id == user_id).values(failures=c.failures + 1).returning(c.failures)
    )
    return int(counted.scalar_one())


async def lock(conn: AsyncConnection, user_id: str, until: datetime) -> None:
    await conn.execute(
        update(t.user_credentials).where(t.user_credentials.c.user_id == user_id).values(locked_until=until)
    )


async def clear_failures(conn: AsyncConnection, user_id: str) -> None:
    await conn.execute(
        update(t.user_credentials)
        .where(t.user_credentials.c.user_id == user_id, t.user_credentials.c.failures != 0)
        .values(failures=0, locked_until=None)
    )


async def open_session(
    conn: AsyncConnection, token_hash: str, user_id: str, at: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        insert(t.user_sessions).values(
            token_hash=token_hash, user_id=user_id, created_at=at, last_seen_at=at, expires_at=expires_at
        )
    )


async def session_owner(conn: AsyncConnection, token_hash: str) -> SessionOwner | None:
    """The active user of a session not ended (the caller checks idleness and expiry)."""
    u, s, c = t.users.c, t.user_sessions.c, t.user_credentials.c
    row = (
        await conn.execute(
            select(u.id, u.name, u.role, u.scope, c.must_change, s.last_seen_at, s.expires_at)
            .join(t.user_sessions, s.user_id == u.id)
            .join(t.user_credentials, c.user_id == u.id)
            .where(s.token_hash == token_hash, s.ended_at.is_(None), u.active.is_(True))
        )
    ).first()
    return SessionOwner(*row) if row else None


async def touch_session(conn: AsyncConnection, token_hash: str, at: datetime) -> None:
    await conn.execute(
        update(t.user_sessions).where(t.user_sessions.c.token_hash == token_hash).values(last_seen_at=at)
    )


async def end_session(conn: AsyncConnection, token_hash: str, at: datetime) -> None:
    await conn.execute(
        update(t.user_sessions)
        .where(t.user_sessions.c.token_hash == token_hash, t.user_sessions.c.ended_at.is_(None))
        .values(ended_at=at)
    )


async def end_sessions(conn: AsyncConnection, user_id: str, at: datetime, keep: str | None = None) -> int:
    """End every session of the user (but ``keep``, the one that asked): a new password signs the
    others out."""
    where = [t.user_sessions.c.user_id == user_id, t.user_sessions.c.ended_at.is_(None)]
    if keep is not None:
        where.append(t.user_sessions.c.token_hash != keep)
    ended = await conn.execute(update(t.user_sessions).where(*where).values(ended_at=at))
    return ended.rowcount


async def forget_ended(conn: AsyncConnection, user_id: str, before: datetime) -> None:
    """The user's sessions over before BEFORE are of no further use."""
    await conn.execute(
        delete(t.user_sessions).where(t.user_sessions.c.user_id == user_id, t.user_sessions.c.expires_at < before)
    )
