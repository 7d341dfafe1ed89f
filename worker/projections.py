"""The indicator projection (seed 002's 评价指标): kept current from events, read in a few rows.

For each event of a case, its facts (handoff.stats.case_facts: accepted, decided, early, overdue,
trip saved, distance, rating, the special stages by type) are recomputed from the case itself, and
the difference from the facts stored before is added to the sums of the case's collection day and
(window, department) pair — ``indicator_days`` and ``indicator_stage_days``. A recomputation is
idempotent and order-free: a redelivered or late event adds zero. Facts that change with time
alone (a due date passing) are brought up to date by the periodic ``tick``. A withdrawn case
(or one closed for a supplement not brought) is finished: its clock froze on the date it ended
(``Case.clock``), so a later recomputation gives the same facts as the stats computed from the
case. The ``due_passed`` column holds ``CaseFacts.due_passed``: 超时未办结 (running, undecided and
overdue), the part of 应办结 that is not yet 办结.

The dashboard (GET /api/v1/indicators) adds up the rows of a period, grouped by day, month,
window, department or region, without reading a single case.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.broker.bus import Incoming
from adapters.calendar import LiveCalendar
from adapters.crypto import IdCipher
from adapters.db import domain_tables as t
from adapters.db.locks import lock_all_for_transaction
from adapters.db.repositories import ConnectionReader
from adapters.db.retry import ATTEMPTS, retry_conflicts
from adapters.db.worker_tables import INDICATOR_COUNTS, case_facts, indicator_days, indicator_stage_days
from handoff.case import Case, CaseState
from handoff.ports import Clock
from handoff.stats import Point
from handoff.stats import case_facts as facts_of
from handoff.timeutil import local_date
from worker.consumer import BatchEffects, affected_cases

CHUNK = 50
"""Cases recomputed per transaction when many are (a start, a new day, a calendar upload)."""
log = logging.getLogger("handoff.projections")

FINISHED = frozenset(
    {
        CaseState.DECIDED,
        CaseState.RESULT_SHIPPED,
        CaseState.READY_FOR_PICKUP,
        CaseState.DELIVERED,
        CaseState.ARCHIVED,
        CaseState.REJECTED,
        CaseState.CLOSED_UNSUPPLEMENTED,
        CaseState.WITHDRAWN,
    }
)


def fact_row(case: Case, calendar: LiveCalendar, today: date, points: Mapping[str, Point]) -> dict[str, Any]:
    facts = facts_of(case, calendar, today, points)
    reading = case.clock(calendar, today)
    stages: dict[str, list[int]] = {}
    for tally in reading.stages if reading else ():
        count, working, calendar_days = stages.get(tally.type, [0, 0, 0])
        stages[tally.type] = [count + 1, working + tally.working_days, calendar_days + tally.calendar_days]
    return {
        "case_id": case.id,
        "collected_on": local_date(case.collected_at),
        "window_office_id": case.window_office_id,
        "department_office_id": case.department_office_id,
        "accepted": facts.accepted,
        "decided": facts.decided,
        "due_passed": facts.due_passed,
        "early": facts.early,
        "overdue": facts.overdue,
        "trip_saved": facts.trip_saved,
        "distance_km": facts.distance_km,
        "rating": facts.rating,
        "bad_rating": facts.bad_rating,
        "rectified": facts.rectified,
        "stages": stages,
        "due_on": reading.due_date if reading else None,
        "open": case.state not in FINISHED,
        "as_of": today,
    }


def contribution(row: Mapping[str, Any] | None) -> dict[str, float]:
    """What one case adds to its day's sums (the fields of handoff.stats.Indicators)."""
    if row is None:
        return dict.fromkeys((*INDICATOR_COUNTS, "distance_saved_km"), 0)
    rated = row["rating"] is not None
    return {
        "cases": 1,
        "accepted": int(row["accepted"]),
        "decided": int(row["decided"]),
        "should_be_decided": int(row["decided"] or (row["accepted"] and row["due_passed"])),
        "early": int(row["early"]),
        "overdue": int(row["overdue"]),
        "trips_saved": int(row["trip_saved"]),
        "rated": int(rated),
        "rating_sum": int(row["rating"] or 0),
        "bad": int(row["bad_rating"]),
        "rectified": int(row["rectified"]),
        "distance_saved_km": float(row["distance_km"]),
    }


class Projector:
    """The ``projections`` consumer group (a :class:`worker.group.Worker`)."""

    def __init__(
        self,
        engine: AsyncEngine,
        cipher: IdCipher,
        calendar: LiveCalendar,
        clock: Clock,
        interval: float = 600.0,
        offices_ttl: float = 300.0,
        attempts: int = ATTEMPTS,
    ) -> None:
        self.engine = engine
        self.cipher = cipher
        self.calendar = calendar
        self.clock = clock
        self.interval: float | None = interval
        self.offices_ttl = offices_ttl
        self.attempts = attempts
        """How many times a projection meeting a deadlock runs (adapters/db/retry.py)."""
        self._points: dict[str, Point] = {}
        self._points_at = -1.0
        self.handle_batch = BatchEffects(engine, self.within, what="projection", attempts=attempts)
        """Messages that arrived together: each case among them projected once, in one transaction
        (with the ordering gate's positions, when the gate runs it: :meth:`within`)."""

    async def handle(self, message: Incoming) -> None:
        await self.handle_batch([message])

    async def within(self, conn: AsyncConnection, messages: Sequence[Incoming]) -> None:
        """Project the cases of these messages in the caller's transaction (see :meth:`_project`)."""
        _, case_ids = affected_cases(messages)
        if case_ids:
            today = local_date(self.clock.now())
            await self._project(conn, sorted(set(case_ids)), today, await self._office_points(conn))

    async def project(self, *case_ids: str) -> None:
        """Recompute the facts of these cases, in one transaction, run again if it meets a deadlock
        (see :meth:`_project`)."""
        ids = sorted(set(case_ids))
        if not ids:
            return
        today = local_date(self.clock.now())
        points = await self._office_points()

        async def once() -> None:
            async with self.engine.begin() as conn:
                await self._project(conn, ids, today, points)

        await retry_conflicts(once, what="projection", attempts=self.attempts)

    async def _project(
        self, conn: AsyncConnection, case_ids: Sequence[str], today: date, points: Mapping[str, Point]
    ) -> None:
        """Two processes projecting overlapping batches must not deadlock: every case's facts lock
        is taken first (in id order), every case's difference computed, and only then are the
        shared indicator rows written — the differences summed per row and written in one key
        order, one statement per table — and last the cases' own fact rows (one upsert). A fixed
        number of statements whatever the number of cases: the locks, the old facts, the cases
        (one statement, :meth:`SqlCases.get_many`), the two sums, the facts."""
        await lock_all_for_transaction(conn, [f"facts:{case_id}" for case_id in case_ids])
        olds = {
            str(row["case_id"]): dict(row)
            for row in (await conn.execute(_old_facts(conn), {"ids": list(case_ids)})).mappings()
        }
        cases = await ConnectionReader(conn, self.cipher).cases.get_many(case_ids)
        days: dict[tuple[Any, ...], dict[str, float]] = {}
        stages: dict[tuple[Any, ...], dict[str, int]] = {}
        news: list[dict[str, Any]] = []
        for case_id in case_ids:
            case = cases.get(case_id)
            if case is None:
                continue
            new = fact_row(case, self.calendar, today, points)
            old = olds.get(case_id)
            _add_days(days, new, +1)
            _add_stages(stages, new, +1)
            if old is not None:
                _add_days(days, old, -1)
                _add_stages(stages, old, -1)
            news.append(new)
        await _write_sums(conn, indicator_days, DAY_KEY, days)
        await _write_sums(conn, indicator_stage_days, STAGE_KEY, stages)
        if news:
            now = self.clock.now()
            await conn.execute(_facts_upsert(conn), [{**new, "updated_at": now} for new in news])

    async def recover(self) -> None:
        """Facts for cases that have none (registered before this projection existed)."""
        async with self.engine.connect() as conn:
            await self.calendar.refresh(conn)
            missing = list(
                (
                    await conn.execute(
                        select(t.cases.c.id)
                        .outerjoin(case_facts, case_facts.c.case_id == t.cases.c.id)
                        .where(case_facts.c.case_id.is_(None))
                    )
                ).scalars()
            )
        for start in range(0, len(missing), CHUNK):
            await self.project(*missing[start : start + CHUNK])
        if missing:
            log.info("projected cases that had no facts", extra={"cases": len(missing)})

    async def tick(self) -> None:
        """Open cases computed before today: their facts move with the date (a due date passing,
        the days of an open stage)."""
        today = local_date(self.clock.now())
        async with self.engine.connect() as conn:
            await self.calendar.refresh(conn)
            stale = list(
                (
                    await conn.execute(
                        select(case_facts.c.case_id).where(case_facts.c.open.is_(True), case_facts.c.as_of < today)
                    )
                ).scalars()
            )
        for start in range(0, len(stale), CHUNK):
            await self.project(*stale[start : start + CHUNK])

    async def _office_points(self, conn: AsyncConnection | None = None) -> dict[str, Point]:
        """The offices' places, read again every ``offices_ttl`` seconds (on ``conn`` if given)."""
        now = time.monotonic()
        if self._points_at < 0 or now - self._points_at > self.offices_ttl:
            query = select(t.offices.c.id, t.offices.c.lat, t.offices.c.lon)
            if conn is not None:
                rows = await conn.execute(query)
            else:
                async with self.engine.connect() as own:
                    rows = await own.execute(query)
            self._points = {r[0]: Point(r[1], r[2]) for r in rows}
            self._points_at = now
        return self._points


DAY_KEY = ("day", "window_office_id", "department_office_id")
STAGE_KEY = (*DAY_KEY, "stage_type")


def _add_days(sums: dict[tuple[Any, ...], dict[str, float]], row: Mapping[str, Any], sign: int) -> None:
    """Add (sign +1) or take away (-1) one case's contribution to the row of its day, window and
    department."""
    into = sums.setdefault((row["collected_on"], row["window_office_id"], row["department_office_id"]), {})
    for name, value in contribution(row).items():
        into[name] = into.get(name, 0) + sign * value


def _add_stages(sums: dict[tuple[Any, ...], dict[str, int]], row: Mapping[str, Any], sign: int) -> None:
    for stage_type, (count, working, calendar_days) in dict(row["stages"]).items():
        key = (row["collected_on"], row["window_office_id"], row["department_office_id"], stage_type)
        into = sums.setdefault(key, {"stages": 0, "working_days": 0, "calendar_days": 0})
        into["stages"] += sign * count
        into["working_days"] += sign * working
        into["calendar_days"] += sign * calendar_days


async def _write_sums(
    conn: AsyncConnection, table: Any, key: Sequence[str], sums: Mapping[tuple[Any, ...], Any]
) -> None:
    """Add the differences to their rows: one upsert statement (built once per table) executed
    for every row, rows in key order (every process locks them in the same order), the rows that
    do not change left alone."""
    rows = [
        {**dict(zip(key, k, strict=True)), **delta}
        for k, delta in sorted(sums.items(), key=lambda item: item[0])
        if any(delta.values())
    ]
    if not rows:
        return
    dialect = conn.dialect.name
    statement = _STATEMENTS.get((dialect, table.name))
    if statement is None:
        counts = [c.name for c in table.c if c.name not in key]
        insert = _upsert(conn)(table)
        statement = _STATEMENTS[(dialect, table.name)] = insert.on_conflict_do_update(
            index_elements=list(key),
            set_={name: getattr(table.c, name) + getattr(insert.excluded, name) for name in counts},
        )
    await conn.execute(statement, rows)


def _upsert(conn: AsyncConnection) -> Any:
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


_STATEMENTS: dict[tuple[str, str], Any] = {}


def _old_facts(conn: AsyncConnection) -> Any:
    """The stored facts of the cases ``:ids`` (one array parameter on PostgreSQL); built once."""
    dialect = conn.dialect.name
    found = _STATEMENTS.get((dialect, "old"))
    if found is None:
        if dialect == "postgresql":
            among = case_facts.c.case_id == any_(bindparam("ids", type_=ARRAY(String)))
        else:
            among = case_facts.c.case_id.in_(bindparam("ids", expanding=True))
        found = _STATEMENTS[(dialect, "old")] = select(case_facts).where(among)
    return found


def _facts_upsert(conn: AsyncConnection) -> Any:
    """Insert a case's facts or replace them: one statement, executed for many rows; built once."""
    dialect = conn.dialect.name
    found = _STATEMENTS.get((dialect, "upsert"))
    if found is None:
        insert = _upsert(conn)(case_facts)
        found = _STATEMENTS[(dialect, "upsert")] = insert.on_conflict_do_update(
            index_elements=[case_facts.c.case_id],
            set_={c.name: getattr(insert.excluded, c.name) for c in case_facts.c if c.name != "case_id"},
        )
    return found
