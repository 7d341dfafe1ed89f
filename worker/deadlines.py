"""The deadline watcher (DESIGN §5): the clocks of open cases as time passes.

Events keep ``case_clocks`` current: on any event of a case, its row is recomputed from the case
(due date as the calendar has it now, used / remaining working days, paused, the forwarding and
supplement dates). A ``calendar.updated`` event reloads the calendar and recomputes every watched
case — the stages are data, so paused time is never lost. The periodic scan (``tick``) moves the
rows to today and announces, once per occasion (``watch_announcements``), through the outbox:

* ``case.deadline_near`` at the configured thresholds of remaining working days (default 3 and 1;
  the most urgent threshold reached is announced, a moved due date is a new occasion);
* ``case.overdue`` when ``used > promised`` and the case is not decided;
* ``case.forwarding_overdue`` when the window's 2-working-day forwarding promise passed and the
  materials have not left the window;
* a supplement (before acceptance) whose due date passed closes the case as
  ``closed_unsupplemented`` (补正不来办结), through the case's own command, so its rules hold.

Every reading is a recomputation, so a redelivered or reordered event changes nothing; the
announcement keys make each notice happen once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import and_, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.broker.bus import Incoming
from adapters.calendar import LiveCalendar
from adapters.crypto import IdCipher
from adapters.db import domain_tables as t
from adapters.db.locks import lock_for_transaction
from adapters.db.repositories import ConnectionReader
from adapters.db.worker_tables import case_clocks
from handoff import events as ev
from handoff.case import UNDER_REVIEW, Case, CaseState
from handoff.clock import FORWARDING_LIMIT_DAYS, ClockBook, StagePeriod, forwarding_due
from handoff.errors import DomainError
from handoff.package import Direction, PackageState
from handoff.ports import UnitOfWork
from handoff.services import CaseCommand, Deps, dispatch
from handoff.timeutil import CHINA, local_date
from worker.announce import announce
from worker.consumer import affected_cases

CHUNK = 50
"""Cases recomputed per transaction when many are (a start, a new day, a calendar upload)."""
log = logging.getLogger("handoff.deadlines")
ACTOR = "system:deadlines"

WATCHED = frozenset(
    {
        CaseState.COLLECTED,
        CaseState.FORWARDED,
        CaseState.RECEIVED,
        CaseState.SUPPLEMENT_REQUESTED,
        CaseState.ACCEPTED,
        CaseState.IN_REVIEW,
    }
)
NOT_LEFT = (PackageState.CREATED.value, PackageState.SEALED.value)
"""An outbound package in these states is still at the window."""


@dataclass(frozen=True)
class DeadlineSettings:
    warn_days: tuple[int, ...] = (3, 1)
    scan_seconds: float = 300.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DeadlineSettings:
        from adapters.sms.settings import SettingsError

        raw = env.get("HANDOFF_DEADLINE_WARN_DAYS", "").strip()
        scan = env.get("HANDOFF_DEADLINE_SCAN_SECONDS", "").strip()
        try:
            days = tuple(sorted({int(p) for p in raw.split(",") if p.strip()})) if raw else cls.warn_days
            seconds = float(scan) if scan else cls.scan_seconds
        except ValueError as exc:
            raise SettingsError(
                "HANDOFF_DEADLINE_WARN_DAYS 应为逗号分隔的工作日数（如 3,1），HANDOFF_DEADLINE_SCAN_SECONDS 应为秒数"
            ) from exc
        if any(d < 0 or d > 30 for d in days) or seconds <= 0:
            raise SettingsError("HANDOFF_DEADLINE_WARN_DAYS 每项应在 0–30 之间，扫描间隔必须大于 0")
        return cls(warn_days=days, scan_seconds=seconds)


def clock_row(case: Case, calendar: LiveCalendar, today: date, now: datetime) -> dict[str, Any]:
    """What the watcher keeps of one case on ``today``."""
    reading = case.clock(calendar, today)
    collected_on = local_date(case.collected_at)
    supplement = case.open_supplement()
    return {
        "case_id": case.id,
        "case_no": case.case_no,
        "state": case.state.value,
        "window_office_id": case.window_office_id,
        "department_office_id": case.department_office_id,
        "collected_on": collected_on,
        "forwarding_due_on": forwarding_due(calendar, collected_on).due,
        "accepted_on": case.accepted_on,
        "promised": reading.promised if reading else None,
        "due_on": reading.due_date if reading else None,
        "used": reading.used if reading else None,
        "remaining": reading.remaining if reading else None,
        "paused": bool(reading and reading.paused),
        "provisional": bool(reading and reading.provisional),
        "overdue": bool(reading and reading.overdue and case.decided_at is None),
        "supplement_due_on": supplement.due_on if supplement and not supplement.after_acceptance else None,
        "watching": case.state in WATCHED,
        "as_of": today,
        "updated_at": now,
    }


def warning_due(remaining: int, thresholds: Sequence[int]) -> int | None:
    """The most urgent threshold that ``remaining`` has reached, or None."""
    reached = [t for t in thresholds if remaining <= t]
    return min(reached) if reached and remaining >= 0 else None


class DeadlineWatcher:
    """The ``deadlines`` consumer group (a :class:`worker.group.Worker`)."""

    def __init__(
        self,
        engine: AsyncEngine,
        cipher: IdCipher,
        calendar: LiveCalendar,
        deps: Deps,
        uow: Callable[[], UnitOfWork],
        settings: DeadlineSettings = DeadlineSettings(),
    ) -> None:
        self.engine = engine
        self.cipher = cipher
        self.calendar = calendar
        self.deps = deps
        self.uow = uow
        self.settings = settings
        self.interval: float | None = settings.scan_seconds

    def today(self) -> date:
        return local_date(self.deps.clock.now())

    # ------------------------------------------------------------------ events

    async def handle(self, message: Incoming) -> None:
        await self.handle_batch([message])

    async def handle_batch(self, messages: Sequence[Incoming]) -> None:
        """Messages that arrived together: each case among them is recomputed once (a reading
        is the case's state now, whatever event brought it)."""
        calendar_changed, case_ids = affected_cases(messages)
        if calendar_changed:
            async with self.engine.connect() as conn:
                await self.calendar.refresh(conn)
            count = await self.recompute_all()
            log.info("calendar changed: clocks recomputed", extra={"cases": count})
        if case_ids:
            await self.recompute(*case_ids)

    async def recompute(self, *case_ids: str) -> None:
        """Recompute the clocks of these cases, in one transaction (locks in id order)."""
        today, now = self.today(), self.deps.clock.now()
        async with self.engine.begin() as conn:
            await lock_clocks(conn, exclusive=False)
            reader = ConnectionReader(conn, self.cipher)
            for case_id in sorted(set(case_ids)):
                await lock_for_transaction(conn, f"clock:{case_id}")
                case = await reader.cases.get(case_id)
                if case is not None:
                    await _upsert(conn, clock_row(case, self.calendar, today, now))

    async def recompute_all(self, only_before: date | None = None, chunk_size: int = 0) -> int:
        """Recompute every watched case (or those last computed before ``only_before``), set-based:
        per chunk of ``chunk_size`` (:data:`BULK_CHUNK`) cases in id order, under one lock (:func:`lock_clocks`),
        one statement reads their inputs, three more their stages, extensions and supplements, the clocks
        are read from one :class:`ClockBook`, and one statement writes the rows that changed. The
        rows equal :func:`clock_row` of each case (``updated_at`` moves only when a row changes)."""
        today, now = self.today(), self.deps.clock.now()
        book = ClockBook(self.calendar.current, today)
        after, count = "", 0
        while True:
            async with self.engine.begin() as conn:
                await lock_clocks(conn, exclusive=True)
                chunk = await clock_inputs(conn, after, only_before, chunk_size or BULK_CHUNK)
                if not chunk:
                    return count
                rows = [(bulk_clock_row(i, book, today, now), i.current) for i in chunk]
                changed = [row for row, current in rows if _moved(row, current)]
                await write_clock_rows(conn, changed)
            count += len(chunk)
            after = chunk[-1].case_id

    # ------------------------------------------------------------------ start and scan

    async def recover(self) -> None:
        """Clocks for cases that have none (registered before this worker ran, or while it was
        down — their events are in the queue too, but the scan must not wait for them)."""
        async with self.engine.connect() as conn:
            await self.calendar.refresh(conn)
            missing = list(
                (
                    await conn.execute(
                        select(t.cases.c.id)
                        .outerjoin(case_clocks, case_clocks.c.case_id == t.cases.c.id)
                        .where(case_clocks.c.case_id.is_(None), t.cases.c.state.in_([s.value for s in WATCHED]))
                    )
                ).scalars()
            )
        for start in range(0, len(missing), CHUNK):
            await self.recompute(*missing[start : start + CHUNK])

    async def tick(self) -> None:
        await self.scan()

    async def scan(self) -> dict[str, int]:
        """Bring the clocks to today and announce what is due; returns what was done, by kind."""
        async with self.engine.connect() as conn:
            changed = await self.calendar.refresh(conn)
        today = self.today()
        await self.recompute_all(only_before=None if changed else today)
        done = {"warned": 0, "overdue": 0, "forwarding": 0, "closed": 0}
        async with self.engine.connect() as conn:
            rows = [
                dict(r)
                for r in (await conn.execute(select(case_clocks).where(case_clocks.c.watching.is_(True)))).mappings()
            ]
        for row in rows:
            if row["due_on"] is not None and not row["paused"] and not row["overdue"]:
                threshold = warning_due(row["remaining"], self.settings.warn_days)
                if threshold is not None:
                    done["warned"] += await announce(
                        self.engine,
                        f"warn:{row['case_id']}:{threshold}:{row['due_on']}",
                        ev.DeadlineNear(
                            occurred_at=self.deps.clock.now(),
                            actor=ACTOR,
                            case_id=row["case_id"],
                            due_on=row["due_on"],
                            remaining=row["remaining"],
                            department_office_id=row["department_office_id"],
                        ),
                    )
            if row["overdue"]:
                done["overdue"] += await announce(
                    self.engine,
                    f"overdue:{row['case_id']}:{row['due_on']}",
                    ev.CaseOverdue(
                        occurred_at=self.deps.clock.now(),
                        actor=ACTOR,
                        case_id=row["case_id"],
                        due_on=row["due_on"],
                        used=row["used"],
                        promised=row["promised"],
                        department_office_id=row["department_office_id"],
                    ),
                )
            if (
                row["state"] in (CaseState.COLLECTED.value, CaseState.FORWARDED.value)
                and row["forwarding_due_on"] < today
                and not await self._materials_left(row["case_id"])
            ):
                done["forwarding"] += await announce(
                    self.engine,
                    f"forwarding:{row['case_id']}",
                    ev.ForwardingOverdue(
                        occurred_at=self.deps.clock.now(),
                        actor=ACTOR,
                        case_id=row["case_id"],
                        due_on=row["forwarding_due_on"],
                        window_office_id=row["window_office_id"],
                    ),
                )
            due = row["supplement_due_on"]
            if row["state"] == CaseState.SUPPLEMENT_REQUESTED.value and due is not None and due < today:
                done["closed"] += await self._close_unsupplemented(row["case_id"])
        return done

    async def _materials_left(self, case_id: str) -> bool:
        async with self.engine.connect() as conn:
            states = list(
                (
                    await conn.execute(
                        select(t.packages.c.state).where(
                            t.packages.c.case_id == case_id, t.packages.c.direction == Direction.OUTBOUND.value
                        )
                    )
                ).scalars()
            )
        return any(s not in NOT_LEFT for s in states)

    async def _close_unsupplemented(self, case_id: str) -> int:
        try:
            await dispatch(
                CaseCommand(case_id=case_id, name="close_unsupplemented", actor=ACTOR), self.uow(), self.deps
            )
        except DomainError as exc:
            # Supplied, withdrawn or closed meanwhile: the case's own guard said no, and that is right.
            log.info("not closed as unsupplemented", extra={"case_id": case_id, "reason": exc.title})
            await self.recompute(case_id)
            return 0
        log.info("closed as unsupplemented", extra={"case_id": case_id})
        return 1


# --------------------------------------------------------------------------- set-based recompute

BULK_CHUNK = 5000
"""Cases whose clocks one transaction of :meth:`DeadlineWatcher.recompute_all` recomputes."""
_SUPPLEMENT_OPEN = frozenset({CaseState.SUPPLEMENT_REQUESTED.value, *(s.value for s in UNDER_REVIEW)})
_COMPARED = tuple(c.name for c in case_clocks.columns if c.name != "updated_at")
_compared = itemgetter(*_COMPARED)
_CLOCKS_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('case_clocks', 0))")
_CLOCKS_LOCK_SHARED = text("SELECT pg_advisory_xact_lock_shared(hashtextextended('case_clocks', 0))")


async def lock_clocks(conn: AsyncConnection, *, exclusive: bool) -> None:
    """The clock rows as a whole, until the transaction ends: shared by the per-case recomputes
    (which also lock each case), exclusive for a chunk of the set-based one — one lock per chunk,
    so that no reading of a case committed in between is overwritten by an older one. SQLite has
    one writer: nothing to do there."""
    if conn.dialect.name == "postgresql":
        await conn.execute(_CLOCKS_LOCK if exclusive else _CLOCKS_LOCK_SHARED)


@dataclass
class ClockInputs:
    """What the clock row of one case is computed from (its row in ``cases`` and children), and
    the row as it stands."""

    case_id: str
    case_no: str
    state: str
    window_office_id: str
    department_office_id: str
    collected_at: datetime
    accepted_at: datetime | None
    decided_at: datetime | None
    limit: int
    current: tuple[Any, ...]
    stages: list[StagePeriod]
    extensions: list[int]
    supplement: tuple[date, bool] | None = None
    """(due date, after acceptance) of the case's last supplement request while unsupplied."""


async def clock_inputs(conn: AsyncConnection, after: str, only_before: date | None, limit: int) -> list[ClockInputs]:
    """The clock inputs of the next ``limit`` watched cases after ``after`` (by id): the caller
    holds the exclusive :func:`lock_clocks`."""
    c = t.cases.c
    watched: Any = and_(case_clocks.c.watching.is_(True), case_clocks.c.case_id > after)
    if only_before is not None:
        watched = and_(watched, case_clocks.c.as_of < only_before)
    query = (
        select(
            case_clocks,
            c.case_no.label("c_case_no"),
            c.state.label("c_state"),
            c.window_office_id.label("c_window"),
            c.department_office_id.label("c_department"),
            c.collected_at,
            c.accepted_at,
            c.decided_at,
            c.matter_terms["promised_limit"].as_integer().label("c_limit"),
        )
        .join(t.cases, c.id == case_clocks.c.case_id)
        .where(watched)
        .order_by(case_clocks.c.case_id)
        .limit(limit)
    )
    found: dict[str, ClockInputs] = {}
    for m in (await conn.execute(query)).mappings():
        found[m["case_id"]] = ClockInputs(
            case_id=m["case_id"],
            case_no=m["c_case_no"] or "",
            state=m["c_state"],
            window_office_id=m["c_window"],
            department_office_id=m["c_department"],
            collected_at=m["collected_at"],
            accepted_at=m["accepted_at"],
            decided_at=m["decided_at"],
            limit=int(m["c_limit"]),
            current=_compared(m),
            stages=[],
            extensions=[],
        )
    if not found:
        return []
    last = max(found)
    ids = select(case_clocks.c.case_id).where(watched, case_clocks.c.case_id <= last).scalar_subquery()
    stages, extensions, supplements = t.case_stages, t.case_extensions, t.case_supplements
    for r in await conn.execute(
        select(stages.c.case_id, stages.c.type, stages.c.start_on, stages.c.end_on, stages.c.limit_days)
        .where(stages.c.case_id.in_(ids))
        .order_by(stages.c.case_id, stages.c.seq)
    ):
        if r[0] in found:
            found[r[0]].stages.append(StagePeriod(type=r[1], start=r[2], end=r[3], limit=r[4]))
    for e in await conn.execute(
        select(extensions.c.case_id, extensions.c.days)
        .where(extensions.c.case_id.in_(ids))
        .order_by(extensions.c.case_id, extensions.c.seq)
    ):
        if e[0] in found:
            found[e[0]].extensions.append(e[1])
    for p in await conn.execute(
        select(supplements.c.case_id, supplements.c.due_on, supplements.c.after_acceptance, supplements.c.supplied_at)
        .where(supplements.c.case_id.in_(ids))
        .order_by(supplements.c.case_id, supplements.c.seq)
    ):
        if p[0] in found:  # the last request counts, and only while it is not supplied
            found[p[0]].supplement = (p[1], p[2]) if p[3] is None else None
    return [found[case_id] for case_id in sorted(found)]


def bulk_clock_row(i: ClockInputs, book: ClockBook, today: date, now: datetime) -> dict[str, Any]:
    """:func:`clock_row` of the case that ``i`` describes, read from ``book``."""
    accepted_on = _local_date(i.accepted_at) if i.accepted_at else None
    reading = None
    if accepted_on is not None:
        reading = book.read(
            accepted_on=accepted_on,
            limit=i.limit,
            at=max(today, accepted_on),
            stages=i.stages,
            extensions=i.extensions,
            decided_on=_local_date(i.decided_at) if i.decided_at else None,
        )
    collected_on = _local_date(i.collected_at)
    supplement = i.supplement if i.state in _SUPPLEMENT_OPEN else None
    return {
        "case_id": i.case_id,
        "case_no": i.case_no,
        "state": i.state,
        "window_office_id": i.window_office_id,
        "department_office_id": i.department_office_id,
        "collected_on": collected_on,
        "forwarding_due_on": book.add_working_days(collected_on, FORWARDING_LIMIT_DAYS).due,
        "accepted_on": accepted_on,
        "promised": reading.promised if reading else None,
        "due_on": reading.due_date if reading else None,
        "used": reading.used if reading else None,
        "remaining": reading.remaining if reading else None,
        "paused": bool(reading and reading.paused),
        "provisional": bool(reading and reading.provisional),
        "overdue": bool(reading and reading.overdue and i.decided_at is None),
        "supplement_due_on": supplement[0] if supplement and not supplement[1] else None,
        "watching": i.state in _WATCHED_VALUES,
        "as_of": today,
        "updated_at": now,
    }


_WATCHED_VALUES = frozenset(s.value for s in WATCHED)


def _local_date(at: datetime) -> date:
    """:func:`local_date` of a time read from a UtcDateTime column (aware, so one conversion)."""
    return at.astimezone(CHINA).date()


def _moved(row: dict[str, Any], current: tuple[Any, ...]) -> bool:
    return bool(_compared(row) != current)


_PG_COLUMNS = (
    ("case_no", "varchar"),
    ("state", "varchar"),
    ("window_office_id", "varchar"),
    ("department_office_id", "varchar"),
    ("collected_on", "date"),
    ("forwarding_due_on", "date"),
    ("accepted_on", "date"),
    ("promised", "integer"),
    ("due_on", "date"),
    ("used", "integer"),
    ("remaining", "integer"),
    ("paused", "boolean"),
    ("provisional", "boolean"),
    ("overdue", "boolean"),
    ("supplement_due_on", "date"),
    ("watching", "boolean"),
    ("as_of", "date"),
    ("updated_at", "timestamptz"),
)
_PG_UPDATE = text(
    "UPDATE case_clocks SET "
    + ", ".join(f"{name} = v.{name}" for name, _ in _PG_COLUMNS)
    + " FROM unnest(CAST(:case_id AS varchar[]), "
    + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _PG_COLUMNS)
    + ") AS v(case_id, "
    + ", ".join(name for name, _ in _PG_COLUMNS)
    + ") WHERE case_clocks.case_id = v.case_id"
)


async def write_clock_rows(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Write recomputed clock rows over their existing rows: one ``UPDATE … FROM unnest(…)`` on
    PostgreSQL, an executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        columns = {name: [row[name] for row in rows] for name in ("case_id", *(n for n, _ in _PG_COLUMNS))}
        await conn.execute(_PG_UPDATE, columns)
        return
    keyed = [{**row, "b_case_id": row["case_id"]} for row in rows]
    names = [c.name for c in case_clocks.columns if c.name != "case_id"]
    await conn.execute(
        update(case_clocks)
        .where(case_clocks.c.case_id == bindparam("b_case_id"))
        .values({name: bindparam(name) for name in names}),
        keyed,
    )


async def _upsert(conn: AsyncConnection, row: dict[str, Any]) -> None:
    done = await conn.execute(update(case_clocks).where(case_clocks.c.case_id == row["case_id"]).values(**row))
    if done.rowcount == 0:
        await conn.execute(case_clocks.insert().values(**row))
