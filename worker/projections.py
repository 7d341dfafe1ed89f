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
from adapters.db.locks import lock_for_transaction
from adapters.db.repositories import ConnectionReader
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
    ) -> None:
        self.engine = engine
        self.cipher = cipher
        self.calendar = calendar
        self.clock = clock
        self.interval: float | None = interval
        self.offices_ttl = offices_ttl
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
        """Recompute the facts of these cases, in one transaction (locks taken in id order, so two
        processes projecting overlapping batches cannot deadlock)."""
        today = local_date(self.clock.now())
        points = await self._office_points()
        async with self.engine.begin() as conn:
            for case_id in sorted(set(case_ids)):
                await self._project(conn, case_id, today, points)

    async def _project(self, conn: AsyncConnection, case_id: str, today: date, points: Mapping[str, Point]) -> None:
        await lock_for_transaction(conn, f"facts:{case_id}")
        case = await ConnectionReader(conn, self.cipher).cases.get(case_id)
        if case is None:
            return
        new = fact_row(case, self.calendar, today, points)
        old_row = (await conn.execute(select(case_facts).where(case_facts.c.case_id == case_id))).mappings().first()
        old = dict(old_row) if old_row is not None else None
        await _add(conn, new, contribution(new), contribution(old))
        await _add_stages(conn, new, old)
        values = {**new, "updated_at": self.clock.now()}
        if old is None:
            await conn.execute(case_facts.insert().values(**values))
        else:
            await conn.execute(case_facts.update().where(case_facts.c.case_id == case_id).values(**values))

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


def _upsert(conn: AsyncConnection) -> Any:
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


async def _add(conn: AsyncConnection, row: Mapping[str, Any], new: dict[str, float], old: dict[str, float]) -> None:
    delta = {k: new[k] - old[k] for k in new}
    if not any(delta.values()):
        return
    key = {
        "day": row["collected_on"],
        "window_office_id": row["window_office_id"],
        "department_office_id": row["department_office_id"],
    }
    insert = _upsert(conn)(indicator_days).values(**key, **delta)
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=list(key),
            set_={k: getattr(indicator_days.c, k) + getattr(insert.excluded, k) for k in delta},
        )
    )


async def _add_stages(conn: AsyncConnection, new: Mapping[str, Any], old: Mapping[str, Any] | None) -> None:
    before: dict[str, list[int]] = dict(old["stages"]) if old else {}
    after: dict[str, list[int]] = dict(new["stages"])
    for stage_type in sorted(set(before) | set(after)):
        b, a = before.get(stage_type, [0, 0, 0]), after.get(stage_type, [0, 0, 0])
        delta = {"stages": a[0] - b[0], "working_days": a[1] - b[1], "calendar_days": a[2] - b[2]}
        if not any(delta.values()):
            continue
        key = {
            "day": new["collected_on"],
            "window_office_id": new["window_office_id"],
            "department_office_id": new["department_office_id"],
            "stage_type": stage_type,
        }
        insert = _upsert(conn)(indicator_stage_days).values(**key, **delta)
        await conn.execute(
            insert.on_conflict_do_update(
                index_elements=list(key),
                set_={k: getattr(indicator_stage_days.c, k) + getattr(insert.excluded, k) for k in delta},
            )
        )
