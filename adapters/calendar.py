"""The packaged calendar: the State Council schedules that the ``chinesecalendar`` package carries
(2004–2026 in 1.11.0), turned into :class:`handoff.calendar.Schedule` data, plus schedule files."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

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
