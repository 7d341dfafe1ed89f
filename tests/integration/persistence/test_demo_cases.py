"""The demo world's cases (adapters/demo_cases.py), built through the services on SQLite and
PostgreSQL: a case in every state the newcomer's screens show, their custody chains verify, every
step fell on a working day before now, the past steps are not texted, and a second start adds
nothing."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from adapters.crypto import Ed25519Signer
from adapters.db import checkpoints
from adapters.db import domain_tables as t
from adapters.db.tables import inbox, outbox
from adapters.demo import load_demo_world
from adapters.demo_cases import CHINA, NOTIFICATIONS, STORIES, build_demo_cases, case_id_of
from handoff.case import BAD_RATING_MAX, Case
from handoff.codes import TrackingTokens
from handoff.matter import CaseKind, Mode
from handoff.services import Deps
from tests.fakes.uow import FixedClock
from tests.support.db import CIPHER
from worker.notifications import CONSUMER

pytestmark = pytest.mark.integration

# A Monday morning in Shanghai, with the 劳动节 holidays (1–5 May) among the weeks before it.
NOW = datetime(2026, 5, 25, 10, 0, tzinfo=CHINA).astimezone(UTC)
EVERY_STATE = {
    "collected",
    "forwarded",
    "received",
    "supplement_requested",
    "accepted",
    "in_review",
    "decided",
    "result_shipped",
    "ready_for_pickup",
    "delivered",
    "archived",
    "rejected",
    "closed_unsupplemented",
    "withdrawn",
}


async def built(engine, uow, calendar) -> int:
    async with engine.begin() as conn:
        await load_demo_world(conn, NOW)
    deps = Deps(clock=FixedClock(NOW), calendar=calendar, tracking=TrackingTokens(b"track-key-for-tests-only-32byte"))
    return await build_demo_cases(engine, uow, deps, now=NOW)


async def cases(uow) -> list[Case]:
    found = []
    async with uow() as unit:
        for plan in STORIES:
            case = await unit.cases.get(case_id_of(plan.key))
            assert case is not None, plan.key
            found.append(case)
    return found


async def test_the_demo_world_is_built_once_with_cases_in_every_state_and_chains_that_verify(domain_db, calendar):
    """One build per database (it is the slow part): its cases, its chains, its texts, and a second start."""
    engine, uow = domain_db
    assert await built(engine, uow, calendar) == len(STORIES)
    await every_state_at_every_window(uow, calendar)
    await chains_verify_and_every_step_is_on_a_working_day_before_now(engine, calendar)
    await a_second_start_adds_nothing_and_the_past_steps_are_not_texted(engine, uow, calendar)


async def every_state_at_every_window(uow, calendar) -> None:
    demo = await cases(uow)
    assert {p.key: c.state.value for p, c in zip(STORIES, demo, strict=True)} == {p.key: p.state for p in STORIES}
    assert {c.state.value for c in demo} == EVERY_STATE
    assert Counter(c.window_office_id for c in demo).keys() == {"win-441502", "win-441521", "win-441523", "win-441581"}
    assert len({c.department_office_id for c in demo}) >= 3
    open_stages = {s.type.value for c in demo for s in c.stages if s.is_open}
    assert {"inspection", "expert_review", "rectification", "supplement"} <= open_stages
    assert any(s.type.value == "expert_review" and not s.is_open for c in demo for s in c.stages)
    assert any(c.supplements and c.supplements[-1].supplied_at for c in demo)  # brought back through the window
    assert {c.outcome.value for c in demo if c.outcome} == {"approved", "denied"}
    ratings = [c.rating for c in demo if c.rating]
    assert any(r.score > BAD_RATING_MAX for r in ratings)
    assert any(r.bad and r.rectified_at is None for r in ratings) and any(r.bad and r.rectified_at for r in ratings)
    assert any(c.mode is Mode.ONLINE and all(m.electronic for m in c.materials) for c in demo)
    assert any(c.mode is Mode.DELEGATED for c in demo)
    assert any(c.matter.kind is CaseKind.INSTANT and c.decided_on == c.accepted_on for c in demo)
    assert any(c.outstanding_ious() for c in demo)  # 容缺
    assert any(c.extension_days for c in demo) and any(copy.remark for c in demo for copy in c.lead_copies)
    today = NOW.astimezone(CHINA).date()
    readings = [c.clock(calendar, today) for c in demo if c.state.value in ("accepted", "in_review")]
    assert any(r is not None and r.overdue for r in readings)
    assert any(r is not None and not r.overdue and r.remaining <= 2 and not r.paused for r in readings)


async def chains_verify_and_every_step_is_on_a_working_day_before_now(engine, calendar) -> None:
    signer = Ed25519Signer(b"c" * 32)
    assert await checkpoints.make(engine, signer, NOW, daily=True) is not None
    verified = await checkpoints.verify_all(engine, signer, CIPHER)
    assert verified.ok, verified.lines()
    assert verified.packages >= len(STORIES)
    async with engine.connect() as conn:
        times = list((await conn.execute(select(t.custody_events.c.server_time))).scalars())
        times += list((await conn.execute(select(outbox.c.created_at))).scalars())
    assert times and all(at < NOW for at in times)
    assert all(calendar.is_workday(at.astimezone(CHINA).date()) for at in times)
    assert min(times) > NOW - timedelta(days=50)


async def a_second_start_adds_nothing_and_the_past_steps_are_not_texted(engine, uow, calendar) -> None:
    async def counts() -> tuple[int, ...]:
        async with engine.connect() as conn:
            return tuple(
                [
                    (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                    for table in (t.cases, t.packages, t.custody_events, outbox, inbox, t.users)
                ]
            )

    first = await counts()
    assert await built(engine, uow, calendar) == 0
    assert await counts() == first
    async with engine.connect() as conn:
        events = set((await conn.execute(select(outbox.c.id))).scalars())
        seen = set((await conn.execute(select(inbox.c.message_id).where(inbox.c.consumer == CONSUMER))).scalars())
    assert NOTIFICATIONS == CONSUMER
    assert events and events == seen
