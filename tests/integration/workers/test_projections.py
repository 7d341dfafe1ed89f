"""The indicator projection on SQLite and PostgreSQL: kept from events, equal to the indicators
computed from the cases themselves, unchanged by redeliveries, moved on by time alone, and summed by
day, window, department or region."""

from __future__ import annotations

import asyncio
import logging
from datetime import date

import pytest
from sqlalchemy import delete, func, select, text

from adapters.db import queries, reports
from adapters.db.worker_tables import (
    INDICATOR_COUNTS,
    indicator_days,
    indicator_stage_days,
)
from adapters.db.worker_tables import case_facts as fact_rows
from handoff.services import CaseCommand
from handoff.stats import Point, case_facts, indicators
from handoff.timeutil import local_date
from tests.support.db import CIPHER
from worker.projections import Projector

pytestmark = pytest.mark.integration
EVERYTHING = reports.Scope(None, None)


def projector(world) -> Projector:
    return Projector(world.engine, world.uow().cipher, world.calendar, world.clock)


async def direct_indicators(world, case_ids):
    """The same figures the slow way: every case loaded and counted (handoff/stats.py)."""
    async with world.engine.connect() as conn:
        points = {o.id: Point(o.lat, o.lon) for o in (await queries.offices(conn)).values()}
    async with world.uow() as uow:
        cases = [await uow.cases.get(c) for c in case_ids]
    return indicators(case_facts(c, world.calendar, local_date(world.clock.now()), points) for c in cases)


async def test_the_projection_equals_the_figures_computed_from_the_cases(world):
    p = projector(world)
    feed = world.feed(p.handle)
    world.at(2026, 3, 2)
    early, rejected, waiting, rated = [await world.register() for _ in range(4)]
    for case_id in (early, rejected, rated):
        await world.to_department(case_id)
    await world.case("accept", early)
    await world.case("accept", rated)
    await world.case("reject", rejected, reason="不属于本部门职权范围")
    world.at(2026, 3, 10)
    await world.case("decide", early, outcome="approved", opinion="同意")
    await world.case("decide", rated, outcome="approved", opinion="同意")
    await world.ship_result(rated)
    await world.run(CaseCommand(case_id=rated, name="deliver", actor="courier-07"))
    await world.run(CaseCommand(case_id=rated, name="rate", actor="applicant", args={"score": 2, "comment": "慢"}))
    await feed()
    async with world.engine.connect() as conn:
        [total] = await reports.indicator_groups(conn, EVERYTHING, None, None, "none")
    assert total.figures == await direct_indicators(world, [early, rejected, waiting, rated])
    assert (total.figures.cases, total.figures.accepted, total.figures.decided, total.figures.early) == (4, 2, 2, 2)
    assert total.figures.rated == 1 and total.figures.bad == 1 and total.figures.trips_saved == 1

    # every event delivered again (a relay crash between publish and commit): nothing changes
    feed.seen = 0
    await feed()
    async with world.engine.connect() as conn:
        [again] = await reports.indicator_groups(conn, EVERYTHING, None, None, "none")
    assert again == total


async def test_time_alone_makes_an_open_case_overdue_on_the_next_tick(world):
    p = projector(world)
    feed = world.feed(p.handle)
    world.at(2026, 3, 2)
    case_id = await world.register()
    await world.to_department(case_id)
    await world.case("accept", case_id)
    await feed()
    world.at(2026, 4, 1)
    async with world.engine.connect() as conn:
        [before] = await reports.indicator_groups(conn, EVERYTHING, None, None, "none")
    assert before.figures.overdue == 0
    await p.tick()
    async with world.engine.connect() as conn:
        [after] = await reports.indicator_groups(conn, EVERYTHING, None, None, "none")
    assert after.figures.overdue == 1 and after.figures.should_be_decided == 1


async def test_figures_are_grouped_by_day_window_region_and_filtered_by_scope(world):
    p = projector(world)
    feed = world.feed(p.handle)
    world.at(2026, 3, 2)
    await world.register()
    world.at(2026, 3, 3)
    await world.register(window_office_id="win-441521")
    stage_case = await world.register()
    await world.to_department(stage_case)
    await world.case("accept", stage_case)
    [opened] = [
        e
        for e in await world.case(
            "open_stage", stage_case, stage_type="expert_review", reason="评审", legal_basis="行政许可法第四十五条"
        )
        if e.type == "stage.opened"
    ]
    world.at(2026, 3, 6)
    await world.case("close_stage", stage_case, stage_id=opened.stage_id)
    await feed()
    async with world.engine.connect() as conn:
        by_day = await reports.indicator_groups(conn, EVERYTHING, None, None, "day")
        by_region = await reports.indicator_groups(conn, EVERYTHING, None, None, "window_region")
        one_day = await reports.indicator_groups(conn, EVERYTHING, date(2026, 3, 3), date(2026, 3, 3), "none")
        haifeng = await reports.indicator_groups(conn, reports.Scope(["win-441521"], None), None, None, "window")
        stages = await reports.stage_sums(conn, EVERYTHING, None, None)
        rows = (await conn.execute(select(func.count()).select_from(indicator_days))).scalar_one()
    assert [(g.key, g.figures.cases) for g in by_day] == [("2026-03-02", 1), ("2026-03-03", 2)]
    assert [(g.key, g.name, g.figures.cases) for g in by_region] == [("441521", "海丰县", 1), ("441581", "陆丰市", 2)]
    assert one_day[0].figures.cases == 2
    assert [(g.key, g.figures.cases) for g in haifeng] == [("win-441521", 1)]
    assert stages == [("expert_review", 1, 3, 3)]  # 03-04, 03-05, 03-06: strictly after the start
    assert rows == 3  # a row per day and (window, department) pair, not per case


async def test_a_withdrawn_cases_figures_stay_as_they_were_on_the_withdrawal_date(world):
    p = projector(world)
    feed = world.feed(p.handle)
    world.at(2026, 3, 2)
    case_id = await world.register()
    await world.to_department(case_id)
    await world.case("accept", case_id)
    world.at(2026, 3, 5)
    await world.case("withdraw", case_id, reason="申请人主动撤回")
    await feed()
    async with world.engine.connect() as conn:
        [then] = await reports.indicator_groups(conn, EVERYTHING, None, None, "none")
    world.at(2026, 6, 1)  # long past the 20-day promise: a running clock would be overdue
    await p.project(case_id)
    await p.tick()
    async with world.engine.connect() as conn:
        [later] = await reports.indicator_groups(conn, EVERYTHING, None, None, "none")
    assert later == then and later.figures.overdue == 0 and later.figures.should_be_decided == 0
    assert later.figures == await direct_indicators(world, [case_id])


async def test_two_projections_sharing_indicator_rows_in_opposite_order_do_not_deadlock(pg_world):
    """Two processes project batches whose cases add to the same indicator rows, one batch's cases
    (in id order) reaching the rows as (A, B), the other's as (B, A). Every facts lock is taken
    first and the rows are written in one key order, so neither waits for the other holding a row
    it needs: no deadlock, even without the retry of a failed transaction (attempts=1)."""
    world = pg_world
    world.at(2026, 3, 2)
    # two indicator rows: (day, window, department) differ by the window
    lufeng: list[str] = []
    haifeng: list[str] = []
    pairs: list[tuple[tuple[str, str], tuple[str, str]]] = []
    while not pairs and len(lufeng) < 16:  # ids are random: four of each rarely fail to give a pair
        lufeng.append(await world.register())
        haifeng.append(await world.register(window_office_id="win-441521"))
        if len(lufeng) < 4:
            continue
        # pairs of cases (x, y), x < y by id, one reaching A first, the other B first
        ab = [(x, y) for x in lufeng for y in haifeng if x < y]
        ba = [(x, y) for x in haifeng for y in lufeng if x < y]
        pairs = [(p, q) for p in ab for q in ba if not set(p) & set(q)]
    row_of = {**dict.fromkeys(lufeng, "A"), **dict.fromkeys(haifeng, "B")}
    assert pairs, "sixteen random ids at most give such pairs"
    first, second = pairs[0]
    assert [row_of[c] for c in first] == ["A", "B"] and [row_of[c] for c in second] == ["B", "A"]
    one = Projector(world.engine, CIPHER, world.calendar, world.clock, attempts=1)
    other = Projector(world.engine, CIPHER, world.calendar, world.clock, attempts=1)
    for _ in range(15):
        async with world.engine.begin() as conn:  # the next round adds the facts again
            for table in (fact_rows, indicator_days, indicator_stage_days):
                await conn.execute(delete(table))
        await asyncio.gather(one.project(*first), other.project(*second))
    async with world.engine.connect() as conn:
        [total] = await reports.indicator_groups(conn, EVERYTHING, None, None, "none")
    assert total.figures == await direct_indicators(world, [*first, *second])


async def test_a_deadlock_is_retried_as_a_whole_transaction(pg_world, caplog):
    """Whatever meets a deadlock (another writer of the same rows), the projection's transaction
    is run again after a short pause rather than failing its messages."""
    world = pg_world
    world.at(2026, 3, 2)
    case_id = await world.register()
    p = projector(world)
    caplog.set_level(logging.INFO, "handoff.db")
    zero = dict.fromkeys((*INDICATOR_COUNTS, "distance_saved_km"), 0)
    key = {"day": date(2026, 3, 2), "window_office_id": "win-441581", "department_office_id": "dept-441500-zj"}
    async with world.engine.connect() as holder:
        await holder.begin()
        # the projection is the one PostgreSQL aborts: it checks for a deadlock after 1 s, this one never
        await holder.execute(text("SET LOCAL deadlock_timeout = '60s'"))
        await holder.execute(indicator_days.insert().values(**key, **zero))  # holds the row
        projecting = asyncio.create_task(p.project(case_id))  # takes facts:<case>, waits for the row
        await _waiting_for_a_lock(world.engine)
        # ask for the projection's lock: a cycle, and the projection is aborted with 40P01
        await holder.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:n, 0))"), {"n": f"facts:{case_id}"})
        await holder.commit()
    await asyncio.wait_for(projecting, 30)
    assert any("deadlock" in r.getMessage() for r in caplog.records), "the projection met the deadlock"
    async with world.engine.connect() as conn:
        [total] = await reports.indicator_groups(conn, EVERYTHING, None, None, "none")
    assert total.figures == await direct_indicators(world, [case_id])


async def _waiting_for_a_lock(engine, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        async with engine.connect() as conn:
            waiting = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            ).scalar_one()
        if waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the projection never waited for the row")
