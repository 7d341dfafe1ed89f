"""The deadline watcher on SQLite and PostgreSQL: warnings at the thresholds and the overdue mark,
each once; the 2-day forwarding promise; an expired supplement closes its case; a calendar upload
moves the due dates of open cases, keeping the paused time."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from adapters.db import queries
from adapters.db.outbox import write_outbox
from adapters.db.tables import outbox
from adapters.db.worker_tables import case_clocks
from handoff import events as ev
from handoff.calendar import parse_schedule
from worker.deadlines import DeadlineSettings, DeadlineWatcher, warning_due

pytestmark = pytest.mark.integration


def watcher(world) -> DeadlineWatcher:
    return DeadlineWatcher(world.engine, world.uow().cipher, world.calendar, world.deps, world.uow, DeadlineSettings())


async def announced(world, kind: str) -> list[dict]:
    async with world.engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.payload).where(outbox.c.type == kind).order_by(outbox.c.seq))).all()
    return [r[0] for r in rows]


async def clock_of(world, case_id: str) -> dict:
    async with world.engine.connect() as conn:
        return dict((await conn.execute(select(case_clocks).where(case_clocks.c.case_id == case_id))).mappings().one())


def test_the_most_urgent_threshold_reached_is_the_one_announced():
    assert warning_due(5, (1, 3)) is None
    assert warning_due(3, (1, 3)) == 3
    assert warning_due(2, (1, 3)) == 3
    assert warning_due(1, (1, 3)) == 1
    assert warning_due(0, (1, 3)) == 1
    assert warning_due(-1, (1, 3)) is None


async def test_warnings_come_once_at_each_threshold_then_the_overdue_mark_once(world):
    w = watcher(world)
    feed = world.feed(w.handle)
    world.at(2026, 3, 2)
    case_id = await world.register()
    await world.to_department(case_id)
    await world.case("accept", case_id)
    await feed()
    assert (await clock_of(world, case_id))["due_on"] == date(2026, 3, 30)
    counts = []
    for day in (2, 25, 25, 26, 27, 30, 31):  # March 2026: 20 working days after the 2nd end on the 30th
        world.at(2026, 3, day)
        done = await w.scan()
        counts.append((day, done["warned"], done["overdue"]))
    assert counts == [(2, 0, 0), (25, 1, 0), (25, 0, 0), (26, 0, 0), (27, 1, 0), (30, 0, 0), (31, 0, 1)]
    warnings = await announced(world, "case.deadline_near")
    assert [(p["data"]["remaining"], p["data"]["due_on"]) for p in warnings] == [(3, "2026-03-30"), (1, "2026-03-30")]
    [overdue] = await announced(world, "case.overdue")
    assert overdue["case_id"] == case_id and overdue["data"]["used"] == 21 and overdue["data"]["promised"] == 20
    assert (await clock_of(world, case_id))["overdue"] is True

    world.at(2026, 4, 1)
    await world.case("decide", case_id, outcome="approved", opinion="同意")
    await feed()
    row = await clock_of(world, case_id)
    assert row["watching"] is False and row["overdue"] is False
    assert set((await w.scan()).values()) == {0}


async def test_a_paused_case_is_not_warned_and_a_moved_due_date_is_a_new_occasion(world):
    w = watcher(world)
    feed = world.feed(w.handle)
    world.at(2026, 3, 2)
    case_id = await world.register()
    await world.to_department(case_id)
    await world.case("accept", case_id)
    world.at(2026, 3, 24)
    [opened] = [
        e
        for e in await world.case(
            "open_stage", case_id, stage_type="expert_review", reason="方案评审", legal_basis="行政许可法第四十五条"
        )
        if e.type == "stage.opened"
    ]
    await feed()
    world.at(2026, 3, 27)
    assert (await w.scan())["warned"] == 0  # paused: the clock does not run
    world.at(2026, 4, 1)
    await world.case("close_stage", case_id, stage_id=opened.stage_id)
    await feed()
    row = await clock_of(world, case_id)
    assert row["due_on"] == date(2026, 4, 8) and row["remaining"] == 4  # 清明: 04-06 is a day off
    world.at(2026, 4, 2)
    assert (await w.scan())["warned"] == 1
    assert [p["data"]["due_on"] for p in await announced(world, "case.deadline_near")] == ["2026-04-08"]


async def test_materials_still_at_the_window_after_two_working_days_are_announced_once(world):
    w = watcher(world)
    feed = world.feed(w.handle)
    world.at(2026, 3, 2)  # Monday: the promise runs to Wednesday the 4th
    late = await world.register()
    sealed_only = await world.register()
    on_time = await world.register()
    await world.seal(sealed_only)
    await world.to_department(on_time)
    await feed()
    world.at(2026, 3, 4)
    assert (await w.scan())["forwarding"] == 0
    world.at(2026, 3, 5)
    assert (await w.scan())["forwarding"] == 2
    assert (await w.scan())["forwarding"] == 0
    assert sorted(p["case_id"] for p in await announced(world, "case.forwarding_overdue")) == sorted(
        [late, sealed_only]
    )


async def test_a_supplement_not_brought_by_its_due_date_closes_the_case_with_the_notice(world):
    w = watcher(world)
    feed = world.feed(w.handle)
    world.at(2026, 3, 2)
    expired, supplied = await world.register(), await world.register()
    for case_id in (expired, supplied):
        await world.to_department(case_id)
        await world.case("request_supplement", case_id, items=["土地权属证明（原件）"], due_on=date(2026, 3, 6))
    await feed()
    world.at(2026, 3, 6)
    await world.case("supplement_supplied", supplied)
    await feed()
    assert (await w.scan())["closed"] == 0  # the due day itself still counts
    world.at(2026, 3, 9)
    assert (await w.scan())["closed"] == 1
    await feed()
    async with world.uow() as uow:
        assert (await uow.cases.get(expired)).state.value == "closed_unsupplemented"
        assert (await uow.cases.get(supplied)).state.value == "received"
    [closed] = await announced(world, "case.closed_unsupplemented")
    assert closed["case_id"] == expired and closed["actor"] == "system:deadlines"
    assert (await clock_of(world, expired))["watching"] is False
    assert (await w.scan())["closed"] == 0


async def test_a_supplement_stage_after_acceptance_not_supplied_by_its_due_date_closes_the_case(world):
    w = watcher(world)
    feed = world.feed(w.handle)
    world.at(2026, 3, 2)
    case_id = await world.register()
    await world.to_department(case_id)
    await world.case("accept", case_id)
    world.at(2026, 3, 3)
    await world.case("request_supplement", case_id, items=["补充图纸"], due_on=date(2026, 3, 6))
    await feed()
    assert (await clock_of(world, case_id))["supplement_due_on"] == date(2026, 3, 6)
    world.at(2026, 3, 6)
    assert (await w.scan())["closed"] == 0
    world.at(2026, 3, 9)
    assert (await w.scan())["closed"] == 1
    async with world.uow() as uow:
        case = await uow.cases.get(case_id)
    assert case.state.value == "closed_unsupplemented" and case.stages[0].end_on == date(2026, 3, 6)
    [closed] = await announced(world, "case.closed_unsupplemented")
    assert closed["data"]["after_acceptance"] is True and closed["data"]["opinion"] == ""


async def test_a_calendar_upload_moves_the_due_dates_of_open_cases_keeping_the_paused_days(world):
    w = watcher(world)
    feed = world.feed(w.handle)
    world.at(2026, 12, 10)
    case_id = await world.register()
    await world.to_department(case_id)
    await world.case("accept", case_id)
    world.at(2026, 12, 14)
    [opened] = [
        e
        for e in await world.case(
            "open_stage", case_id, stage_type="inspection", reason="现场勘验", legal_basis="行政许可法第四十五条"
        )
        if e.type == "stage.opened"
    ]
    world.at(2026, 12, 16)
    await world.case("close_stage", case_id, stage_id=opened.stage_id)
    await feed()
    before = await clock_of(world, case_id)
    # 2027 is not loaded yet: Monday–Friday, and said to be provisional
    assert before["due_on"] == date(2027, 1, 11) and before["provisional"] is True

    schedule = parse_schedule(
        'year = 2027\nsource = "国务院办公厅关于2027年部分节假日安排的通知"\n'
        'holidays = ["2027-01-01", "2027-01-02", "2027-01-03"]\nworkdays = []\n'
    )
    async with world.engine.begin() as conn:  # what POST /api/v1/admin/calendar commits
        await queries.save_schedule(conn, schedule, "admin", world.clock.now())
        await write_outbox(
            conn, [ev.CalendarUpdated(occurred_at=world.clock.now(), actor="admin", year=2027, source=schedule.source)]
        )
    assert "calendar.updated" in await feed()
    after = await clock_of(world, case_id)
    assert after["due_on"] == date(2027, 1, 12) and after["provisional"] is False
    assert world.calendar.covers(date(2027, 6, 1))


async def test_cases_registered_before_the_watcher_ran_get_their_clocks_at_start(world):
    world.at(2026, 3, 2)
    case_id = await world.register()
    w = watcher(world)
    await w.recover()
    row = await clock_of(world, case_id)
    assert row["watching"] is True and row["forwarding_due_on"] == date(2026, 3, 4) and row["due_on"] is None
