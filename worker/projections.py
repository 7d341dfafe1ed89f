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

from sqlalchemy import select
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
from worker.consumer import affected_cases

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

    async def handle(self, message: Incoming) -> None:
        await self.handle_batch([message])

    async def handle_batch(self, messages: Sequence[Incoming]) -> None:
        """Messages that arrived together: each case among them is projected once."""
        _, case_ids = affected_cases(messages)
        if case_ids:
            await self.project(*case_ids)

    async def project(self, *case_ids: str) -> None:
        """Recompute the facts of these cases, in one transaction, run again if it meets a deadlock
        (see :meth:`_project`)."""
        ids = sorted(set(case_ids))
        if not ids:
            return
        today = local_date(self.clock.now())
        points = await self._office_points()
        await retry_conflicts(lambda: self._project(ids, today, points), what="projection", attempts=self.attempts)

    async def _project(self, case_ids: Sequence[str], today: date, points: Mapping[str, Point]) -> None:
        """Two processes projecting overlapping batches must not deadlock: every case's facts lock
        is taken first (in id order), every case's difference computed, and only then are the
        shared indicator rows written — the differences summed per row and written in one key
        order, one statement per table — and last the cases' own fact rows."""
        async with self.engine.begin() as conn:
            await lock_all_for_transaction(conn, [f"facts:{case_id}" for case_id in case_ids])
            reader = ConnectionReader(conn, self.cipher)
            olds = {
                str(row["case_id"]): dict(row)
                for row in (await conn.execute(select(case_facts).where(case_facts.c.case_id.in_(case_ids)))).mappings()
            }
            days: dict[tuple[Any, ...], dict[str, float]] = {}
            stages: dict[tuple[Any, ...], dict[str, int]] = {}
            news: list[dict[str, Any]] = []
            for case_id in case_ids:
                case = await reader.cases.get(case_id)
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
            now = self.clock.now()
            inserts = [{**new, "updated_at": now} for new in news if new["case_id"] not in olds]
            if inserts:
                await conn.execute(case_facts.insert(), inserts)
            for new in news:
                if new["case_id"] in olds:
                    await conn.execute(
                        case_facts.update().where(case_facts.c.case_id == new["case_id"]).values(**new, updated_at=now)
                    )

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

    async def _office_points(self) -> dict[str, Point]:
        now = time.monotonic()
        if self._points_at < 0 or now - self._points_at > self.offices_ttl:
            async with self.engine.connect() as conn:
                rows = await conn.execute(select(t.offices.c.id, t.offices.c.lat, t.offices.c.lon))
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
    """Add the differences to their rows: one multi-row upsert, rows in key order (every process
    locks them in the same order), the rows that do not change left alone."""
    rows = [
        {**dict(zip(key, k, strict=True)), **delta}
        for k, delta in sorted(sums.items(), key=lambda item: item[0])
        if any(delta.values())
    ]
    if not rows:
        return
    counts = [name for name in rows[0] if name not in key]
    insert = _upsert(conn)(table).values(rows)
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=list(key),
            set_={name: getattr(table.c, name) + getattr(insert.excluded, name) for name in counts},
        )
    )


def _upsert(conn: AsyncConnection) -> Any:
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
