from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from adapters.db.outbox import write_outbox
from handoff import events as ev
from tests.support.db import postgres_engine, sqlite_engine
from tests.support.rabbit import rabbit_prefix

effects_meta = MetaData()
effects = Table(
    "test_effects",
    effects_meta,
    Column("event_id", String(64), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("n", Integer, nullable=False),
    Column("order", Integer, nullable=False),
)


@pytest.fixture
async def pg():
    gen = postgres_engine()
    engine = await gen.__anext__()
    async with engine.begin() as conn:
        await conn.run_sync(effects_meta.create_all)
    yield engine
    await gen.aclose()


@pytest.fixture
async def lite(tmp_path):
    gen = sqlite_engine(tmp_path)
    engine = await gen.__anext__()
    async with engine.begin() as conn:
        await conn.run_sync(effects_meta.create_all)
    yield engine
    await gen.aclose()


@pytest.fixture
async def prefix():
    gen = rabbit_prefix()
    value = await gen.__anext__()
    yield value
    await gen.aclose()


def numbered(case_id: str, n: int) -> ev.Event:
    return ev.CaseCopiedToLead(occurred_at=datetime.now(UTC), actor="test", case_id=case_id, lead="l", note=str(n))


async def commit_events(engine, events) -> None:
    async with engine.begin() as conn:
        await write_outbox(conn, events)


_order = {"n": 0}


async def record_effect(envelope, conn) -> None:
    _order["n"] += 1
    await conn.execute(
        insert(effects).values(
            event_id=envelope["id"], case_id=envelope["case_id"], n=int(envelope["data"]["note"]), order=_order["n"]
        )
    )


async def effect_rows(engine) -> list:
    async with engine.connect() as conn:
        return list((await conn.execute(select(effects).order_by(effects.c.order))).all())


async def effect_count(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(effects))).scalar_one()
