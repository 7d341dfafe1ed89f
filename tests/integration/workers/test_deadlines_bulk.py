"""The set-based recompute of every open clock (a calendar upload, a new day) writes, on SQLite
and PostgreSQL, the very rows that the per-case reading of each case (Case.clock, clock_row)
gives — for a few hundred cases with stages, extensions and supplements, before and after a
calendar change that moves their due dates."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from adapters.calendar import packaged_schedules
from adapters.db import domain_tables as t
from adapters.db import queries
from adapters.db.repositories import ConnectionReader
from adapters.db.worker_tables import case_clocks
from handoff.calendar import Schedule, parse_schedule
from worker.deadlines import (
    CalendarUpload,
    DeadlineSettings,
    DeadlineWatcher,
    calendar_upload,
    clock_inputs,
    clock_row,
)

pytestmark = pytest.mark.integration

STATES = ["collected", "forwarded", "received", "supplement_requested", "accepted", "in_review", "decided"]


def watcher(world) -> DeadlineWatcher:
    return DeadlineWatcher(world.engine, world.uow().cipher, world.calendar, world.deps, world.uow, DeadlineSettings())


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 4, tzinfo=UTC)  # 12:00 in China


async def clone_cases(world, template_id: str, count: int, seed: int) -> list[str]:
    """``count`` cases made from a registered one, each with its own dates, stages, extensions
    and supplement, written straight into the tables (as the repository would read them back)."""
    rng = random.Random(seed)
    async with world.engine.begin() as conn:
        template = dict((await conn.execute(select(t.cases).where(t.cases.c.id == template_id))).mappings().one())
        ids = []
        for n in range(count):
            case_id = f"bulk-{seed}-{n:04d}"
            state = rng.choice(STATES)
            collected = date(2026, 10, 1) + timedelta(days=rng.randint(0, 80))
            accepted = collected + timedelta(days=rng.randint(0, 6)) if state in STATES[4:] else None
            decided = accepted + timedelta(days=rng.randint(0, 40)) if accepted and state == "decided" else None
            row = {
                **template,
                "id": case_id,
                "state": state,
                "case_no": f"B{seed}{n:05d}",
                "tracking_token_hash": f"{seed:08x}{n:056x}",
                "collected_at": noon(collected),
                "accepted_at": noon(accepted) if accepted else None,
                "decided_at": noon(decided) if decided else None,
            }
            await conn.execute(insert(t.cases).values(**row))
            if accepted:
                for seq in range(1, rng.randint(0, 3) + 1):
                    start = accepted + timedelta(days=rng.randint(0, 45))
                    end = None if rng.random() < 0.4 else start + timedelta(days=rng.randint(0, 20))
                    await conn.execute(
                        insert(t.case_stages).values(
                            case_id=case_id,
                            seq=seq,
                            id=f"{case_id}-s{seq}",
                            type=rng.choice(["inspection", "expert_review", "hearing"]),
                            start_on=start,
                            end_on=end,
                            reason="现场勘验",
                            legal_basis="行政许可法第四十五条",
                            opened_by="dept-zj",
                            opened_at=noon(start),
                            limit_days=rng.choice([None, 5, 10]),
                        )
                    )
                for seq in range(1, rng.randint(0, 2) + 1):
                    await conn.execute(
                        insert(t.case_extensions).values(
                            case_id=case_id,
                            seq=seq,
                            days=rng.randint(1, 5),
                            approver="黄建国",
                            reason="情况复杂",
                            on_date=accepted,
                            at=noon(accepted),
                        )
                    )
            for seq in range(1, rng.randint(0, 2) + 1):
                await conn.execute(
                    insert(t.case_supplements).values(
                        case_id=case_id,
                        seq=seq,
                        items=["土地权属证明（原件）"],
                        due_on=collected + timedelta(days=10 + seq),
                        requested_at=noon(collected),
                        after_acceptance=state in ("accepted", "in_review") and rng.random() < 0.5,
                        supplied_at=noon(collected) if rng.random() < 0.4 else None,
                    )
                )
            ids.append(case_id)
    return ids


async def per_case_rows(world, case_ids: list[str], today: date) -> dict[str, dict]:
    async with world.engine.connect() as conn:
        reader = ConnectionReader(conn, world.uow().cipher)
        rows = {}
        for case_id in case_ids:
            case = await reader.cases.get(case_id)
            row = clock_row(case, world.calendar, today, world.clock.now())
            rows[case_id] = {k: v for k, v in row.items() if k != "updated_at"}
        return rows


async def stored_rows(world, case_ids: list[str]) -> dict[str, dict]:
    async with world.engine.connect() as conn:
        found = (await conn.execute(select(case_clocks).where(case_clocks.c.case_id.in_(case_ids)))).mappings()
        return {r["case_id"]: {k: v for k, v in r.items() if k != "updated_at"} for r in found}


async def test_the_set_based_recompute_writes_what_each_case_reads_across_a_calendar_change(world):
    w = watcher(world)
    world.at(2026, 10, 1)
    template = await world.register()
    await w.recompute(template)
    case_ids = await clone_cases(world, template, 200, seed=7)
    world.at(2026, 12, 21)
    await w.recompute(*case_ids)  # every clock row as of the 21st; some due dates then lost
    async with world.engine.begin() as conn:
        await conn.execute(case_clocks.update().where(case_clocks.c.case_id.in_(case_ids[:120])).values(due_on=None))
        await conn.execute(  # a row from before rows kept the limit: recomputed from its case
            case_clocks.update().where(case_clocks.c.case_id.in_(case_ids[120:130])).values(limit_days=None)
        )

    world.at(2026, 12, 28)
    today = date(2026, 12, 28)
    expected = await per_case_rows(world, case_ids, today)
    watched_before = set(await watched_ids(world)) - {template}
    assert await w.recompute_all(chunk_size=50) == len(watched_before) + 1  # the template too
    stored = await stored_rows(world, case_ids)
    assert {i: stored[i] for i in watched_before} == {i: expected[i] for i in watched_before}
    assert any(row["provisional"] for row in expected.values())  # 2027 is not loaded yet
    assert any(row["paused"] for row in expected.values()) and any(row["promised"] for row in expected.values())

    schedule = parse_schedule(
        'year = 2027\nsource = "国务院办公厅关于2027年部分节假日安排的通知"\n'
        'holidays = ["2027-01-01", "2027-01-04", "2027-01-05", "2027-01-06"]\nworkdays = []\n'
    )
    async with world.engine.begin() as conn:
        await queries.save_schedule(conn, schedule, "admin", world.clock.now())
        await world.calendar.refresh(conn)
    moved = await per_case_rows(world, case_ids, today)
    still_watched = [i for i in watched_before if expected[i]["watching"]]
    assert any(moved[i]["due_on"] != expected[i]["due_on"] for i in still_watched)
    await w.recompute_all()
    stored = await stored_rows(world, case_ids)
    assert {i: stored[i] for i in still_watched} == {i: moved[i] for i in still_watched}


async def test_the_recompute_walks_every_chunk_and_only_the_rows_behind_today(world):
    w = watcher(world)
    world.at(2026, 10, 1)
    template = await world.register()
    case_ids = await clone_cases(world, template, 30, seed=11)
    world.at(2026, 11, 2)
    await w.recompute(template, *case_ids)
    watched = len(await watched_ids(world))
    world.at(2026, 11, 3)
    assert await w.recompute_all(only_before=date(2026, 11, 3), chunk_size=4) == watched
    assert await w.recompute_all(only_before=date(2026, 11, 3), chunk_size=4) == 0
    async with world.engine.connect() as conn:
        as_of = set((await conn.execute(select(case_clocks.c.as_of).where(case_clocks.c.watching.is_(True)))).scalars())
    assert as_of == {date(2026, 11, 3)}


async def watched_ids(world) -> list[str]:
    async with world.engine.connect() as conn:
        query = select(case_clocks.c.case_id).where(case_clocks.c.watching.is_(True))
        return list((await conn.execute(query)).scalars())


def shifted(schedule: Schedule, off: set[date] = frozenset(), worked: set[date] = frozenset()) -> Schedule:
    return Schedule(
        year=schedule.year,
        source="测试调整",
        holidays=frozenset((schedule.holidays | off) - worked),
        workdays=frozenset(schedule.workdays | {d for d in worked if d.weekday() >= 5}),
    )


async def test_after_each_calendar_upload_every_watched_row_is_what_its_case_reads(world):
    """Uploads that change days after today (inside the clocks' windows, at the end of the year),
    make a weekend a working day, change a day before today, and load the next year: the rows the
    upload cannot move are left out of the read, and every watched row still equals the per-case
    reading of its case."""
    w = watcher(world)
    world.at(2026, 10, 1)
    template = await world.register()
    case_ids = await clone_cases(world, template, 300, seed=23)
    world.at(2026, 12, 14)
    today = date(2026, 12, 14)
    await w.recompute(template, *case_ids)
    watched = [i for i in await watched_ids(world) if i != template]
    # a case due before the year's end whose (recorded) stage runs into 2027: the upload of 2027
    # moves nothing of its dates, but its reading is no longer provisional
    rows = await stored_rows(world, watched)
    [late] = [i for i in watched if rows[i]["legal_due_on"] and rows[i]["legal_due_on"] < date(2026, 12, 20)][:1]
    async with world.engine.begin() as conn:
        await conn.execute(
            insert(t.case_stages).values(
                case_id=late,
                seq=9,
                id=f"{late}-s9",
                type="hearing",
                start_on=date(2026, 12, 21),
                end_on=date(2027, 1, 6),
                reason="听证",
                legal_basis="行政许可法第四十六条",
                opened_by="dept-zj",
                opened_at=noon(date(2026, 12, 14)),
            )
        )
    await w.recompute(late)
    assert await w.recompute_all() == len(watched) + 1  # the first run reads every watched row

    [y2026] = [s for s in packaged_schedules() if s.year == 2026]
    uploads = [
        shifted(y2026, off={date(2026, 12, 16)}),
        shifted(y2026, off={date(2026, 12, 16), date(2026, 12, 31)}),
        shifted(y2026, off={date(2026, 12, 31)}, worked={date(2026, 12, 19)}),
        shifted(y2026, off={date(2026, 12, 2), date(2026, 12, 31)}, worked={date(2026, 12, 19)}),
        parse_schedule(
            'year = 2027\nsource = "国务院办公厅关于2027年部分节假日安排的通知"\n'
            'holidays = ["2027-01-01", "2027-01-04", "2027-01-05"]\nworkdays = []\n'
        ),
    ]
    read = []
    for hour, schedule in enumerate(uploads, start=11):
        world.at(2026, 12, 14, hour)  # a later upload (the calendar's fingerprint), the same day
        async with world.engine.begin() as conn:
            await queries.save_schedule(conn, schedule, "admin", world.clock.now())
            await world.calendar.refresh(conn)
        read.append(await w.recompute_all())
        expected = await per_case_rows(world, case_ids, today)
        stored = await stored_rows(world, case_ids)
        assert {i: stored[i] for i in watched} == {i: expected[i] for i in watched}
    assert read[0] < len(watched)  # the clocks that end before the 16th were not read
    assert read[3] == len(watched) + 1  # a day before today changed: every clock is read
    own = [i for i in watched if any(expected[i][k] for k in ("prereview_due_on", "iou_due_on", "stage_limits"))]
    assert await w.recompute_all() == len(own)  # nothing changed: only the rows read from their case


async def test_the_cases_whose_stages_reach_the_changed_day_are_read_whether_named_or_looked_up(world):
    """Too many cases with a stage reaching the first changed day to name them in one array: each
    row's stages are looked at instead, and the same rows are read."""
    w = watcher(world)
    world.at(2026, 10, 1)
    template = await world.register()
    case_ids = await clone_cases(world, template, 120, seed=31)
    world.at(2026, 11, 20)
    await w.recompute(template, *case_ids)
    today = date(2026, 11, 20)
    for changed_from in (date(2026, 11, 25), date(2026, 12, 10), date(2027, 1, 1)):
        async with world.engine.connect() as conn:
            named = await calendar_upload(conn, today, changed_from)
            looked_up = CalendarUpload(today, changed_from, None)
            assert named.reaching  # some stages of the clones reach each of these days
            by_name = [i.case_id for i in await clock_inputs(conn, "", None, 1000, named)]
            by_stage = [i.case_id for i in await clock_inputs(conn, "", None, 1000, looked_up)]
            unfiltered = [i.case_id for i in await clock_inputs(conn, "", None, 1000)]
        assert by_name == by_stage
        assert set(named.reaching) & set(unfiltered) <= set(by_name)
        assert len(by_name) < len(unfiltered)
