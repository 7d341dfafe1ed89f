"""The packaged calendar: the State Council schedules that the ``chinesecalendar`` package carries
(2004–2026 in 1.11.0), turned into :class:`handoff.calendar.Schedule` data, plus schedule files."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import cache
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from handoff.calendar import Schedule, ScheduleCalendar, parse_schedule

PACKAGE_SOURCE = "chinesecalendar {version}（国务院办公厅节假日安排通知）"


@cache
def packaged_schedules() -> tuple[Schedule, ...]:
    import chinese_calendar
    from chinese_calendar import constants

    version = getattr(chinese_calendar, "__version__", "")
    years = sorted({d.year for d in constants.holidays} | {d.year for d in constants.workdays})
    return tuple(
        Schedule(
            year=year,
            source=PACKAGE_SOURCE.format(version=version).replace("  ", " "),
            holidays=frozenset(d for d in constants.holidays if d.year == year),
            workdays=frozenset(d for d in constants.workdays if d.year == year),
        )
        for year in years
    )


def load_calendar(extra: Iterable[Schedule] = ()) -> ScheduleCalendar:
    """The packaged years, overridden or extended by ``extra`` schedules (later wins)."""
    return ScheduleCalendar([*packaged_schedules(), *extra])


def read_schedule_file(path: Path) -> Schedule:
    """Read one TOML schedule file (errors are InvalidInput in Chinese; OSError passes through)."""
    return parse_schedule(path.read_bytes())


class LiveCalendar:
    """The calendar a process reads: the packaged years plus the schedules stored in the database.

    It is a :class:`handoff.ports.Calendar` whose data can change while the process runs: an admin's
    upload is loaded at once in the process that took it (:meth:`load`); every other process picks
    it up on :meth:`refresh`, which costs one small query and rebuilds only when the stored
    schedules changed (a ``calendar.updated`` event, or a periodic check)."""

    def __init__(self, stored: Iterable[Schedule] = ()) -> None:
        self.current: ScheduleCalendar = load_calendar(stored)
        self._fingerprint: tuple[object, ...] | None = None

    def is_workday(self, day: date) -> bool:
        return self.current.is_workday(day)

    def covers(self, day: date) -> bool:
        return self.current.covers(day)

    def load(self, schedule: Schedule) -> None:
        self.current = self.current.with_schedule(schedule)

    async def refresh(self, conn: AsyncConnection) -> bool:
        """Reload the stored schedules if they changed since the last look; True when reloaded."""
        from adapters.db import queries

        fingerprint = await queries.schedules_fingerprint(conn)
        if fingerprint == self._fingerprint:
            return False
        self.current = load_calendar(await queries.schedules(conn))
        self._fingerprint = fingerprint
        return True
