"""The working-day calendar as data: per year, the State Council's days off and make-up workdays.

A working day is a weekday that is not a holiday, or a make-up workday (调休上班). A year that no
schedule covers is not guessed at silently: :meth:`ScheduleCalendar.covers` says so, and the clock
turns that into a *provisional* answer with the reason.

Schedule files are TOML that an admin types from the year's official notice::

    year = 2027
    source = "国务院办公厅关于2027年部分节假日安排的通知"
    holidays = ["2027-01-01", ...]   # days off
    workdays = ["2027-02-07", ...]   # make-up working days
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from handoff.errors import InvalidInput

MIN_YEAR = 1990
MAX_YEAR = 2100


@dataclass(frozen=True)
class Schedule:
    """One year's official arrangement. ``holidays`` are days off (weekdays or not); ``workdays``
    are weekend days that are worked."""

    year: int
    source: str
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not MIN_YEAR <= self.year <= MAX_YEAR:
            raise InvalidInput(f"年份 {self.year} 超出可接受范围（{MIN_YEAR}–{MAX_YEAR}）")
        for kind, days in (("holidays", self.holidays), ("workdays", self.workdays)):
            stray = sorted(d for d in days if d.year != self.year)
            if stray:
                raise InvalidInput(f"{kind} 中的日期 {stray[0].isoformat()} 不属于 {self.year} 年")
        both = sorted(self.holidays & self.workdays)
        if both:
            raise InvalidInput(f"日期 {both[0].isoformat()} 不能既是放假日又是调休上班日")
        weekday_workdays = sorted(d for d in self.workdays if d.weekday() < 5)
        if weekday_workdays:
            raise InvalidInput(
                f"调休上班日 {weekday_workdays[0].isoformat()} 是工作日（周一至周五），无需列入 workdays"
            )

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5


def parse_schedule(text: str | bytes) -> Schedule:
    """Parse a schedule file. Every error is an :class:`InvalidInput` with a Chinese message that
    names the field, so an admin can fix the file."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput("日程文件不是有效的 UTF-8 文本") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"日程文件不是有效的 TOML：{exc}") from exc
    unknown = sorted(set(data) - {"year", "source", "holidays", "workdays"})
    if unknown:
        raise InvalidInput("日程文件含有未知字段：" + "、".join(unknown))
    year = data.get("year")
    if not isinstance(year, int) or isinstance(year, bool):
        raise InvalidInput("日程文件缺少整数字段 year（例如 year = 2027）")
    source = data.get("source", "")
    if not isinstance(source, str) or not source.strip():
        raise InvalidInput("日程文件缺少 source（通知的名称或文号）")
    return Schedule(
        year=year,
        source=source.strip(),
        holidays=_dates(data.get("holidays", []), "holidays"),
        workdays=_dates(data.get("workdays", []), "workdays"),
    )


def _dates(raw: object, name: str) -> frozenset[date]:
    if not isinstance(raw, list):
        raise InvalidInput(f"{name} 必须是日期列表")
    days: set[date] = set()
    for item in raw:
        if isinstance(item, date):
            days.add(item)
            continue
        if not isinstance(item, str):
            raise InvalidInput(f"{name} 中的 {item!r} 不是日期")
        try:
            days.add(date.fromisoformat(item.strip()))
        except ValueError as exc:
            raise InvalidInput(f"{name} 中的 “{item}” 不是 YYYY-MM-DD 格式的日期") from exc
    return frozenset(days)


def render_schedule(schedule: Schedule) -> str:
    """The TOML text of a schedule (what :func:`parse_schedule` reads back)."""

    def days(ds: Iterable[date]) -> str:
        return "[" + ", ".join(f'"{d.isoformat()}"' for d in sorted(ds)) + "]"

    source = schedule.source.replace("\\", "\\\\").replace('"', '\\"')
    return (
        f"year = {schedule.year}\n"
        f'source = "{source}"\n'
        f"holidays = {days(schedule.holidays)}\n"
        f"workdays = {days(schedule.workdays)}\n"
    )


class ScheduleCalendar:
    """A :class:`handoff.ports.Calendar` made of yearly schedules. Later schedules for the same
    year replace earlier ones (an admin's upload overrides the packaged data)."""

    def __init__(self, schedules: Iterable[Schedule] = ()) -> None:
        self._years: dict[int, Schedule] = {}
        for schedule in schedules:
            self._years[schedule.year] = schedule

    @classmethod
    def from_mapping(cls, years: Mapping[int, Schedule]) -> ScheduleCalendar:
        return cls(years.values())

    def with_schedule(self, schedule: Schedule) -> ScheduleCalendar:
        """A new calendar with ``schedule`` loaded (replacing that year's)."""
        return ScheduleCalendar([*self._years.values(), schedule])

    def covers(self, day: date) -> bool:
        return day.year in self._years

    def is_workday(self, day: date) -> bool:
        schedule = self._years.get(day.year)
        if schedule is None:
            return day.weekday() < 5
        return schedule.is_workday(day)

    def covered_years(self) -> tuple[int, ...]:
        return tuple(sorted(self._years))

    def schedule(self, year: int) -> Schedule | None:
        return self._years.get(year)

    def last_covered_year(self) -> int | None:
        return max(self._years) if self._years else None


def first_difference(before: ScheduleCalendar, after: ScheduleCalendar) -> date | None:
    """The first date on which the two calendars answer differently — whether it is a working day,
    or whether a schedule covers it (a year loaded or dropped changes every one of its days: its
    readings stop or start being provisional) — or None when they agree on every date."""
    first: date | None = None
    for year in sorted(set(before.covered_years()) | set(after.covered_years())):
        old, new = before.schedule(year), after.schedule(year)
        if old is None or new is None:
            first = date(year, 1, 1)
        else:
            moved = (old.holidays ^ new.holidays) | (old.workdays ^ new.workdays)
            changed = sorted(d for d in moved if old.is_workday(d) != new.is_workday(d))
            if changed:
                first = changed[0]
        if first is not None:
            return first
    return None


def next_year_missing(calendar: ScheduleCalendar, today: date) -> int | None:
    """From November on, the year to come must be loaded: return it when it is not, else None."""
    if today.month >= 11 and not calendar.covers(date(today.year + 1, 1, 1)):
        return today.year + 1
    return None
