"""The deadline watcher (DESIGN §5): the clocks of open cases as time passes.

Events keep ``case_clocks`` current: on any event of a case, its row is recomputed from the case
(due date as the calendar has it now, used / remaining working days, paused, the forwarding and
supplement dates). A ``calendar.updated`` event reloads the calendar and recomputes every watched
case — the stages are data, so paused time is never lost. The periodic scan (``tick``) moves the
rows to today and announces, once per occasion (``watch_announcements``), through the outbox:

* ``case.deadline_near`` at the configured thresholds of remaining working days (default 3 and 1;
  the most urgent threshold reached is announced, a moved due date is a new occasion);
* ``case.overdue`` when ``used > promised`` and the case is not decided;
* ``case.legal_overdue`` when ``used`` passed the legal limit (法定期限) and the case is not decided;
* ``case.forwarding_overdue`` when the window's 2-working-day forwarding promise (Appendix A:
  "2 日内转报到审批部门") passed and the department has not signed for the materials — the promise
  ends at the department's signature (the case ``received``), not when the package leaves;
* ``case.prereview_overdue`` when the department signed for the materials and has not accepted,
  rejected or asked for a supplement within ``HANDOFF_PREREVIEW_DAYS`` working days (预审, default 3;
  a supplement supplied before acceptance starts a new pre-review, a new occasion);
* ``case.iou_due_soon`` when 容缺 materials are still owed and at most 2 working days remain to their
  due date (the applicant is reminded), ``case.iou_overdue`` once that date has passed (the window);
* ``stage.limit_reached`` when an open special stage has run the working days of its own limit
  (the matter's ``stage_limits``), once per stage;
* a supplement whose due date passed — asked before acceptance, or the open ``supplement`` stage
  after it — closes the case as ``closed_unsupplemented`` (补正不来办结), through the case's own
  command, so its rules hold.

Each tick also makes the day's custody checkpoint (DESIGN §12) when the watcher has a signer and
none was made yet that day in China: one a day however many workers tick (adapters/db/checkpoints.py).

Every reading is a recomputation, so a redelivered or reordered event changes nothing; the
announcement keys make each notice happen once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, Text, and_, any_, bindparam, cast, false, func, not_, or_, select, text, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.broker.bus import Incoming
from adapters.calendar import LiveCalendar
from adapters.crypto import IdCipher
from adapters.db import checkpoints
from adapters.db import domain_tables as t
from adapters.db.repositories import ConnectionReader
from adapters.db.retry import retry_conflicts
from adapters.db.worker_tables import case_clocks
from handoff import events as ev
from handoff.calendar import ScheduleCalendar, first_difference
from handoff.case import PREREVIEW_DAYS, Case, CaseState
from handoff.clock import (
    FORWARDING_LIMIT_DAYS,
    ClockBook,
    StagePeriod,
    add_working_days,
    forwarding_due,
    workday_rank,
    working_days_between,
)
from handoff.custody import Checkpoint, CheckpointSigner
from handoff.errors import DomainError
from handoff.ports import Calendar, UnitOfWork
from handoff.services import CaseCommand, Deps, dispatch
from handoff.timeutil import local_date
from worker.announce import announce
from worker.consumer import BatchEffects, affected_cases

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
SUPPLEMENT_WAITS = (CaseState.SUPPLEMENT_REQUESTED.value, CaseState.ACCEPTED.value, CaseState.IN_REVIEW.value)
"""States in which an open supplement (before or after acceptance) may run out."""
NOT_SIGNED = (CaseState.COLLECTED.value, CaseState.FORWARDED.value)
"""The department has not signed for the materials yet: the forwarding promise still runs."""
IOU_REMINDER_DAYS = 2
"""The applicant is reminded of 容缺 materials owed when this many working days remain."""


@dataclass(frozen=True)
class DeadlineSettings:
    warn_days: tuple[int, ...] = (3, 1)
    scan_seconds: float = 300.0
    prereview_days: int = PREREVIEW_DAYS
    """预审: working days from the department's signature to accept / reject / supplement."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DeadlineSettings:
        from adapters.sms.settings import SettingsError

        raw = env.get("HANDOFF_DEADLINE_WARN_DAYS", "").strip()
        scan = env.get("HANDOFF_DEADLINE_SCAN_SECONDS", "").strip()
        prereview = env.get("HANDOFF_PREREVIEW_DAYS", "").strip()
        try:
            prereview_days = int(prereview) if prereview else cls.prereview_days
        except ValueError as exc:
            raise SettingsError(f"HANDOFF_PREREVIEW_DAYS 应为工作日数（1–60），而不是“{prereview}”") from exc
        if not 1 <= prereview_days <= 60:
            raise SettingsError(f"HANDOFF_PREREVIEW_DAYS 应在 1–60 个工作日之间，而不是 {prereview_days}")
        try:
            days = tuple(sorted({int(p) for p in raw.split(",") if p.strip()})) if raw else cls.warn_days
            seconds = float(scan) if scan else cls.scan_seconds
        except ValueError as exc:
            raise SettingsError(
                "HANDOFF_DEADLINE_WARN_DAYS 应为逗号分隔的工作日数（如 3,1），HANDOFF_DEADLINE_SCAN_SECONDS 应为秒数"
            ) from exc
        if any(d < 0 or d > 30 for d in days) or seconds <= 0:
            raise SettingsError("HANDOFF_DEADLINE_WARN_DAYS 每项应在 0–30 之间，扫描间隔必须大于 0")
        return cls(warn_days=days, scan_seconds=seconds, prereview_days=prereview_days)


def reminder_day(calendar: Calendar, due_on: date, days: int = IOU_REMINDER_DAYS) -> date:
    """The first date from which at most ``days`` working days remain up to ``due_on`` (the due
    day counted, today not): for a Friday due date and 2 days, the Wednesday before."""
    day = due_on
    for _ in range(366):
        if working_days_between(calendar, day - timedelta(days=1), due_on) > days:
            return day
        day -= timedelta(days=1)
    return day


def clock_row(
    case: Case, calendar: LiveCalendar, today: date, now: datetime, prereview_days: int = PREREVIEW_DAYS
) -> dict[str, Any]:
    """What the watcher keeps of one case on ``today``."""
    reading = case.clock(calendar, today)
    collected_on = local_date(case.collected_at)
    supplement = case.open_supplement()
    # The pre-review runs while the case waits, signed for, for the department's first word.
    prereview_due = case.prereview_due_on(calendar, prereview_days) if case.state is CaseState.RECEIVED else None
    owed = sorted(case.outstanding_ious(), key=lambda i: (i.due_on, i.material))
    due_on = reading.due_date if reading else None
    legal_due_on = reading.legal_due_date if reading else None
    return {
        "case_id": case.id,
        "case_no": case.case_no,
        "state": case.state.value,
        "window_office_id": case.window_office_id,
        "department_office_id": case.department_office_id,
        "collected_on": collected_on,
        "forwarding_due_on": forwarding_due(calendar, collected_on).due,
        "accepted_on": case.accepted_on,
        "limit_days": case.matter.clock_limit,
        "legal_limit_days": case.matter.legal_limit,
        "decided_on": case.decided_on,
        "promised": reading.promised if reading else None,
        "due_on": due_on,
        "due_rank": None if due_on is None else workday_rank(calendar.current, due_on),
        "used": reading.used if reading else None,
        "remaining": reading.remaining if reading else None,
        "paused": bool(reading and reading.paused),
        "provisional": bool(reading and reading.provisional),
        "overdue": bool(reading and reading.overdue and case.decided_at is None),
        "supplement_due_on": supplement.due_on if supplement else None,
        "prereview_due_on": prereview_due,
        "prereview_overdue": prereview_due is not None and case.prereview_overdue(calendar, today, prereview_days),
        "legal_due_on": legal_due_on,
        "legal_due_rank": None if legal_due_on is None else workday_rank(calendar.current, legal_due_on),
        "legal_overdue": bool(reading and reading.legal_overdue and case.decided_at is None),
        "iou_due_on": owed[0].due_on if owed else None,
        "ious_owed": [
            {
                "material": i.material,
                "due_on": i.due_on.isoformat(),
                "remind_on": reminder_day(calendar, i.due_on).isoformat(),
            }
            for i in owed
        ],
        "stage_limits": [
            {
                "stage_id": s.id,
                "stage_type": s.type.value,
                "start_on": s.start_on.isoformat(),
                "limit": s.limit,
                "reached_on": add_working_days(calendar, s.start_on, s.limit).due.isoformat(),
            }
            for s in case.open_stages()
            if s.limit is not None
        ],
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
        checkpoint_signer: CheckpointSigner | None = None,
    ) -> None:
        self.engine = engine
        self.checkpoint_signer = checkpoint_signer
        self.cipher = cipher
        self.calendar = calendar
        self.deps = deps
        self.uow = uow
        self.settings = settings
        self.interval: float | None = settings.scan_seconds
        self._settled: ScheduleCalendar | None = None
        """The calendar of the last full :meth:`recompute_all` (every watched row current with it)."""
        self.handle_batch = BatchEffects(engine, self.within, self.before, what="clock recomputation")
        """Messages that arrived together (:meth:`before`, then :meth:`within` in one transaction:
        with the ordering gate's positions, when the gate runs it)."""

    def today(self) -> date:
        return local_date(self.deps.clock.now())

    # ------------------------------------------------------------------ events

    async def handle(self, message: Incoming) -> None:
        await self.handle_batch([message])

    async def before(self, messages: Sequence[Incoming]) -> None:
        """Outside the batch's transaction, before it: a calendar upload among the messages reloads
        the calendar and recomputes every watched case (chunk by chunk, each under the exclusive
        clocks lock — which the batch's own transaction, holding the shared one, could not take)."""
        calendar_changed, _ = affected_cases(messages)
        if calendar_changed:
            async with self.engine.connect() as conn:
                await self.calendar.refresh(conn)
            count = await self.recompute_all()
            log.info("calendar changed: clocks recomputed", extra={"cases": count})

    async def within(self, conn: AsyncConnection, messages: Sequence[Incoming]) -> None:
        """The cases of these messages recomputed once each (a reading is the case's state now,
        whatever event brought it), in the caller's transaction (see :meth:`_recompute`)."""
        _, case_ids = affected_cases(messages)
        if case_ids:
            await self._recompute(conn, case_ids)

    async def recompute(self, *case_ids: str) -> None:
        """Recompute the clocks of these cases, in one transaction (locks in id order), run again
        if it meets a deadlock (adapters/db/retry.py)."""

        async def once() -> None:
            async with self.engine.begin() as conn:
                await self._recompute(conn, case_ids)

        await retry_conflicts(once, what="clock recomputation")

    async def _recompute(self, conn: AsyncConnection, case_ids: Sequence[str]) -> None:
        """The clocks lock shared, every case's clock lock in id order, the cases read in one
        statement, their rows written with one upsert: a fixed number of statements whatever the
        number of cases."""
        ids = sorted(set(case_ids))
        if not ids:
            return
        today, now = self.today(), self.deps.clock.now()
        await lock_clocks(conn, exclusive=False, cases=ids)
        cases = await ConnectionReader(conn, self.cipher).cases.get_many(ids)
        rows = [
            clock_row(cases[case_id], self.calendar, today, now, self.settings.prereview_days)
            for case_id in ids
            if case_id in cases
        ]
        await upsert_clock_rows(conn, rows)

    async def recompute_all(self, only_before: date | None = None, chunk_size: int = 0) -> int:
        """Recompute every watched case (or those last computed before ``only_before``), set-based:
        per chunk of ``chunk_size`` (:data:`BULK_CHUNK`) cases in id order, under one lock
        (:func:`lock_clocks`), one statement reads their clock rows (which keep what the clock needs
        of the case: acceptance and decision dates, limit), two more their stages and extensions;
        the clocks are read from one :class:`ClockBook`; one ``UPDATE`` writes the calendar's fields
        of the rows that changed. The rows equal :func:`clock_row` of each case: every event of a
        case recomputes its row from the case, so the row is current; a row written before rows
        kept the limit is recomputed from its case. ``updated_at`` moves only when a row changes.

        After a full run the watcher remembers its calendar; the next full run (a calendar upload)
        reads only the rows that the upload can move (:class:`CalendarUpload`): a row read today
        whose clock windows all end before the first date on which the two calendars differ
        (:func:`handoff.calendar.first_difference`) reads the same on both. A process's first run,
        and the one after a run that failed part way, reads every watched row."""
        today, now = self.today(), self.deps.clock.now()
        calendar = self.calendar.current
        changed_from: date | None = None
        settled, self._settled = self._settled, None  # known again once this run has gone through
        if only_before is None and settled is not None:
            changed_from = first_difference(settled, calendar) or date.max
        elif only_before is not None and settled is calendar:
            self._settled = settled  # rows behind today are brought to the same calendar
        book = ClockBook(calendar, today)
        upload = None
        if changed_from is not None:
            async with self.engine.connect() as conn:
                upload = await calendar_upload(conn, today, changed_from)
        after, count = "", 0
        while True:
            async with self.engine.begin() as conn:
                await lock_clocks(conn, exclusive=True)
                chunk = await clock_inputs(conn, after, only_before, chunk_size or BULK_CHUNK, upload)
                if not chunk:
                    if only_before is None:
                        self._settled = calendar
                    return count
                changed: list[dict[str, Any]] = []
                behind: list[str] = []
                for i in chunk:
                    fields = bulk_clock_row(i, book, today)
                    if fields is None:
                        behind.append(i.case_id)
                    elif fields != i.current:
                        row = dict(zip(_CALENDAR_FIELDS, fields, strict=True))
                        changed.append({"case_id": i.case_id, **row, "updated_at": now})
                await write_clock_rows(conn, changed)
            for start in range(0, len(behind), CHUNK):
                await self.recompute(*behind[start : start + CHUNK])
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
        await self.daily_checkpoint()

    async def daily_checkpoint(self) -> Checkpoint | None:
        """Today's custody checkpoint, if none was made yet today (None then, or without a signer)."""
        if self.checkpoint_signer is None:
            return None
        made = await checkpoints.make(self.engine, self.checkpoint_signer, self.deps.clock.now(), daily=True)
        if made is not None:
            log.info("custody checkpoint made", extra={"checkpoint": made.n, "packages": made.count})
        return made

    async def scan(self) -> dict[str, int]:
        """Bring the clocks to today and announce what is due; returns what was done, by kind."""
        async with self.engine.connect() as conn:
            changed = await self.calendar.refresh(conn)
        today = self.today()
        await self.recompute_all(only_before=None if changed else today)
        done = {
            "warned": 0,
            "overdue": 0,
            "legal_overdue": 0,
            "forwarding": 0,
            "prereview": 0,
            "iou_reminded": 0,
            "iou_overdue": 0,
            "stage_limit": 0,
            "closed": 0,
        }
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
            if row["legal_overdue"]:
                done["legal_overdue"] += await announce(
                    self.engine,
                    f"legal_overdue:{row['case_id']}:{row['legal_due_on']}",
                    ev.LegalOverdue(
                        occurred_at=self.deps.clock.now(),
                        actor=ACTOR,
                        case_id=row["case_id"],
                        due_on=row["legal_due_on"],
                        used=row["used"],
                        department_office_id=row["department_office_id"],
                    ),
                )
            if row["state"] in NOT_SIGNED and row["forwarding_due_on"] < today:
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
            if row["prereview_overdue"] and row["state"] == CaseState.RECEIVED.value:
                done["prereview"] += await announce(
                    self.engine,
                    f"prereview:{row['case_id']}:{row['prereview_due_on']}",
                    ev.PrereviewOverdue(
                        occurred_at=self.deps.clock.now(),
                        actor=ACTOR,
                        case_id=row["case_id"],
                        due_on=row["prereview_due_on"],
                        department_office_id=row["department_office_id"],
                    ),
                )
            for owed_on, materials in _owed_by_date(row["ious_owed"]):
                if owed_on[0] < today:
                    done["iou_overdue"] += await announce(
                        self.engine,
                        f"iou_overdue:{row['case_id']}:{owed_on[0]}",
                        ev.IouOverdue(
                            occurred_at=self.deps.clock.now(),
                            actor=ACTOR,
                            case_id=row["case_id"],
                            due_on=owed_on[0],
                            materials=materials,
                            window_office_id=row["window_office_id"],
                        ),
                    )
                elif owed_on[1] <= today:
                    done["iou_reminded"] += await announce(
                        self.engine,
                        f"iou_reminder:{row['case_id']}:{owed_on[0]}",
                        ev.IouDueSoon(
                            occurred_at=self.deps.clock.now(),
                            actor=ACTOR,
                            case_id=row["case_id"],
                            due_on=owed_on[0],
                            materials=materials,
                        ),
                    )
            for stage in row["stage_limits"] or []:
                reached_on = date.fromisoformat(stage["reached_on"])
                if reached_on <= today:
                    done["stage_limit"] += await announce(
                        self.engine,
                        f"stage_limit:{stage['stage_id']}",
                        ev.StageLimitReached(
                            occurred_at=self.deps.clock.now(),
                            actor=ACTOR,
                            case_id=row["case_id"],
                            stage_id=stage["stage_id"],
                            stage_type=stage["stage_type"],
                            start_on=date.fromisoformat(stage["start_on"]),
                            limit=stage["limit"],
                            reached_on=reached_on,
                            department_office_id=row["department_office_id"],
                        ),
                    )
            due = row["supplement_due_on"]
            if row["state"] in SUPPLEMENT_WAITS and due is not None and due < today:
                done["closed"] += await self._close_unsupplemented(row["case_id"])
        return done

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
_CLOCKS_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('case_clocks', 0))")
_CLOCKS_LOCK_SHARED = text("SELECT pg_advisory_xact_lock_shared(hashtextextended('case_clocks', 0))")


_CLOCKS_LOCK_SHARED_AND_CASES = text(
    "SELECT pg_advisory_xact_lock_shared(hashtextextended('case_clocks', 0)),"
    " count(pg_advisory_xact_lock(hashtextextended('clock:' || id, 0)))"
    " FROM unnest(CAST(:ids AS text[])) WITH ORDINALITY AS wanted(id, place)"
)


async def lock_clocks(conn: AsyncConnection, *, exclusive: bool, cases: Sequence[str] = ()) -> None:
    """The clock rows as a whole, until the transaction ends: shared by the per-case recomputes
    (which also lock each case: ``cases``, sorted by the caller — in the same statement), exclusive
    for a chunk of the set-based one — one lock per chunk, so that no reading of a case committed in
    between is overwritten by an older one. (The set-based recompute takes no case's lock, so the
    order of the shared lock and the cases' does not matter.) SQLite has one writer: nothing to do
    there."""
    if conn.dialect.name != "postgresql":
        return
    if exclusive:
        await conn.execute(_CLOCKS_LOCK)
    elif cases:
        await conn.execute(_CLOCKS_LOCK_SHARED_AND_CASES, {"ids": list(cases)})
    else:
        await conn.execute(_CLOCKS_LOCK_SHARED)


@dataclass
class ClockInputs:
    """What the clock of a watched case is read from — its clock row keeps the case's collection,
    acceptance and decision dates and its limit (the per-case recompute writes them from the case)
    — with its stages and extensions, and the calendar's fields of the row as they stand."""

    case_id: str
    collected_on: date
    accepted_on: date | None
    limit_days: int | None
    decided_on: date | None
    legal_limit_days: int | None
    own_duties: bool
    """The row watches a pre-review, a 容缺 IOU or a stage's own limit (dates of their own)."""
    current: tuple[Any, ...]
    stages: list[StagePeriod] = field(default_factory=list)
    extensions: list[int] = field(default_factory=list)


async def clock_inputs(
    conn: AsyncConnection, after: str, only_before: date | None, limit: int, upload: CalendarUpload | None = None
) -> list[ClockInputs]:
    """The clock inputs of the next ``limit`` watched cases after ``after`` (by id), in three
    statements: the clock rows, their stages, their extensions. The caller holds the exclusive
    :func:`lock_clocks`. With ``upload``, only the rows that it can move (:meth:`CalendarUpload.unmoved`)."""
    k = case_clocks.c
    watched: Any = and_(k.watching.is_(True), k.case_id > after)
    if only_before is not None:
        watched = and_(watched, k.as_of < only_before)
    if upload is not None:
        watched = and_(watched, not_(upload.unmoved(conn)))
    query = (
        select(
            k.case_id,
            k.collected_on,
            k.accepted_on,
            k.limit_days,
            k.decided_on,
            k.legal_limit_days,
            k.prereview_due_on,
            k.iou_due_on,
            k.stage_limits,
            *(k[n] for n in _CALENDAR_FIELDS),
        )
        .where(watched)
        .order_by(k.case_id)
        .limit(limit)
    )
    found = {
        r[0]: ClockInputs(
            r[0], r[1], r[2], r[3], r[4], r[5], r[6] is not None or r[7] is not None or bool(r[8]), tuple(r[9:])
        )
        for r in await conn.execute(query)
    }
    accepted = sorted(case_id for case_id, i in found.items() if i.accepted_on is not None)  # with a clock
    if not accepted:
        return list(found.values())
    step = len(accepted) if conn.dialect.name == "postgresql" else _IN_CHUNK
    stages, extensions = t.case_stages, t.case_extensions
    for start in range(0, len(accepted), step):
        ids = accepted[start : start + step]
        for s in await conn.execute(
            select(stages.c.case_id, stages.c.type, stages.c.start_on, stages.c.end_on, stages.c.limit_days)
            .where(_among(conn, stages.c.case_id, ids))
            .order_by(stages.c.case_id, stages.c.seq)
        ):
            found[s[0]].stages.append(StagePeriod(type=s[1], start=s[2], end=s[3], limit=s[4]))
        for e in await conn.execute(
            select(extensions.c.case_id, extensions.c.days)
            .where(_among(conn, extensions.c.case_id, ids))
            .order_by(extensions.c.case_id, extensions.c.seq)
        ):
            found[e[0]].extensions.append(e[1])
    return list(found.values())


_IN_CHUNK = 500


@dataclass(frozen=True)
class CalendarUpload:
    """A calendar that differs from the one the clock rows were computed on from ``changed_from``
    on, read on ``today``; ``reaching``: the cases with a stage whose span reaches that date
    (:func:`calendar_upload`), or None when there are too many to name (then each row asks)."""

    today: date
    changed_from: date
    reaching: tuple[str, ...] | None

    def unmoved(self, conn: AsyncConnection) -> Any:
        """True (never NULL) for a clock row that the new calendar leaves as it is: read today
        (before ``changed_from``), its forwarding promise, its due dates and its stages' spans all
        end before that date — every day its reading looks at (:class:`ClockBook`: the days after
        acceptance up to the latest of today and the due dates, each stage's span, the forwarding
        promise's days, and their years for the provisional mark) is answered alike by both
        calendars. A row read from its case (no limit kept, a duty with dates of its own) or
        missing a date is never left out."""
        if self.today >= self.changed_from:
            return false()
        k, changed_from = case_clocks.c, self.changed_from
        if self.reaching is None:
            no_stage_reaches: Any = not_(select(t.case_stages.c.case_id).where(_reaches(changed_from)).exists())
        elif self.reaching:
            no_stage_reaches = not_(_among(conn, k.case_id, list(self.reaching), "reaching"))
        else:
            no_stage_reaches = true()
        return and_(
            k.as_of == self.today,
            k.forwarding_due_on < changed_from,
            k.limit_days.is_not(None),
            k.legal_limit_days.is_not(None),
            k.prereview_due_on.is_(None),
            k.iou_due_on.is_(None),
            func.coalesce(cast(k.stage_limits, Text), "null").in_(["null", "[]"]),
            or_(
                k.accepted_on.is_(None),
                and_(
                    k.due_on.is_not(None),
                    k.due_on < changed_from,
                    k.legal_due_on.is_not(None),
                    k.legal_due_on < changed_from,
                    no_stage_reaches,
                ),
            ),
        )


_REACHING_NAMED = 5000
"""Up to this many cases whose stages reach the first changed day are named in the read (one
array parameter); beyond, each row's stages are looked at."""


def _stage_reaches(changed_from: date) -> Any:
    """A stage whose span reaches ``changed_from``: it ends on or after it, or is open and starts
    on or after it (an open stage's span ends today — before that date — or on its start)."""
    s = t.case_stages.c
    return or_(s.end_on >= changed_from, and_(s.end_on.is_(None), s.start_on >= changed_from))


def _reaches(changed_from: date) -> Any:
    """A stage of the clock row's case whose span reaches ``changed_from``."""
    return and_(t.case_stages.c.case_id == case_clocks.c.case_id, _stage_reaches(changed_from))


async def calendar_upload(conn: AsyncConnection, today: date, changed_from: date) -> CalendarUpload:
    """The upload that changed the calendar from ``changed_from`` on, with the cases whose stages
    reach that date read once (one statement; usually none: a stage ends by today)."""
    s = t.case_stages.c
    query = select(s.case_id).where(_stage_reaches(changed_from)).distinct().limit(_REACHING_NAMED + 1)
    found = list((await conn.execute(query)).scalars())
    return CalendarUpload(today, changed_from, tuple(found) if len(found) <= _REACHING_NAMED else None)


def _among(conn: AsyncConnection, column: Any, ids: list[str], name: str = "ids") -> Any:
    """``column = ANY(:ids)`` on PostgreSQL (one array parameter), ``IN (…)`` elsewhere."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(name, ids, type_=ARRAY(String)))
    return column.in_(ids)


_CALENDAR_FIELDS = (
    "forwarding_due_on",
    "promised",
    "due_on",
    "used",
    "remaining",
    "paused",
    "provisional",
    "overdue",
    "legal_due_on",
    "legal_overdue",
    "as_of",
    "due_rank",
    "legal_due_rank",
)
"""What a new day or another calendar changes in a clock row; the rest changes only with the case
(its events recompute the row from it). A row that also watches a duty with a working-day date of
its own (a pre-review, a 容缺 IOU, a stage's own limit) is recomputed from its case instead."""


def bulk_clock_row(i: ClockInputs, book: ClockBook, today: date) -> tuple[Any, ...] | None:
    """The calendar's fields (:data:`_CALENDAR_FIELDS`) of :func:`clock_row` of the case on
    ``today``, read from ``book``; None when the row keeps no limit (written before rows kept it:
    the case is recomputed from the case)."""
    if i.limit_days is None or i.legal_limit_days is None or i.own_duties:
        return None
    forwarding = book.add_working_days(i.collected_on, FORWARDING_LIMIT_DAYS).due
    if i.accepted_on is None:
        return (forwarding, None, None, None, None, False, False, False, None, False, today, None, None)
    reading = book.read(
        accepted_on=i.accepted_on,
        limit=i.limit_days,
        at=max(today, i.accepted_on),
        stages=i.stages,
        extensions=i.extensions,
        decided_on=i.decided_on,
        legal_limit=i.legal_limit_days,
    )
    return (
        forwarding,
        reading.promised,
        reading.due_date,
        reading.used,
        reading.remaining,
        reading.paused,
        reading.provisional,
        reading.overdue and i.decided_on is None,
        reading.legal_due_date,
        bool(reading.legal_overdue and i.decided_on is None),
        today,
        book.rank(reading.due_date),
        None if reading.legal_due_date is None else book.rank(reading.legal_due_date),
    )


_PG_COLUMNS = (
    ("forwarding_due_on", "date"),
    ("promised", "integer"),
    ("due_on", "date"),
    ("used", "integer"),
    ("remaining", "integer"),
    ("paused", "boolean"),
    ("provisional", "boolean"),
    ("overdue", "boolean"),
    ("legal_due_on", "date"),
    ("legal_overdue", "boolean"),
    ("as_of", "date"),
    ("due_rank", "bigint"),
    ("legal_due_rank", "bigint"),
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
    """Write the calendar's fields of recomputed clock rows over their rows: one
    ``UPDATE … FROM unnest(…)`` on PostgreSQL, an executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        columns = {name: [row[name] for row in rows] for name in ("case_id", *(n for n, _ in _PG_COLUMNS))}
        await conn.execute(_PG_UPDATE, columns)
        return
    keyed = [{**row, "b_case_id": row["case_id"]} for row in rows]
    names = [name for name, _ in _PG_COLUMNS]
    await conn.execute(
        update(case_clocks)
        .where(case_clocks.c.case_id == bindparam("b_case_id"))
        .values({name: bindparam(name) for name in names}),
        keyed,
    )


_UPSERTS: dict[str, Any] = {}


async def upsert_clock_rows(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace whole clock rows (:func:`clock_row`): one statement, built once per
    dialect, executed for every row (in the order given: the caller's lock order)."""
    if not rows:
        return
    dialect = conn.dialect.name
    statement = _UPSERTS.get(dialect)
    if statement is None:
        insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(case_clocks)
        statement = _UPSERTS[dialect] = insert.on_conflict_do_update(
            index_elements=[case_clocks.c.case_id],
            set_={c.name: getattr(insert.excluded, c.name) for c in case_clocks.c if c.name != "case_id"},
        )
    await conn.execute(statement, list(rows))


def _owed_by_date(owed: Sequence[Mapping[str, str]] | None) -> list[tuple[tuple[date, date], tuple[str, ...]]]:
    """The 容缺 materials owed, grouped by ((due date, reminder date), materials), earliest first:
    one reminder and one warning per due date, naming every material due then."""
    groups: dict[tuple[date, date], list[str]] = {}
    for item in owed or []:
        key = (date.fromisoformat(item["due_on"]), date.fromisoformat(item["remind_on"]))
        groups.setdefault(key, []).append(item["material"])
    return [(key, tuple(names)) for key, names in sorted(groups.items())]
