"""The legal working-day clock (DESIGN §5). Pure: it takes dates and a calendar, never ``now()``.

Rules (民法典 §201, the start day is not counted):

* ``used(t)``: working days strictly after the acceptance date up to and including ``t``, minus the
  excluded days.
* excluded days: working days covered by special stages, each stage covering the working days
  strictly after its start date up to and including its end date (or the evaluation date while
  open). Overlapping stages are merged: a day is excluded once.
* due date: the date on which ``used`` reaches the promised limit (plus extensions) if nothing
  else is excluded; ``remaining = promised − used``.
* overdue ⇔ ``used > promised`` (promised = limit + extensions): a full working day or more beyond.
* finished early (提前办结, seed 002) ⇔ ``limit − used(decided) ≥ 1`` against the promised limit
  WITHOUT extensions, and never for a case that was ever overdue. An instant case (limit 0) is due
  on its acceptance date.
* the legal limit (法定期限) runs beside it by the same rules: its own due date, ``legal_used``,
  ``legal_remaining`` and ``legal_overdue`` (extensions do not move it).
* a clock stopped without a decision (撤回, 补正不来办结) freezes on its stop date.

A date the calendar does not cover is still answered (weekends only) but the reading is marked
provisional with the reason; nothing raises for an uncovered year.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from handoff.errors import InvalidInput
from handoff.ports import Calendar

MAX_LIMIT_DAYS = 3650
"""No promised limit or stage is longer than ten years of working days; beyond that the input is
wrong, and walking the calendar that far would only hide the mistake."""

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class StagePeriod:
    """A special stage as the clock sees it. ``end`` is None while the stage is open."""

    type: str
    start: date
    end: date | None = None
    limit: int | None = None
    """The stage's own limit in working days, when the matter sets one."""

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise InvalidInput(f"特殊环节的结束日期 {self.end} 早于开始日期 {self.start}")
        if self.limit is not None and not 0 <= self.limit <= MAX_LIMIT_DAYS:
            raise InvalidInput(f"特殊环节时限 {self.limit} 个工作日不合理")


@dataclass(frozen=True)
class StageTally:
    """One stage's own count: it is reported on its own, never counted in the promised limit."""

    type: str
    start: date
    end: date | None
    working_days: int
    calendar_days: int
    limit: int | None
    over_limit: bool


@dataclass(frozen=True)
class ClockReading:
    accepted_on: date
    as_of: date
    limit: int
    extension_days: int
    promised: int
    used: int
    remaining: int
    excluded_days: int
    due_date: date
    decided_on: date | None
    early: bool | None
    overdue: bool
    provisional: bool
    provisional_reason: str | None
    stages: tuple[StageTally, ...]
    paused: bool
    """True while a stage is open: the clock is not running."""
    legal_limit: int | None = None
    legal_due_date: date | None = None
    legal_used: int | None = None
    legal_remaining: int | None = None
    legal_overdue: bool | None = None
    stopped_on: date | None = None
    """The date the clock stopped without a decision (撤回, 补正不来办结): the figures freeze there."""
    ever_overdue: bool = False
    """Overdue now, or found overdue before a stage or an extension changed the record: such a
    case is never "finished early"."""


class WorkdayCounter:
    """Counts working days on a calendar and remembers every year it had to guess."""

    def __init__(self, calendar: Calendar) -> None:
        self._calendar = calendar
        self.uncovered_years: set[int] = set()

    def is_workday(self, day: date) -> bool:
        if not self._calendar.covers(day):
            self.uncovered_years.add(day.year)
        return self._calendar.is_workday(day)

    def workdays_after(self, start: date, end: date) -> list[date]:
        """Working days ``d`` with ``start < d <= end``."""
        days: list[date] = []
        day = start + ONE_DAY
        while day <= end:
            if self.is_workday(day):
                days.append(day)
            day += ONE_DAY
        return days

    def add_workdays(self, start: date, count: int, skip: frozenset[date] = frozenset()) -> date:
        """The date on which ``count`` working days (not in ``skip``) after ``start`` are reached;
        ``start`` itself when ``count`` is 0."""
        if not 0 <= count <= MAX_LIMIT_DAYS:
            raise InvalidInput(f"工作日数 {count} 不合理")
        day, reached = start, 0
        while reached < count:
            day += ONE_DAY
            if day not in skip and self.is_workday(day):
                reached += 1
        return day

    def provisional_reason(self) -> str | None:
        if not self.uncovered_years:
            return None
        years = "、".join(f"{y} 年" for y in sorted(self.uncovered_years))
        return f"{years}的节假日安排尚未载入，按周一至周五为工作日推算，结果为临时结果"


def excluded_workdays(counter: WorkdayCounter, stages: Iterable[StagePeriod], as_of: date) -> frozenset[date]:
    """The union of the working days the stages cover, up to ``as_of`` for open ones."""
    days: set[date] = set()
    for stage in stages:
        end = stage.end if stage.end is not None else max(as_of, stage.start)
        days.update(counter.workdays_after(stage.start, end))
    return frozenset(days)


def _check_clock_inputs(
    accepted_on: date,
    limit: int,
    stages: Sequence[StagePeriod],
    extensions: Sequence[int],
    decided_on: date | None,
    legal_limit: int | None,
    stopped_on: date | None,
) -> None:
    """What :func:`read_clock` and :class:`ClockBook` refuse alike."""
    if not 0 <= limit <= MAX_LIMIT_DAYS:
        raise InvalidInput(f"承诺时限 {limit} 个工作日不合理")
    if legal_limit is not None and not 0 <= legal_limit <= MAX_LIMIT_DAYS:
        raise InvalidInput(f"法定期限 {legal_limit} 个工作日不合理")
    if any(not 0 < days <= MAX_LIMIT_DAYS for days in extensions):
        raise InvalidInput("延期天数必须是正整数")
    if decided_on is not None and decided_on < accepted_on:
        raise InvalidInput(f"办结日期 {decided_on} 早于受理日期 {accepted_on}")
    for stage in stages:
        if stage.start < accepted_on:
            raise InvalidInput(f"特殊环节开始日期 {stage.start} 早于受理日期 {accepted_on}")
    if stopped_on is not None and stopped_on < accepted_on:
        raise InvalidInput(f"停止计时日期 {stopped_on} 早于受理日期 {accepted_on}")


def read_clock(
    calendar: Calendar,
    *,
    accepted_on: date,
    limit: int,
    at: date,
    stages: Sequence[StagePeriod] = (),
    extensions: Sequence[int] = (),
    decided_on: date | None = None,
    legal_limit: int | None = None,
    stopped_on: date | None = None,
    overdue_before: bool = False,
) -> ClockReading:
    """Read the clock of one case on date ``at`` (the evaluation date; "today").

    ``stopped_on`` is the date the clock stopped without a decision (withdrawal); ``overdue_before``
    says the case was found overdue under an earlier state of its record (see ``Case.clock``)."""
    _check_clock_inputs(accepted_on, limit, stages, extensions, decided_on, legal_limit, stopped_on)

    counter = WorkdayCounter(calendar)
    finished = decided_on is not None and decided_on <= at
    stopped = not finished and stopped_on is not None and stopped_on <= at
    if finished and decided_on is not None:
        as_of = decided_on
    elif stopped and stopped_on is not None:
        as_of = stopped_on
    else:
        as_of = at
    extension_days = sum(extensions)
    promised = limit + extension_days

    excluded = excluded_workdays(counter, stages, as_of)
    elapsed = counter.workdays_after(accepted_on, as_of)
    excluded_in_range = [d for d in elapsed if d in excluded]
    used = len(elapsed) - len(excluded_in_range)
    due_date = counter.add_workdays(accepted_on, promised, skip=excluded)
    legal_due = None if legal_limit is None else counter.add_workdays(accepted_on, legal_limit, skip=excluded)
    overdue = used > promised
    ever_overdue = overdue or overdue_before

    tallies = tuple(_tally(counter, stage, as_of) for stage in stages)
    reason = counter.provisional_reason()
    return ClockReading(
        accepted_on=accepted_on,
        as_of=as_of,
        limit=limit,
        extension_days=extension_days,
        promised=promised,
        used=used,
        remaining=promised - used,
        excluded_days=len(excluded_in_range),
        due_date=due_date,
        decided_on=decided_on if finished else None,
        early=(limit - used >= 1 and not ever_overdue) if finished else None,
        overdue=overdue,
        provisional=reason is not None,
        provisional_reason=reason,
        stages=tallies,
        paused=not finished and not stopped and any(s.end is None or s.end > as_of for s in stages),
        legal_limit=legal_limit,
        legal_due_date=legal_due,
        legal_used=None if legal_limit is None else used,
        legal_remaining=None if legal_limit is None else legal_limit - used,
        legal_overdue=None if legal_limit is None else used > legal_limit,
        stopped_on=stopped_on if stopped else None,
        ever_overdue=ever_overdue,
    )


def _tally(counter: WorkdayCounter, stage: StagePeriod, as_of: date) -> StageTally:
    end = stage.end if stage.end is not None else max(as_of, stage.start)
    working = len(counter.workdays_after(stage.start, end))
    return StageTally(
        type=stage.type,
        start=stage.start,
        end=stage.end,
        working_days=working,
        calendar_days=(end - stage.start).days,
        limit=stage.limit,
        over_limit=stage.limit is not None and working > stage.limit,
    )


@dataclass(frozen=True)
class DueDate:
    due: date
    provisional: bool
    provisional_reason: str | None


def add_working_days(calendar: Calendar, start: date, count: int) -> DueDate:
    """``count`` working days after ``start`` (start not counted), e.g. the window's 2-day
    forwarding promise (Appendix A: "2 日内转报") or a supplement's due date."""
    counter = WorkdayCounter(calendar)
    due = counter.add_workdays(start, count)
    reason = counter.provisional_reason()
    return DueDate(due=due, provisional=reason is not None, provisional_reason=reason)


FORWARDING_LIMIT_DAYS = 2


def forwarding_due(calendar: Calendar, collected_on: date) -> DueDate:
    """The window's promise to forward the materials within 2 working days of collection."""
    return add_working_days(calendar, collected_on, FORWARDING_LIMIT_DAYS)


def previous_workday(calendar: Calendar, day: date) -> date:
    """The last working day strictly before ``day`` (the earliest start a special stage may be
    given without the lead's approval when it is recorded on ``day``)."""
    counter = WorkdayCounter(calendar)
    found = day - ONE_DAY
    for _ in range(MAX_LIMIT_DAYS):
        if counter.is_workday(found):
            return found
        found -= ONE_DAY
    raise InvalidInput(f"{day} 之前找不到工作日")


def working_days_between(calendar: Calendar, start: date, end: date) -> int:
    """Working days ``d`` with ``start < d <= end`` (0 when end is not after start)."""
    return len(WorkdayCounter(calendar).workdays_after(start, end))


def stall_boundary(calendar: Calendar, today: date, allowed_days: int) -> date:
    """A package whose last movement was on a date before the returned one is stalled on
    ``today`` — more than ``allowed_days`` working days have passed since (``working_days_between``
    of that date and today exceeds it). It is the (allowed_days + 1)-th working day counting back
    from today, today included; a query compares dates instead of counting days per package."""
    if not 0 <= allowed_days <= MAX_LIMIT_DAYS:
        raise InvalidInput(f"工作日数 {allowed_days} 不合理")
    counter = WorkdayCounter(calendar)
    day, found = today, 0
    while True:
        if counter.is_workday(day):
            found += 1
            if found == allowed_days + 1:
                return day
        day -= ONE_DAY


# --------------------------------------------------------------------------- many clocks at once


class WorkdayTable:
    """A calendar's working days numbered once, for reading many clocks on the same calendar: the
    working days in ``(a, b]`` are ``count(b) - count(a)`` and the n-th working day after a date is
    one list lookup. The table grows (a year at a time) to whatever dates it is asked about; it
    also counts the days the calendar does not cover, so provisional answers come out the same as
    :class:`WorkdayCounter`'s."""

    def __init__(self, calendar: Calendar, around: date) -> None:
        self._calendar = calendar
        self._base = date(around.year - 1, 1, 1).toordinal()
        self._end = self._base - 1  # last ordinal in the table
        self._count: list[int] = []  # working days in [base, base + i]
        self._uncovered: list[int] = []  # days not covered in [base, base + i]
        self._days: list[int] = []  # ordinals of the working days, in order
        self._grow_to(date(around.year + 2, 1, 1).toordinal())

    def _grow_to(self, ordinal: int) -> None:
        count = self._count[-1] if self._count else 0
        uncovered = self._uncovered[-1] if self._uncovered else 0
        while self._end < ordinal:
            self._end += 1
            day = date.fromordinal(self._end)
            if not self._calendar.covers(day):
                uncovered += 1
            if self._calendar.is_workday(day):
                count += 1
                self._days.append(self._end)
            self._count.append(count)
            self._uncovered.append(uncovered)

    def _rebase(self, ordinal: int) -> None:
        end = self._end
        self._base = date(date.fromordinal(ordinal).year - 1, 1, 1).toordinal()
        self._end = self._base - 1
        self._count, self._uncovered, self._days = [], [], []
        self._grow_to(end)

    def _span(self, start: date, end: date) -> tuple[int, int]:
        """Indexes of ``start`` and ``end`` (start <= end), the table grown to hold both."""
        low, high = start.toordinal(), end.toordinal()
        if low < self._base:
            self._rebase(low)
        if high > self._end:
            self._grow_to(high + 366)
        return low - self._base, high - self._base

    def _index(self, day: date) -> int:
        return self._span(day, day)[0]

    def count(self, start: date, end: date) -> int:
        """Working days ``d`` with ``start < d <= end``."""
        if end <= start:
            return 0
        low, high = self._span(start, end)
        return self._count[high] - self._count[low]

    def uncovered_years(self, start: date, end: date) -> set[int]:
        """The years of the days in ``(start, end]`` that the calendar does not cover."""
        if end <= start:
            return set()
        low, high = self._span(start, end)
        if self._uncovered[high] == self._uncovered[low]:
            return set()
        years: set[int] = set()
        for year in range((start + ONE_DAY).year, end.year + 1):
            first = max(start, date(year, 1, 1) - ONE_DAY)
            last = min(end, date(year, 12, 31))
            low, high = self._span(first, last)
            if self._uncovered[high] != self._uncovered[low]:
                years.add(year)
        return years

    def nth_after(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``n`` ≥ 1)."""
        position = self._count[self._index(start)] + n - 1
        while position >= len(self._days):
            self._grow_to(self._end + 366)
        return date.fromordinal(self._days[position])

    def rank(self, day: date) -> int:
        """:func:`workday_rank` of ``day`` on this table's calendar."""
        ordinal = day.toordinal()
        while not bisect_right(self._days, ordinal):  # the last working day on or before it
            self._rebase(self._base - 1)  # (the years before 1990 have no schedule: weekdays)
        low, high = self._span(min(day, RANK_EPOCH), max(day, RANK_EPOCH))
        workdays = self._count[high] - self._count[low]
        if day < RANK_EPOCH:
            workdays = -workdays
        previous = self._days[bisect_right(self._days, ordinal) - 1]
        return workdays * RANK_DAYS + ordinal - previous


RANK_EPOCH = date(1990, 1, 1)
RANK_DAYS = 1 << 20
"""More days than any two dates of a rank are apart (see :func:`workday_rank`)."""


def workday_rank(calendar: Calendar, day: date) -> int:
    """A number for ``day`` that orders dates as the dates themselves (a later date, a larger
    number) and that a calendar change leaves as it is for a date counted in working days — a due
    date ``n`` working days after a start before the first changed day: the working days from
    :data:`RANK_EPOCH` up to ``day`` (after the epoch: counted, before it: negative), times
    :data:`RANK_DAYS`, plus the days since the last working day on or before ``day``. A clock row
    keeps its due dates' ranks as the keys of the deadline boards, so that an upload that moves
    due dates by whole working days does not move the boards' index entries."""
    return _ranks(calendar).rank(day)


_RANK_TABLES: dict[int, tuple[Calendar, WorkdayTable]] = {}


def _ranks(calendar: Calendar) -> WorkdayTable:
    """One table per calendar object (a calendar's data never changes: a new calendar is a new
    object), the last few kept."""
    known = _RANK_TABLES.get(id(calendar))
    if known is not None and known[0] is calendar:
        return known[1]
    table = WorkdayTable(calendar, RANK_EPOCH)
    if len(_RANK_TABLES) >= 8:
        _RANK_TABLES.pop(next(iter(_RANK_TABLES)))
    _RANK_TABLES[id(calendar)] = (calendar, table)
    return table


def _reason(years: set[int]) -> str | None:
    if not years:
        return None
    named = "、".join(f"{y} 年" for y in sorted(years))
    return f"{named}的节假日安排尚未载入，按周一至周五为工作日推算，结果为临时结果"


class ClockBook:
    """:func:`read_clock` and :func:`add_working_days` for many cases on one calendar (a calendar
    upload recomputes every open case): the same answers, computed on a :class:`WorkdayTable` and
    remembered per input, so cases that share their inputs cost one dictionary lookup."""

    def __init__(self, calendar: Calendar, around: date) -> None:
        self.table = WorkdayTable(calendar, around)
        self._readings: dict[tuple[object, ...], ClockReading] = {}
        self._added: dict[tuple[date, int], DueDate] = {}
        self._ranks: dict[date, int] = {}

    def add_working_days(self, start: date, count: int) -> DueDate:
        """As :func:`add_working_days`."""
        known = self._added.get((start, count))
        if known is None:
            if not 0 <= count <= MAX_LIMIT_DAYS:
                raise InvalidInput(f"工作日数 {count} 不合理")
            due = self.table.nth_after(start, count) if count else start
            reason = _reason(self.table.uncovered_years(start, due))
            known = self._added[(start, count)] = DueDate(due, reason is not None, reason)
        return known

    def rank(self, day: date) -> int:
        """As :func:`workday_rank` (remembered: the due dates of many clocks are few dates)."""
        known = self._ranks.get(day)
        if known is None:
            known = self._ranks[day] = self.table.rank(day)
        return known

    def read(
        self,
        *,
        accepted_on: date,
        limit: int,
        at: date,
        stages: Sequence[StagePeriod] = (),
        extensions: Sequence[int] = (),
        decided_on: date | None = None,
        legal_limit: int | None = None,
        stopped_on: date | None = None,
        overdue_before: bool = False,
    ) -> ClockReading:
        """As :func:`read_clock`, with the same arguments and the same reading."""
        key = (
            accepted_on,
            limit,
            at,
            tuple(stages),
            tuple(extensions),
            decided_on,
            legal_limit,
            stopped_on,
            overdue_before,
        )
        known = self._readings.get(key)
        if known is None:
            known = self._read(
                accepted_on,
                limit,
                at,
                tuple(stages),
                tuple(extensions),
                decided_on,
                legal_limit,
                stopped_on,
                overdue_before,
            )
            self._readings[key] = known
        return known

    def _read(
        self,
        accepted_on: date,
        limit: int,
        at: date,
        stages: tuple[StagePeriod, ...],
        extensions: tuple[int, ...],
        decided_on: date | None,
        legal_limit: int | None = None,
        stopped_on: date | None = None,
        overdue_before: bool = False,
    ) -> ClockReading:
        _check_clock_inputs(accepted_on, limit, stages, extensions, decided_on, legal_limit, stopped_on)
        table = self.table
        finished = decided_on is not None and decided_on <= at
        stopped = not finished and stopped_on is not None and stopped_on <= at
        if finished and decided_on is not None:
            as_of = decided_on
        elif stopped and stopped_on is not None:
            as_of = stopped_on
        else:
            as_of = at
        extension_days = sum(extensions)
        promised = limit + extension_days
        if not 0 <= promised <= MAX_LIMIT_DAYS:
            raise InvalidInput(f"工作日数 {promised} 不合理")

        # each stage covers the days (start, end]; merged, a day is excluded once
        spans = sorted((s.start, s.end if s.end is not None else max(as_of, s.start)) for s in stages)
        merged: list[tuple[date, date]] = []
        for start, end in spans:
            if end <= start:
                continue
            if merged and start <= merged[-1][1]:
                if end > merged[-1][1]:
                    merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        excluded_in_range = sum(table.count(start, min(end, as_of)) for start, end in merged)
        used = table.count(accepted_on, as_of) - excluded_in_range

        due_date = self._due(accepted_on, promised, merged)
        legal_due = None if legal_limit is None else self._due(accepted_on, legal_limit, merged)
        overdue = used > promised
        ever_overdue = overdue or overdue_before

        years = table.uncovered_years(accepted_on, max(as_of, due_date, legal_due or due_date))
        tallies = []
        for stage in stages:
            end = stage.end if stage.end is not None else max(as_of, stage.start)
            years |= table.uncovered_years(stage.start, end)
            working = table.count(stage.start, end)
            tallies.append(
                StageTally(
                    type=stage.type,
                    start=stage.start,
                    end=stage.end,
                    working_days=working,
                    calendar_days=(end - stage.start).days,
                    limit=stage.limit,
                    over_limit=stage.limit is not None and working > stage.limit,
                )
            )
        reason = _reason(years)
        return ClockReading(
            accepted_on=accepted_on,
            as_of=as_of,
            limit=limit,
            extension_days=extension_days,
            promised=promised,
            used=used,
            remaining=promised - used,
            excluded_days=excluded_in_range,
            due_date=due_date,
            decided_on=decided_on if finished else None,
            early=(limit - used >= 1 and not ever_overdue) if finished else None,
            overdue=overdue,
            provisional=reason is not None,
            provisional_reason=reason,
            stages=tuple(tallies),
            paused=not finished and not stopped and any(s.end is None or s.end > as_of for s in stages),
            legal_limit=legal_limit,
            legal_due_date=legal_due,
            legal_used=None if legal_limit is None else used,
            legal_remaining=None if legal_limit is None else legal_limit - used,
            legal_overdue=None if legal_limit is None else used > legal_limit,
            stopped_on=stopped_on if stopped else None,
            ever_overdue=ever_overdue,
        )

    def _due(self, accepted_on: date, count: int, merged: Sequence[tuple[date, date]]) -> date:
        """The date on which ``count`` working days have passed after ``accepted_on``, the days
        covered by the ``merged`` stage spans (start, end] not counted."""
        due_date, needed, cursor = accepted_on, count, accepted_on
        for start, end in merged:
            if needed == 0:
                break
            free = self.table.count(cursor, start)
            if free >= needed:
                break
            needed -= free
            cursor = max(cursor, end)
        if needed:
            due_date = self.table.nth_after(cursor, needed)
        return due_date
