"""The dashboards and the deadline recompute at scale, beside the machine's raw limits in the same run.

A scratch PostgreSQL database is built by the real migrations (adapters/db/migrate.py) and filled
with SQL (generate_series, not through the domain): N cases (default 1,000,000; the newest 10 %
open) at 100 windows and 100 departments in 20 cities, each with its outbound package (the
result package too once delivered), custody events for the packages of open cases, special
stages (a fifth of accepted cases, some still open), extensions, supplement requests, copies to
the department's lead, and a clock row per case (filled by the real recompute).

Then, median of 3 runs after a warm-up, with the 1-minute load average beside each:
  * every dashboard query as the API runs it (adapters/db/reports.py, queries.py: deadline boards
    overdue / due_soon / forwarding, ledger, stalled packages, the lead's inbox), first page and a
    deep page (after 2,000 rows), for everything, one city (a region prefix) and one department;
  * the set-based recompute of the open clocks after a calendar upload that moves due dates
    (worker/deadlines.py recompute_all);
and, measured with asyncpg in the same run, the raw limits: a bare indexed
``SELECT … ORDER BY collected_at DESC, id DESC LIMIT 51`` on the cases table, a primary-key lookup,
and for the recompute a bare read of the inputs of the open clocks the upload can move plus one
``UPDATE … FROM unnest`` of as many rows (rolled back). Last, EXPLAIN (ANALYZE, BUFFERS) of the
slowest queries, and EXPLAIN (ANALYZE, BUFFERS, WAL) of the recompute's write of one chunk.

Run:  .venv/bin/python bench/bench_scale.py [--cases 1000000] [--keep] [--db NAME] [--explain 3]
      [--no-dashboards | --no-recompute]
Needs PostgreSQL on 127.0.0.1:5432 (scripts/services.sh). The scratch database is dropped at the
end unless --keep; --db NAME reuses one kept before (no generation).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.calendar import LiveCalendar, packaged_schedules
from adapters.crypto import IdCipher
from adapters.db import queries, reports
from adapters.db.engine import make_engine
from adapters.db.migrate import upgrade
from adapters.db.outbox import write_outbox
from adapters.db.repositories import SqlUnitOfWork, matter_to_json
from adapters.db.worker_tables import case_clocks
from adapters.demo import MATTERS, load_demo_world
from handoff.calendar import Schedule
from handoff.codes import TrackingTokens
from handoff.services import Deps
from worker.deadlines import BULK_CHUNK, DeadlineSettings, DeadlineWatcher

PG = "postgresql://postgres@127.0.0.1:5432"
CIPHER = IdCipher({"b1": b"0" * 32}, hash_key=b"h" * 32)
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # Friday 10:00 in China
CITIES = [f"44{c:02d}" for c in range(1, 21)]
REGION, DEPARTMENT = "4401", "bd-440100-1"
LEAD = f"lead-{DEPARTMENT}"
MOVED_BEFORE = NOW - timedelta(days=5)
CHANGED_FROM = date(2026, 12, 1)
"""The day the bench's calendar uploads take off and give back (a Tuesday after NOW)."""


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> datetime:
        return self.at


def load() -> float:
    return os.getloadavg()[0]


# =========================================================================== the data, in SQL

WORLD = """
INSERT INTO regions (code, name, parent_code, lat, lon)
SELECT c || '00', '城市' || c, NULL, 23.0, 113.0 FROM unnest($1::text[]) AS c
UNION ALL
SELECT c || lpad(d::text, 2, '0'), '区县' || c || d, c || '00', 23.0, 113.0
FROM unnest($1::text[]) AS c, generate_series(71, 75) AS d
ON CONFLICT DO NOTHING;
"""
OFFICES = """
INSERT INTO offices (id, name, kind, region_code, lat, lon, address, phone, carrier)
SELECT 'bw-' || c || lpad(d::text, 2, '0'), '代收窗口' || c || d, 'window', c || lpad(d::text, 2, '0'),
       23.0, 113.0, '', '', 'internal'
FROM unnest($1::text[]) AS c, generate_series(71, 75) AS d
UNION ALL
SELECT 'bd-' || c || '00-' || k, '审批部门' || c || '-' || k, 'department', c || '00', 23.0, 113.0, '', '', 'internal'
FROM unnest($1::text[]) AS c, generate_series(1, 5) AS k;
"""
WATCHED = "('collected','forwarded','received','supplement_requested','accepted','in_review')"
CASES = """
INSERT INTO cases (id, matter_id, matter_terms, mode, delivery, applicant_name, applicant_phone,
    applicant_address, applicant_org, window_office_id, department_office_id, state,
    tracking_token_hash, case_no, collected_at, forwarded_at, received_at, accepted_at, decided_at,
    outcome, opinion, delivered_at, archived_at, closed_at, closed_reason, version)
SELECT g.cid, m.mid, m.terms, 'proxy_collect', 'pickup_at_window', '张' || (i % 997),
    '139' || lpad((i % 99999999)::text, 8, '0'), '', '', w, d, state, md5('t' || i) || md5('u' || i),
    'B' || lpad(i::text, 10, '0'), col,
    CASE WHEN state NOT IN ('collected') THEN col + interval '1 day' END,
    CASE WHEN state NOT IN ('collected', 'forwarded') THEN col + interval '2 days' END,
    a.acc,
    CASE WHEN state IN ('decided', 'delivered', 'archived') THEN a.acc + interval '12 days' END,
    CASE WHEN state IN ('decided', 'delivered', 'archived') THEN 'approved' END,
    '',
    CASE WHEN state IN ('delivered', 'archived') THEN a.acc + interval '16 days' END,
    CASE WHEN state = 'archived' THEN a.acc + interval '20 days' END,
    CASE WHEN state IN ('rejected', 'withdrawn') THEN col + interval '3 days' END,
    '', 1
FROM (
    SELECT i, md5('c' || i)::uuid::text AS cid,
        ($1::text[])[1 + (i::bigint * 2654435761 % array_length($1::text[], 1))] AS w,
        ($2::text[])[1 + (i::bigint * 40503 % array_length($2::text[], 1))] AS d,
        1 + (i::bigint * 2246822519 % 10) AS mk,
        $5::timestamptz - ($3::bigint - i) * (interval '730 days' / $3::bigint) AS col,
        CASE WHEN i > $3::bigint - $4::bigint THEN
            CASE WHEN (i * 37) % 100 < 5 THEN 'collected' WHEN (i * 37) % 100 < 10 THEN 'forwarded'
                 WHEN (i * 37) % 100 < 20 THEN 'received' WHEN (i * 37) % 100 < 25 THEN 'supplement_requested'
                 WHEN (i * 37) % 100 < 65 THEN 'accepted' ELSE 'in_review' END
        ELSE
            CASE WHEN (i * 37) % 100 < 3 THEN 'rejected' WHEN (i * 37) % 100 < 5 THEN 'withdrawn'
                 WHEN (i * 37) % 100 < 70 THEN 'archived' WHEN (i * 37) % 100 < 85 THEN 'delivered'
                 ELSE 'decided' END
        END AS state
    FROM generate_series(1, $3::bigint) AS i
) g
CROSS JOIN LATERAL (
    SELECT CASE WHEN g.state IN ('accepted', 'in_review', 'decided', 'delivered', 'archived')
                THEN least(g.col + interval '2 days', $5::timestamptz) END AS acc
) a
CROSS JOIN LATERAL (
    SELECT x.m->>'id' AS mid, x.m AS terms
    FROM (SELECT ($6::json[])[CASE WHEN g.mk <= 6 THEN 1 WHEN g.mk <= 9 THEN 2 ELSE 3 END] AS m) x
) m;
"""
CHILDREN = [
    (
        "case_stages",
        """
INSERT INTO case_stages (case_id, seq, id, type, start_on, end_on, reason, legal_basis, opened_by, opened_at,
    expected_days, limit_days, closed_by, closed_at)
SELECT c.id, 1, 's-' || c.id, 'expert_review', s.start_on,
    CASE WHEN c.state = 'in_review' AND hashtext(c.id) % 2 = 0 THEN NULL
         WHEN s.start_on + 5 <= $1::date THEN s.start_on + 5 END,
    '专家评审', '行政许可法第四十五条', 'd', c.accepted_at, 5, NULL, NULL, NULL
FROM cases c
CROSS JOIN LATERAL (SELECT least((c.accepted_at AT TIME ZONE 'Asia/Shanghai')::date + 3, $1::date) AS start_on) s
WHERE c.accepted_at IS NOT NULL AND (c.state = 'in_review' OR abs(hashtext(c.id)) % 5 = 0);
""",
    ),
    (
        "case_extensions",
        """
INSERT INTO case_extensions (case_id, seq, days, approver, reason, on_date, at)
SELECT id, 1, 5, '分管领导', '情况复杂', (accepted_at AT TIME ZONE 'Asia/Shanghai')::date, accepted_at
FROM cases WHERE accepted_at IS NOT NULL AND abs(hashtext(id)) % 50 = 0;
""",
    ),
    (
        "case_supplements",
        """
INSERT INTO case_supplements (case_id, seq, items, due_on, requested_at, after_acceptance, supplied_at, stage_id)
SELECT id, 1, '["土地权属证明（原件）"]', (collected_at AT TIME ZONE 'Asia/Shanghai')::date + 10, collected_at,
    false, NULL, NULL
FROM cases WHERE state = 'supplement_requested';
""",
    ),
    (
        "packages",
        """
INSERT INTO packages (id, code, case_id, direction, medium, from_party, to_party, state, carrier, waybill, holder,
    exception_kind, created_at, last_movement_at, version, chain_length, chain_head)
SELECT md5('p' || id)::uuid::text, 'P' || substr(case_no, 2) || 'O', id, 'outbound', 'paper', window_office_id,
    department_office_id,
    CASE state WHEN 'collected' THEN (CASE WHEN abs(hashtext(id)) % 2 = 0 THEN 'sealed' ELSE 'created' END)
               WHEN 'forwarded' THEN 'in_transit' ELSE 'signed' END,
    'internal', NULL, '', NULL, collected_at, collected_at + interval '1 day', 1, 0, repeat('0', 64)
FROM cases
UNION ALL
SELECT md5('r' || id)::uuid::text, 'P' || substr(case_no, 2) || 'R', id, 'result', 'paper', department_office_id,
    window_office_id, 'signed', 'internal', NULL, '', NULL, decided_at, delivered_at, 1, 0, repeat('0', 64)
FROM cases WHERE state IN ('delivered', 'archived');
""",
    ),
    (
        "custody_events",
        f"""
INSERT INTO custody_events (package_id, seq, kind, from_party, to_party, actor, server_time, client_time, method,
    place, evidence, discrepancies, note, prev_hash, hash)
SELECT p.id, 1, 'handed_over', p.from_party, p.to_party, 'courier', p.last_movement_at, NULL, 'scan', '',
    '[]', '[]', '', repeat('0', 64), md5(p.id) || md5(p.code)
FROM packages p JOIN cases c ON c.id = p.case_id WHERE c.state IN {WATCHED} AND p.state <> 'created';
""",
    ),
    (
        "case_lead_copies",
        f"""
INSERT INTO case_lead_copies (case_id, seq, lead, note, copied_at, remark, remarked_at)
SELECT id, 1, 'lead-' || department_office_id, '请阅', collected_at + interval '2 days',
    CASE WHEN state IN {WATCHED} THEN '' ELSE '同意' END,
    CASE WHEN state IN {WATCHED} THEN NULL ELSE collected_at + interval '3 days' END
FROM cases WHERE abs(hashtext(id)) % 10 = 0;
""",
    ),
    (
        "case_clocks",
        f"""
INSERT INTO case_clocks (case_id, case_no, state, window_office_id, department_office_id, collected_on,
    forwarding_due_on, accepted_on, limit_days, legal_limit_days, decided_on, promised, due_on, used, remaining,
    paused, provisional, overdue, prereview_overdue, legal_overdue, supplement_due_on, watching, as_of, updated_at)
SELECT id, case_no, state, window_office_id, department_office_id, (collected_at AT TIME ZONE 'Asia/Shanghai')::date,
    (collected_at AT TIME ZONE 'Asia/Shanghai')::date + 2, (accepted_at AT TIME ZONE 'Asia/Shanghai')::date,
    (matter_terms->>'promised_limit')::int, (matter_terms->>'legal_limit')::int,
    (decided_at AT TIME ZONE 'Asia/Shanghai')::date,
    NULL, NULL, NULL, NULL, false, false, false, false, false,
    CASE WHEN state = 'supplement_requested' THEN (collected_at AT TIME ZONE 'Asia/Shanghai')::date + 10 END,
    state IN {WATCHED}, $1::date - 1, $2::timestamptz
FROM cases;
""",
    ),
]


async def generate(dsn: str, cases: int, open_cases: int) -> None:
    conn = await asyncpg.connect(dsn)
    terms = {m.id: json.dumps(matter_to_json(m), ensure_ascii=False) for m in MATTERS}
    chosen = [terms["m-jsgc-xk"], terms["m-spjy-xk"], terms["m-flzz-ys"]]
    await conn.execute("SET synchronous_commit = off")
    started = time.perf_counter()
    await conn.execute(WORLD, CITIES)
    await conn.execute(OFFICES, CITIES)
    windows = [f"bw-{c}{d}" for c in CITIES for d in range(71, 76)]
    departments = [f"bd-{c}00-{k}" for c in CITIES for k in range(1, 6)]
    await conn.execute(CASES, windows, departments, cases, open_cases, NOW, chosen)
    print(f"  cases: {cases:,} in {time.perf_counter() - started:5.1f} s", flush=True)
    today = NOW.date()
    for table, sql in CHILDREN:
        step = time.perf_counter()
        args: list[Any] = [today] if "$1" in sql else []
        if "$2" in sql:
            args.append(NOW)
        await conn.execute(sql, *args)
        count = await conn.fetchval(f"SELECT count(*) FROM {table}")
        print(f"  {table}: {count:,} in {time.perf_counter() - step:5.1f} s", flush=True)
    step = time.perf_counter()
    await conn.execute("VACUUM (ANALYZE)")
    print(f"  vacuum analyze: {time.perf_counter() - step:5.1f} s; all {time.perf_counter() - started:5.1f} s")
    await conn.close()


# =========================================================================== measuring


async def median_ms(run: Callable[[], Awaitable[object]], repeat: int = 3) -> float:
    await run()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def raw_limits(dsn: str) -> tuple[float, float]:
    """Median ms of a bare indexed LIMIT 51 on cases, and of a primary-key lookup (asyncpg)."""
    conn = await asyncpg.connect(dsn)
    page = await conn.prepare(
        "SELECT id, case_no, collected_at, state FROM cases ORDER BY collected_at DESC, id DESC LIMIT 51"
    )
    one = await conn.prepare("SELECT * FROM cases WHERE id = $1")
    ids = [r[0] for r in await conn.fetch("SELECT id FROM cases TABLESAMPLE SYSTEM (1) LIMIT 200")]
    pages, lookups = [], []
    for n in range(60):
        started = time.perf_counter()
        await page.fetch()
        pages.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        await one.fetchrow(ids[n % len(ids)])
        lookups.append((time.perf_counter() - started) * 1000)
    await conn.close()
    return statistics.median(pages[10:]), statistics.median(lookups[10:])


RAW_READ = (
    "SELECT case_id, collected_on, accepted_on, limit_days, decided_on, forwarding_due_on, promised, due_on, used, "
    "remaining, paused, provisional, overdue, legal_due_on, legal_overdue, as_of FROM case_clocks "
    "WHERE watching IS TRUE AND NOT (as_of = $1 AND forwarding_due_on < $2 AND limit_days IS NOT NULL "
    "AND legal_limit_days IS NOT NULL AND prereview_due_on IS NULL AND iou_due_on IS NULL "
    "AND coalesce(stage_limits::text, 'null') IN ('null', '[]') AND (accepted_on IS NULL OR (due_on IS NOT NULL "
    "AND due_on < $2 AND legal_due_on IS NOT NULL AND legal_due_on < $2 AND case_id <> ALL($3::varchar[]))))"
)
RAW_REACHING = (
    "SELECT DISTINCT case_id FROM case_stages WHERE end_on >= $1 OR (end_on IS NULL AND start_on >= $1) LIMIT 5001"
)
RAW_UPDATE = (
    "UPDATE case_clocks SET forwarding_due_on = v.f, promised = v.p, due_on = v.d, used = v.u, remaining = v.r, "
    "paused = v.pa, provisional = v.pr, overdue = v.o, legal_due_on = v.ld, legal_overdue = v.lo, as_of = v.a, "
    "updated_at = v.at FROM unnest($1::varchar[], $2::date[], $3::int[], $4::date[], $5::int[], $6::int[], "
    "$7::bool[], $8::bool[], $9::bool[], $10::date[], $11::bool[], $12::date[], $13::timestamptz[]) "
    "AS v(case_id, f, p, d, u, r, pa, pr, o, ld, lo, a, at) WHERE case_clocks.case_id = v.case_id"
)


async def raw_recompute(dsn: str, moved: int, changed_from: date) -> tuple[float, int, str]:
    """The same database work bare (asyncpg, one transaction, rolled back), for an upload that
    changed the calendar from ``changed_from`` on: the cases whose stages reach that date, the
    inputs of the open clock rows the upload can move (as worker/deadlines.py reads them), their
    stages and extensions by id array, and one UPDATE … FROM unnest of ``moved`` of them (their
    due dates from that date on a day later, the columns the recompute writes): median ms of 3
    after a warm-up, rows read, and EXPLAIN (ANALYZE, BUFFERS, WAL) of the UPDATE of one chunk."""
    conn = await asyncpg.connect(dsn)
    times, count, plan = [], 0, ""
    today = NOW.date()
    for _ in range(4):
        started = time.perf_counter()
        tr = conn.transaction()
        await tr.start()
        reaching = [r[0] for r in await conn.fetch(RAW_REACHING, changed_from)]
        rows = await conn.fetch(RAW_READ, today, changed_from, reaching)
        ids = [r[0] for r in rows if r[2] is not None]
        await conn.fetch(
            "SELECT case_id, type, start_on, end_on, limit_days FROM case_stages WHERE case_id = ANY($1) "
            "ORDER BY case_id, seq",
            ids,
        )
        await conn.fetch("SELECT case_id, days FROM case_extensions WHERE case_id = ANY($1) ORDER BY case_id, seq", ids)
        some = [r for r in rows if (r[7] or today) >= changed_from or (r[13] or today) >= changed_from][:moved]

        def later(day: date | None) -> date | None:
            return day + timedelta(days=1) if day is not None and day >= changed_from else day

        columns = [
            [r[0] for r in some],
            [r[5] for r in some],
            [r[6] for r in some],
            [later(r[7]) for r in some],
            *([r[i] for r in some] for i in (8, 9, 10, 11, 12)),
            [later(r[13]) for r in some],
            [r[14] for r in some],
            [r[15] for r in some],
            [NOW for _ in some],
        ]
        await conn.execute(RAW_UPDATE, *columns)
        times.append((time.perf_counter() - started) * 1000)
        await tr.rollback()
        count = len(rows)
    tr = conn.transaction()  # not timed: the plan of one chunk's write, rolled back
    await tr.start()
    chunk = [c[:BULK_CHUNK] for c in columns]
    plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS, WAL) " + RAW_UPDATE, *chunk))
    await tr.rollback()
    await conn.close()
    return statistics.median(times[1:]), count, plan


class Captured:
    """The last statement (and parameters) the engine sent: for EXPLAIN of what was measured."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.last: tuple[str, Any] | None = None
        event.listen(engine.sync_engine, "before_cursor_execute", self._on)

    def _on(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not statement.startswith("SELECT offices.id"):
            self.last = (statement, parameters)


async def dashboards(engine: AsyncEngine) -> list[tuple[str, float, float, tuple[str, Any]]]:
    """(name, ms, load, captured statement) for every dashboard query."""
    scopes = {
        "everything": reports.Scope(None, None),
        f"region {REGION}": reports.Scope(None, [REGION]),
        f"office {DEPARTMENT}": reports.Scope([DEPARTMENT], None),
    }
    captured = Captured(engine)
    results = []

    async def measure(name: str, run: Callable[[Any], Awaitable[object]]) -> None:
        async def once() -> object:
            async with engine.connect() as conn:
                return await run(conn)

        ms = await median_ms(once)
        assert captured.last is not None
        results.append((name, ms, load(), captured.last))
        print(f"  {name:<58} {ms:8.2f} ms   load {load():4.2f}", flush=True)

    for scope_name, scope in scopes.items():
        for kind in reports.BOARD_KINDS:
            async with engine.connect() as conn:
                rows = await reports.deadline_board(conn, scope, kind, 2001)
            deep = reports.decode_board_cursor(kind, reports.board_cursor(kind, rows[-1])) if len(rows) > 50 else None
            await measure(
                f"deadlines {kind}, {scope_name}, page 1",
                lambda conn, s=scope, k=kind: reports.deadline_board(conn, s, k, 51),
            )
            if deep is not None:
                await measure(
                    f"deadlines {kind}, {scope_name}, after {len(rows)} rows",
                    lambda conn, s=scope, k=kind, d=deep: reports.deadline_board(conn, s, k, 51, d),
                )
        office_ids, prefixes = scope.office_ids, scope.region_prefixes
        async with engine.connect() as conn:
            rows = await queries.ledger_page(conn, office_ids=office_ids, region_prefixes=prefixes, limit=2000)
        after = (rows[-1]["collected_at"], rows[-1]["id"])
        for label, cursor in (("page 1", None), (f"after {len(rows)} rows", after)):
            await measure(
                f"ledger, {scope_name}, {label}",
                lambda conn, o=office_ids, p=prefixes, c=cursor: queries.ledger_page(
                    conn, office_ids=o, region_prefixes=p, after=c, limit=51
                ),
            )
        async with engine.connect() as conn:
            rows = await reports.stalled_packages(conn, MOVED_BEFORE, scope, 2000)
        stalled_after = (rows[-1]["last_movement_at"], rows[-1]["id"]) if len(rows) > 50 else None
        for label, cursor in (("page 1", None), (f"after {len(rows)} rows", stalled_after)):
            if label != "page 1" and cursor is None:
                continue
            await measure(
                f"stalled packages, {scope_name}, {label}",
                lambda conn, s=scope, c=cursor: reports.stalled_packages(conn, MOVED_BEFORE, s, 51, c),
            )
    inbox_scope = ([DEPARTMENT], None)
    async with engine.connect() as conn:
        rows = await queries.lead_inbox(
            conn, lead=LEAD, office_ids=inbox_scope[0], region_prefixes=inbox_scope[1], limit=600
        )
    last = rows[-1]
    deep_inbox = (last["remarked_at"] is not None, last["copied_at"], last["case_id"], last["seq"])
    for label, cursor in (("page 1", None), (f"after {len(rows)} rows", deep_inbox)):
        await measure(
            f"lead inbox, {LEAD}, {label}",
            lambda conn, c=cursor: queries.lead_inbox(
                conn, lead=LEAD, office_ids=inbox_scope[0], region_prefixes=None, after=c, limit=51
            ),
        )
    await measure(
        f"lead inbox unremarked count, {LEAD}",
        lambda conn: queries.unremarked_count(conn, lead=LEAD, office_ids=inbox_scope[0], region_prefixes=None),
    )
    event.remove(engine.sync_engine, "before_cursor_execute", captured._on)
    return results


def shifted(schedule: Schedule, extra_holiday: date | None) -> Schedule:
    holidays = set(schedule.holidays) | ({extra_holiday} if extra_holiday else set())
    return Schedule(year=schedule.year, source="bench 调整", holidays=frozenset(holidays), workdays=schedule.workdays)


async def recompute_runs(engine: AsyncEngine, watcher: DeadlineWatcher, clock: Clock) -> list[tuple[float, int, float]]:
    """Upload a calendar that moves due dates (2026-12-01 off, then on again…) and time the
    recompute: (ms, rows written, load) per run."""
    [y2026] = [s for s in packaged_schedules() if s.year == 2026]
    runs = []
    for n, extra in enumerate([CHANGED_FROM, None, CHANGED_FROM, None]):
        clock.at = NOW + timedelta(seconds=n + 1)
        async with engine.begin() as conn:
            await queries.save_schedule(conn, shifted(y2026, extra), "bench", clock.at)
            await watcher.calendar.refresh(conn)
        vacuum = await asyncpg.connect(f"{PG}/{engine.url.database}")
        await vacuum.execute("VACUUM case_clocks")  # autovacuum's work between two uploads, not timed
        await vacuum.close()
        started = time.perf_counter()
        cases = await watcher.recompute_all()
        ms = (time.perf_counter() - started) * 1000
        async with engine.connect() as conn:
            written = (
                await conn.execute(select(func.count()).where(case_clocks.c.updated_at == clock.at))
            ).scalar_one()
        print(f"  recompute #{n}: {cases:,} open cases, {written:,} rows moved, {ms:8.0f} ms, load {load():4.2f}")
        if n:
            runs.append((ms, written, load()))
    return runs


async def explain(engine: AsyncEngine, statement: tuple[str, Any]) -> str:
    async with engine.connect() as conn:
        rows = await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement[0], statement[1])
        return "\n".join(r[0] for r in rows)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--db", help="reuse a database kept before (no generation)")
    parser.add_argument("--explain", type=int, default=3, help="EXPLAIN (ANALYZE, BUFFERS) of the N slowest")
    parser.add_argument(
        "--max-branches", type=int, default=reports.MAX_BRANCHES, help="offices read one by one up to (reports.py)"
    )
    parser.add_argument("--no-recompute", action="store_true", help="measure the dashboards only")
    parser.add_argument("--no-dashboards", action="store_true", help="measure the recompute only")
    args = parser.parse_args()
    reports.MAX_BRANCHES = args.max_branches
    name = args.db or f"bench_scale_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{PG}/postgres")
    dsn = f"{PG}/{name}"
    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", pool_size=4)
    clock = Clock()
    calendar = LiveCalendar()
    deps = Deps(clock=clock, calendar=calendar, tracking=TrackingTokens(b"t" * 32))
    watcher = DeadlineWatcher(
        engine, CIPHER, calendar, deps, lambda: SqlUnitOfWork(engine, CIPHER, write_outbox), DeadlineSettings()
    )
    try:
        if not args.db:
            await admin.execute(f'CREATE DATABASE "{name}"')
            print(f"scratch database {name}: migrating and generating {args.cases:,} cases", flush=True)
            await upgrade(engine)
            async with engine.begin() as conn:
                await load_demo_world(conn, NOW)  # the matters (and the demo's own offices)
            await generate(dsn, args.cases, args.cases // 10)
            async with engine.connect() as conn:
                await calendar.refresh(conn)
            started = time.perf_counter()
            count = await watcher.recompute_all()
            print(f"  first recompute (fills the clocks): {count:,} in {time.perf_counter() - started:5.1f} s")
            conn2 = await asyncpg.connect(dsn)
            await conn2.execute("VACUUM (ANALYZE) case_clocks")
            await conn2.close()
        async with engine.connect() as conn:
            await calendar.refresh(conn)
            sizes = {
                table: (await conn.exec_driver_sql(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("cases", "case_clocks", "packages", "case_stages", "case_lead_copies")
            }
            boards = {
                kind: (
                    await conn.exec_driver_sql(f"SELECT count(*) FROM case_clocks WHERE watching AND {cond}")
                ).scalar_one()
                for kind, cond in (
                    ("open", "true"),
                    ("overdue", "overdue"),
                    ("due_soon", "NOT overdue AND remaining IS NOT NULL"),
                    ("forwarding", "state IN ('collected', 'forwarded') AND forwarding_due_on < as_of"),
                )
            }
        print("rows: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
        print("clocks: " + ", ".join(f"{k} {v:,}" for k, v in boards.items()))

        raw_page, raw_pk = await raw_limits(dsn)
        print(
            f"raw (asyncpg, same run): indexed LIMIT 51 on cases {raw_page:.3f} ms, pk lookup {raw_pk:.3f} ms, "
            f"load {load():4.2f}"
        )
        print("dashboards (as the API runs them; median of 3 after a warm-up):", flush=True)
        measured = [] if args.no_dashboards else await dashboards(engine)
        print("recompute of every open clock after a calendar upload:", flush=True)
        runs = [] if args.no_recompute else await recompute_runs(engine, watcher, clock)
        moved_rows = int(statistics.median(r[1] for r in runs)) if runs else 0
        raw_ms, raw_rows, raw_plan = (
            (1.0, 0, "") if args.no_recompute else await raw_recompute(dsn, moved_rows, CHANGED_FROM)
        )

        print()
        print(f"{'figure':<60} {'ours ms':>9} {'raw ms':>8} {'ratio':>7} {'load':>5}")
        for label, ms, at_load, _ in measured:
            print(f"{label:<60} {ms:9.2f} {raw_page:8.3f} {ms / raw_page:6.1f}x {at_load:5.2f}")
        if runs:
            recompute_ms = statistics.median(r[0] for r in runs)
            moved = int(statistics.median(r[1] for r in runs))
            label = f"recompute {boards['open']:,} open clocks ({moved:,} moved)"
            at_load = statistics.median(r[2] for r in runs)
            print(f"{label:<60} {recompute_ms:9.0f} {raw_ms:8.0f} {recompute_ms / raw_ms:6.1f}x {at_load:5.2f}")
            print(
                f"  raw recompute = read the {raw_rows:,} open clock rows the upload can move (of {boards['open']:,}), "
                f"their stages and extensions, one UPDATE … FROM unnest of {moved_rows:,} rows (asyncpg, one "
                "transaction, rolled back)"
            )
            print(f"\nEXPLAIN (ANALYZE, BUFFERS, WAL) — the write of one chunk ({BULK_CHUNK:,} rows), rolled back:")
            print(raw_plan)
        slowest = sorted(measured, key=lambda m: m[1], reverse=True)[: args.explain]
        for label, ms, _, statement in slowest:
            print(f"\nEXPLAIN (ANALYZE, BUFFERS) — {label} ({ms:.2f} ms):")
            print(await explain(engine, statement))
    finally:
        await engine.dispose()
        if args.keep or args.db:
            print(f"\nkept database {name} (drop it: psql -h 127.0.0.1 -U postgres -c 'DROP DATABASE \"{name}\"')")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            print(f"\ndropped database {name}")
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
