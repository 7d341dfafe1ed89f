"""Each start with demo data (what ``handoff serve`` does: adapters.demo.start_demo) creates the
demo users that are missing and changes none that exists (issue 13 item 9), on SQLite and
PostgreSQL; its tokens are for the users as they are, and they expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from adapters.db import admin, queries
from adapters.db import domain_tables as t
from adapters.demo import DEMO_USERS, start_demo
from adapters.settings import TokenLifetimes
from handoff.codes import hash_token

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


async def test_a_restart_with_demo_data_keeps_an_admins_changes_to_the_demo_users(domain_db):
    engine, _ = domain_db
    async with engine.begin() as conn:
        first = await start_demo(conn, START, TokenLifetimes())
        await admin.update_user(conn, "admin", scope="region:4415", name="汕尾管理员")
        await admin.update_user(conn, "courier-07", role="window_clerk", scope="office:win-441581")
        await conn.execute(delete(t.api_tokens).where(t.api_tokens.c.user_id == "lead-zj"))
        await conn.execute(delete(t.users).where(t.users.c.id == "lead-zj"))
    async with engine.begin() as conn:
        second = await start_demo(conn, START + timedelta(days=1), TokenLifetimes())
    async with engine.connect() as conn:
        found = {u.id: u for u in await admin.users(conn, now=START + timedelta(days=1))}
        owner = await queries.token_owner(conn, hash_token(next(d.token for d in second if d.name == "汕尾管理员")))
    assert (found["admin"].scope, found["admin"].name, found["admin"].role) == ("region:4415", "汕尾管理员", "admin")
    assert (found["courier-07"].role, found["courier-07"].scope) == ("window_clerk", "office:win-441581")
    assert found["lead-zj"].scope == "office:dept-441500-zj"  # missing, so created again
    assert len(first) == len(second) == len(DEMO_USERS)
    assert owner is not None and (owner.user_id, owner.scope) == ("admin", "region:4415")
    assert owner.expires_at == START + timedelta(days=91)


async def test_demo_tokens_expire_like_any_other_30_days_for_the_courier_and_90_for_staff(domain_db):
    engine, _ = domain_db
    async with engine.begin() as conn:
        issued = await start_demo(conn, START, TokenLifetimes())
    lifetimes = {d.role: d.expires_at - START for d in issued}
    assert lifetimes == {
        "window_clerk": timedelta(days=90),
        "dept_clerk": timedelta(days=90),
        "dept_lead": timedelta(days=90),
        "courier": timedelta(days=30),
        "supervisor": timedelta(days=90),
        "admin": timedelta(days=90),
    }
    async with engine.connect() as conn:
        stored = await conn.execute(select(t.api_tokens.c.expires_at))
        assert sorted(row[0] for row in stored) == sorted(d.expires_at for d in issued)
