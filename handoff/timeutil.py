"""Time as the domain sees it: aware UTC datetimes in, dates in China Standard Time out.

China has used UTC+08:00 all year since 1991, so a fixed offset is exact for every date the
service handles; no tz database is needed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from handoff.errors import InvalidInput

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def require_aware(at: datetime, what: str = "时间") -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(f"{what}必须带时区（例如 2026-03-02T09:30:00+08:00）")
    return at.astimezone(UTC)


def local_date(at: datetime) -> date:
    """The calendar date in China of an aware datetime."""
    return require_aware(at).astimezone(CHINA).date()


def local_text(at: datetime) -> str:
    """``2026-03-02 09:30`` in China time, for documents and SMS."""
    return require_aware(at).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def date_zh(day: date) -> str:
    """``2026 年 3 月 2 日``: a date as the notices print it."""
    return f"{day.year} 年 {day.month} 月 {day.day} 日"
