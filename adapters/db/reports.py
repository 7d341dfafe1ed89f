"""Read side of the workers' tables: the indicator sums, the deadline board. Scope filtering is the
ledger's: a row is visible when its window or its department is in the caller's scope (offices, or
region-code prefixes; everything when both are None)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, and_, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from adapters.db import domain_tables as t
from adapters.db.worker_tables import INDICATOR_COUNTS, case_clocks, indicator_days, indicator_stage_days
from handoff.stats import Indicators

GROUPINGS = ("none", "day", "month", "window", "department", "window_region", "department_region")


@dataclass(frozen=True)
class Scope:
    office_ids: Sequence[str] | None
    region_prefixes: Sequence[str] | None

    @property
    def everything(self) -> bool:
        return self.office_ids is None and self.region_prefixes is None


def _scoped(table: Any, window: Any, dept: Any, scope: Scope) -> ColumnElement[bool] | None:
    if scope.everything:
        return None
    parts: list[ColumnElement[bool]] = []
    if scope.office_ids:
        parts += [table.c.window_office_id.in_(scope.office_ids), table.c.department_office_id.in_(scope.office_ids)]
    for prefix in scope.region_prefixes or ():
        parts += [window.c.region_code.startswith(prefix), dept.c.region_code.startswith(prefix)]
    return or_(*parts) if parts else literal(False)


@dataclass(frozen=True)
class IndicatorGroup:
    key: str
    name: str
    figures: Indicators


async def indicator_groups(
    conn: AsyncConnection, scope: Scope, start: date | None, end: date | None, grouping: str
) -> list[IndicatorGroup]:
    """The sums of ``indicator_days`` over [start, end] (collection days), one per group."""
    window, dept = t.offices.alias("w"), t.offices.alias("d")
    key, name = _grouping(grouping, indicator_days, window, dept, conn.dialect.name)
    sums = [func.coalesce(func.sum(getattr(indicator_days.c, c)), 0).label(c) for c in INDICATOR_COUNTS]
    query = (
        select(
            key.label("key"),
            name.label("name"),
            *sums,
            func.coalesce(func.sum(indicator_days.c.distance_saved_km), 0.0),
        )
        .select_from(indicator_days)
        .join(window, window.c.id == indicator_days.c.window_office_id)
        .join(dept, dept.c.id == indicator_days.c.department_office_id)
        .group_by(key, name)
        .order_by(key)
    )
    conditions = _conditions(indicator_days, window, dept, scope, start, end)
    if conditions is not None:
        query = query.where(conditions)
    groups = []
    for row in await conn.execute(query):
        counts = {c: int(row[i + 2]) for i, c in enumerate(INDICATOR_COUNTS)}
        figures = Indicators(**counts, distance_saved_km=round(float(row[-1]), 3))
        groups.append(IndicatorGroup(key=str(row[0]), name=str(row[1]), figures=figures))
    return groups


async def stage_sums(
    conn: AsyncConnection, scope: Scope, start: date | None, end: date | None
) -> list[tuple[str, int, int, int]]:
    """(stage type, stages, working days, calendar days) over the period: the special stages by type."""
    window, dept = t.offices.alias("w"), t.offices.alias("d")
    query = (
        select(
            indicator_stage_days.c.stage_type,
            func.sum(indicator_stage_days.c.stages),
            func.sum(indicator_stage_days.c.working_days),
            func.sum(indicator_stage_days.c.calendar_days),
        )
        .join(window, window.c.id == indicator_stage_days.c.window_office_id)
        .join(dept, dept.c.id == indicator_stage_days.c.department_office_id)
        .group_by(indicator_stage_days.c.stage_type)
        .order_by(indicator_stage_days.c.stage_type)
    )
    conditions = _conditions(indicator_stage_days, window, dept, scope, start, end)
    if conditions is not None:
        query = query.where(conditions)
    return [(r[0], int(r[1]), int(r[2]), int(r[3])) for r in await conn.execute(query) if r[1]]


def _conditions(
    table: Any, window: Any, dept: Any, scope: Scope, start: date | None, end: date | None
) -> ColumnElement[bool] | None:
    parts: list[ColumnElement[bool]] = []
    scoped = _scoped(table, window, dept, scope)
    if scoped is not None:
        parts.append(scoped)
    if start is not None:
        parts.append(table.c.day >= start)
    if end is not None:
        parts.append(table.c.day <= end)
    return and_(*parts) if parts else None


def _grouping(grouping: str, table: Any, window: Any, dept: Any, dialect: str) -> tuple[Any, Any]:
    if grouping == "day":
        day = cast(table.c.day, String)
        return day, day
    if grouping == "month":
        month = func.to_char(table.c.day, "YYYY-MM") if dialect == "postgresql" else func.strftime("%Y-%m", table.c.day)
        return month, month
    if grouping == "window":
        return window.c.id, window.c.name
    if grouping == "department":
        return dept.c.id, dept.c.name
    if grouping in ("window_region", "department_region"):
        office = window if grouping == "window_region" else dept
        region = t.regions.alias(f"r_{grouping}")
        name = select(region.c.name).where(region.c.code == office.c.region_code).correlate(office).scalar_subquery()
        return office.c.region_code, func.coalesce(name, office.c.region_code)
    return literal("all"), literal("合计")


# --------------------------------------------------------------------------- the deadline board


async def deadline_board(
    conn: AsyncConnection, scope: Scope, kind: str, limit: int, after: str | None = None
) -> list[dict[str, Any]]:
    """Watched cases by ``kind``; keyset pagination on the case id within the order:

    * ``overdue``: past the promised limit; ``legal_overdue``: past the legal limit (法定期限);
    * ``due_soon``: not overdue, the fewest working days left first;
    * ``forwarding``: the department has not signed for the materials within the window's
      2-working-day promise (Appendix A);
    * ``prereview``: signed for, and neither accepted, rejected nor sent back for a supplement
      within the pre-review's working days (预审);
    * ``iou``: 容缺 materials still owed, the earliest due date first."""
    window, dept = t.offices.alias("w"), t.offices.alias("d")
    query = (
        select(
            case_clocks,
            t.cases.c.matter_terms,
            window.c.name.label("window_name"),
            dept.c.name.label("department_name"),
        )
        .join(t.cases, t.cases.c.id == case_clocks.c.case_id)
        .join(window, window.c.id == case_clocks.c.window_office_id)
        .join(dept, dept.c.id == case_clocks.c.department_office_id)
        .where(case_clocks.c.watching.is_(True))
    )
    scoped = _scoped(case_clocks, window, dept, scope)
    if scoped is not None:
        query = query.where(scoped)
    if kind == "overdue":
        query = query.where(case_clocks.c.overdue.is_(True)).order_by(case_clocks.c.due_on, case_clocks.c.case_id)
    elif kind == "legal_overdue":
        query = query.where(case_clocks.c.legal_overdue.is_(True)).order_by(
            case_clocks.c.legal_due_on, case_clocks.c.case_id
        )
    elif kind == "forwarding":
        # The promise ends at the department's signature (the case received), not at pick-up.
        query = query.where(
            case_clocks.c.state.in_(["collected", "forwarded"]),
            case_clocks.c.forwarding_due_on < case_clocks.c.as_of,
        ).order_by(case_clocks.c.forwarding_due_on, case_clocks.c.case_id)
    elif kind == "prereview":
        query = query.where(case_clocks.c.state == "received", case_clocks.c.prereview_overdue.is_(True)).order_by(
            case_clocks.c.prereview_due_on, case_clocks.c.case_id
        )
    elif kind == "iou":
        query = query.where(case_clocks.c.iou_due_on.is_not(None)).order_by(
            case_clocks.c.iou_due_on, case_clocks.c.case_id
        )
    else:
        query = query.where(case_clocks.c.remaining.is_not(None), case_clocks.c.overdue.is_(False)).order_by(
            case_clocks.c.remaining, case_clocks.c.due_on, case_clocks.c.case_id
        )
    rows = [dict(r) for r in (await conn.execute(query)).mappings()]
    if after is not None:
        ids = [r["case_id"] for r in rows]
        rows = rows[ids.index(after) + 1 :] if after in ids else []
    return rows[:limit]


# --------------------------------------------------------------------------- stalled packages


async def stalled_packages(
    conn: AsyncConnection, moved_before: datetime, scope: Scope | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Packages still on their way (DESIGN §4) whose last custody event is older than
    ``moved_before`` — the oldest first; within ``scope`` when given (the sending or receiving office)."""
    moving = ["sealed", "with_courier", "in_transit", "arrived", "pushed"]
    query = (
        select(
            t.packages.c.id,
            t.packages.c.code,
            t.packages.c.case_id,
            t.packages.c.state,
            t.packages.c.holder,
            t.packages.c.from_party,
            t.packages.c.to_party,
            t.packages.c.carrier,
            t.packages.c.waybill,
            t.packages.c.last_movement_at,
        )
        .where(t.packages.c.state.in_(moving), t.packages.c.last_movement_at < moved_before)
        .order_by(t.packages.c.last_movement_at, t.packages.c.id)
    )
    if scope is not None and not scope.everything:
        window, dept = t.offices.alias("w"), t.offices.alias("d")
        query = query.join(t.cases, t.cases.c.id == t.packages.c.case_id)
        query = query.join(window, window.c.id == t.cases.c.window_office_id).join(
            dept, dept.c.id == t.cases.c.department_office_id
        )
        scoped = _scoped(t.cases, window, dept, scope)
        if scoped is not None:
            query = query.where(scoped)
    if limit is not None:
        query = query.limit(limit)
    return [dict(r) for r in (await conn.execute(query)).mappings()]
