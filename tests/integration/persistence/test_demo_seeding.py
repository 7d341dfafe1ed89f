"""Each start with demo data (what ``handoff serve`` does: adapters.demo.start_demo) creates the
demo users that are missing and changes none that exists (issue 13 item 9), on SQLite and
PostgreSQL; it gives the one demo password to the demo users without a password, never replaces
one, and issues no tokens (devices get theirs from ``handoff token create``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from adapters.db import admin, sessions
from adapters.db import domain_tables as t
from adapters.demo import DEMO_PASSWORD, DEMO_USERS, start_demo
from adapters.passwords import verify_password

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


async def test_a_restart_with_demo_data_keeps_an_admins_changes_to_the_demo_users(domain_db):
    engine, _ = domain_db
    async with engine.begin() as conn:
        first = await start_demo(conn, START)
        await admin.update_user(conn, "admin", scope="region:4415", name="汕尾管理员")
        await admin.update_user(conn, "courier-07", role="window_clerk", scope="office:win-441581")
        await conn.execute(delete(t.user_credentials).where(t.user_credentials.c.user_id == "lead-zj"))
        await conn.execute(delete(t.users).where(t.users.c.id == "lead-zj"))
    async with engine.begin() as conn:
        second = await start_demo(conn, START + timedelta(days=1))
    async with engine.connect() as conn:
        found = {u.id: u for u in await admin.users(conn, now=START + timedelta(days=1))}
        tokens = (await conn.execute(select(func.count()).select_from(t.api_tokens))).scalar_one()
    assert (found["admin"].scope, found["admin"].name, found["admin"].role) == ("region:4415", "汕尾管理员", "admin")
    assert (found["courier-07"].role, found["courier-07"].scope) == ("window_clerk", "office:win-441581")
    assert found["lead-zj"].scope == "office:dept-441500-zj"  # missing, so created again
    assert len(first.users) == len(second.users) == len(DEMO_USERS)
    assert next(u.name for u in second.users if u.user_id == "admin") == "汕尾管理员"
    assert first.given_now == [user_id for user_id, *_ in DEMO_USERS]
    assert second.given_now == ["lead-zj"]
    assert tokens == 0


async def test_the_demo_password_never_replaces_a_password_a_user_already_has(domain_db):
    engine, _ = domain_db
    async with engine.begin() as conn:
        await start_demo(conn, START)
        await sessions.set_password(conn, "clerk-lf", "$argon2id$not-a-real-hash", must_change=False, at=START)
    async with engine.begin() as conn:
        again = await start_demo(conn, START + timedelta(days=1))
    async with engine.connect() as conn:
        kept = await sessions.credential(conn, "clerk-lf")
        demo = await sessions.credential(conn, "dept-zj")
    assert again.given_now == [] and again.password == DEMO_PASSWORD
    assert kept is not None and kept.password_hash == "$argon2id$not-a-real-hash"
    assert demo is not None and await verify_password(demo.password_hash, DEMO_PASSWORD)
