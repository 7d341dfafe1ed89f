"""The dashboards read one page at a time (LIMIT in the SQL) after an opaque cursor: walked page
by page, on SQLite and PostgreSQL, the deadline boards, the ledger and the stalled packages give
exactly the rows of their whole list in its order — for everything, one office, a region, and a
scope too wide to be read office by office. On PostgreSQL each board's query can use its partial
index: the predicates the queries write imply the indexes' ones."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, insert, select, text, update

from adapters.calendar import packaged_schedules
from adapters.db import domain_tables as t
from adapters.db import queries, reports
from adapters.db.reports import Scope
from adapters.db.worker_tables import case_clocks
from handoff.calendar import Schedule, parse_schedule
from tests.integration.workers.test_deadlines_bulk import clone_cases, watcher

pytestmark = pytest.mark.integration

WINDOWS = ["win-441502", "win-441521", "win-441523", "win-441581"]
DEPARTMENTS = ["dept-441500-qx", "dept-441500-zj", "dept-441500-sj", "dept-441581-sj"]
SCOPES = {
    "everything": Scope(None, None),
    "one office": Scope(["dept-441500-zj"], None),
    "a region": Scope(None, ["441581"]),
    "offices and a region": Scope(["win-441502"], ["441523"]),
    "wider than office by office": Scope([*WINDOWS, *(f"nowhere-{n}" for n in range(20))], []),
    "nothing": Scope([], []),
}


async def spread(world, case_ids: list[str], seed: int) -> None:
    """Put the cases at various windows and departments."""
    rng = random.Random(seed)
    async with world.engine.begin() as conn:
        for case_id in case_ids:
            await conn.execute(
                update(t.cases)
                .where(t.cases.c.id == case_id)
                .values(window_office_id=rng.choice(WINDOWS), department_office_id=rng.choice(DEPARTMENTS))
            )


async def in_scope(world, scope: Scope) -> set[str] | None:
    async with world.engine.connect() as conn:
        offices = await reports.scope_offices(conn, scope)
    return None if offices is None else set(offices)


def sees(offices: set[str] | None, row: dict) -> bool:
    return offices is None or row["window_office_id"] in offices or row["department_office_id"] in offices


async def board_pages(world, scope: Scope, kind: str, limit: int) -> list[str]:
    seen, after = [], None
    while True:
        async with world.engine.connect() as conn:
            rows = await reports.deadline_board(conn, scope, kind, limit + 1, after)
        seen += [r["case_id"] for r in rows[:limit]]
        if len(rows) <= limit:
            return seen
        after = reports.decode_board_cursor(kind, reports.board_cursor(kind, rows[limit - 1]))


async def test_the_deadline_boards_walked_page_by_page_list_every_row_once_in_order(world):
    """In the order of their dates (the promised and legal due dates by their ranks, which order
    rows as the dates do), before and after calendar uploads that move due dates — a day taken off,
    and one before them given back — recomputed set-based."""
    w = watcher(world)
    world.at(2026, 10, 1)
    template = await world.register()
    case_ids = [template, *await clone_cases(world, template, 90, seed=3)]
    await spread(world, case_ids, seed=3)
    world.at(2026, 12, 30)
    await w.recompute(*case_ids)
    await w.recompute_all()  # the watcher knows the calendar the rows were read on
    keys = {
        "overdue": (lambda r: r["overdue"], lambda r: (r["due_on"], r["case_id"])),
        "due_soon": (
            lambda r: not r["overdue"] and r["remaining"] is not None,
            lambda r: (r["remaining"], r["due_on"], r["case_id"]),
        ),
        "forwarding": (
            lambda r: r["state"] in ("collected", "forwarded") and r["forwarding_due_on"] < r["as_of"],
            lambda r: (r["forwarding_due_on"], r["case_id"]),
        ),
        "legal_overdue": (lambda r: r["legal_overdue"], lambda r: (r["legal_due_on"], r["case_id"])),
    }
    [y2026] = [s for s in packaged_schedules() if s.year == 2026]
    uploads = [
        None,
        Schedule(2026, "测试调整", y2026.holidays, y2026.workdays | {date(2026, 12, 27)}),  # before the due dates
        parse_schedule(
            'year = 2027\nsource = "国务院办公厅关于2027年部分节假日安排的通知"\n'
            'holidays = ["2027-01-01", "2027-01-04", "2027-01-05", "2027-01-13"]\nworkdays = []\n'
        ),
    ]
    due_dates = []
    for hour, schedule in enumerate(uploads, start=10):
        if schedule is not None:
            world.at(2026, 12, 30, hour)
            async with world.engine.begin() as conn:
                await queries.save_schedule(conn, schedule, "admin", world.clock.now())
                await world.calendar.refresh(conn)
            await w.recompute_all()
        async with world.engine.connect() as conn:
            clocks = [dict(r) for r in (await conn.execute(select(case_clocks))).mappings()]
        due_dates.append({r["case_id"]: r["due_on"] for r in clocks})
        for scope_name, scope in SCOPES.items():
            offices = await in_scope(world, scope)
            for kind, (on_board, order) in keys.items():
                expected = [
                    r["case_id"]
                    for r in sorted((r for r in clocks if r["watching"] and on_board(r)), key=order)
                    if sees(offices, r)
                ]
                assert await board_pages(world, scope, kind, 4) == expected, (scope_name, kind, hour)
                if scope_name == "everything":
                    assert len(expected) > (1 if kind == "legal_overdue" else 8), kind  # several pages
    assert due_dates[1] != due_dates[0] and due_dates[2] != due_dates[1]  # the uploads moved due dates
    async with world.engine.connect() as conn:
        names = dict((await conn.execute(select(t.offices.c.id, t.offices.c.name))).all())
        [first] = await reports.deadline_board(conn, SCOPES["one office"], "overdue", 1)
    assert first["matter_name"] == "建设工程规划许可证核发"
    assert first["department_name"] == names[first["department_office_id"]]


@pytest.mark.parametrize(
    "cursor", ["%%%", "bm90IGpzb24", "WyJvdmVyZHVlIiwgMV0", "WyJkdWVfc29vbiIsICIyMDI2LTAxLTAxIiwgIngiXQ"]
)
def test_a_cursor_that_is_not_one_of_the_board_is_refused(cursor):
    with pytest.raises(ValueError):
        reports.decode_board_cursor("overdue", cursor)


async def test_the_ledger_walked_page_by_page_lists_every_case_of_the_scope_newest_first(world):
    world.at(2026, 10, 1)
    template = await world.register()
    case_ids = [template, *await clone_cases(world, template, 60, seed=5)]
    await spread(world, case_ids, seed=5)
    async with world.engine.begin() as conn:  # equal collection times: the id breaks the tie
        await conn.execute(
            update(t.cases)
            .where(t.cases.c.id.in_(case_ids[:10]))
            .values(collected_at=datetime(2026, 11, 2, tzinfo=UTC))
        )
        cases = [dict(r) for r in (await conn.execute(select(t.cases))).mappings()]
    for scope_name, scope in SCOPES.items():
        offices = await in_scope(world, scope)
        for states in ((), ("accepted", "in_review")):
            expected = [
                r["id"]
                for r in sorted(cases, key=lambda r: (r["collected_at"], r["id"]), reverse=True)
                if sees(offices, r) and (not states or r["state"] in states)
            ]
            seen, after = [], None
            while True:
                async with world.engine.connect() as conn:
                    rows = await queries.ledger_page(
                        conn,
                        office_ids=scope.office_ids,
                        region_prefixes=scope.region_prefixes,
                        states=states,
                        after=after,
                        limit=5,
                    )
                seen += [r["id"] for r in rows]
                if len(rows) < 5:
                    break
                after = queries.decode_cursor(queries.encode_cursor(rows[-1]["collected_at"], rows[-1]["id"]))
            assert seen == expected, (scope_name, states)
    assert rows == [] or rows[0]["matter_kind"] == "promised"


async def test_stalled_packages_walked_page_by_page_are_every_stalled_one_oldest_first(world):
    world.at(2026, 10, 1)
    template = await world.register()
    case_ids = [template, *await clone_cases(world, template, 20, seed=9)]
    await spread(world, case_ids, seed=9)
    rng = random.Random(9)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    async with world.engine.begin() as conn:
        for n in range(45):
            await conn.execute(
                insert(t.packages).values(
                    id=f"pkg-{n:03d}",
                    code=f"441581-20261001-{n:04d}-X",
                    case_id=rng.choice(case_ids),
                    direction="outbound",
                    medium="paper",
                    from_party="win-441581",
                    to_party=rng.choice(["dept-441500-zj", "applicant"]),
                    state=rng.choice(["sealed", "in_transit", "arrived", "signed", "created"]),
                    holder="courier-07",
                    created_at=start,
                    last_movement_at=start + timedelta(hours=rng.randint(0, 20) * 12),
                    version=1,
                    chain_length=0,
                    chain_head="0" * 64,
                )
            )
        packages = [dict(r) for r in (await conn.execute(select(t.packages))).mappings()]
        cases = {
            r[0]: r
            for r in (
                await conn.execute(select(t.cases.c.id, t.cases.c.window_office_id, t.cases.c.department_office_id))
            ).all()
        }
    before = datetime(2026, 10, 8, tzinfo=UTC)
    for scope_name, scope in SCOPES.items():
        offices = await in_scope(world, scope)
        expected = [
            p["id"]
            for p in sorted(packages, key=lambda p: (p["last_movement_at"], p["id"]))
            if p["state"] in t.MOVING_STATES
            and not (p["state"] == "arrived" and p["to_party"] == "applicant")  # delivered to the applicant
            and p["last_movement_at"] < before
            and sees(
                offices, {"window_office_id": cases[p["case_id"]][1], "department_office_id": cases[p["case_id"]][2]}
            )
        ]
        seen, after = [], None
        while True:
            async with world.engine.connect() as conn:
                rows = await reports.stalled_packages(conn, before, scope, 4, after)
            seen += [r["id"] for r in rows]
            if len(rows) < 4:
                break
            after = reports.decode_cursor(
                reports.encode_cursor(rows[-1]["last_movement_at"], rows[-1]["id"]), datetime, str
            )
        assert seen == expected, scope_name


async def test_each_board_can_read_its_partial_index_on_postgresql(pg_world):
    """With sequential scans off, the plan names the board's index: a predicate the planner
    could not prove (``= true`` against ``IS TRUE``, a bound state list) would leave it unusable."""
    world = pg_world
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "case_clocks" in statement or "packages" in statement or "FROM cases" in statement:
            statements.append((statement, parameters))

    event.listen(world.engine.sync_engine, "before_cursor_execute", capture)
    expected = {
        "overdue": "ix_case_clocks_overdue",
        "due_soon": "ix_case_clocks_due_soon",
        "forwarding": "ix_case_clocks_forwarding",
    }
    plans = {}
    async with world.engine.connect() as conn:
        await conn.execute(text("SET enable_seqscan = off"))
        for kind, index in expected.items():
            for scope, suffix in ((SCOPES["everything"], ""), (SCOPES["one office"], "_dept")):
                statements.clear()
                await reports.deadline_board(conn, scope, kind, 51)
                sql, params = statements[-1]
                plan = "\n".join(r[0] for r in (await conn.exec_driver_sql("EXPLAIN " + sql, params)).all())
                plans[(kind, suffix)] = plan
                assert index + suffix in plan, plan
        statements.clear()
        await reports.stalled_packages(conn, datetime(2026, 10, 8, tzinfo=UTC), None, 51)
        sql, params = statements[-1]
        plan = "\n".join(r[0] for r in (await conn.exec_driver_sql("EXPLAIN " + sql, params)).all())
        assert "ix_packages_stalled" in plan, plan
        statements.clear()
        await queries.ledger_page(conn, office_ids=["dept-441500-zj"], region_prefixes=None, limit=51)
        sql, params = statements[-1]
        plan = "\n".join(r[0] for r in (await conn.exec_driver_sql("EXPLAIN " + sql, params)).all())
        assert "ix_cases_department_collected" in plan and "ix_cases_window_collected" in plan, plan
    event.remove(world.engine.sync_engine, "before_cursor_execute", capture)
