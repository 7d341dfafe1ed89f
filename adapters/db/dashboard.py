"""Read side of the supervisor's dashboard: one row of facts per case (``case_facts``, kept by the
projections group) with what the groupings need — window, department, their regions, the matter as
registered — and the lists behind it (差评 and their 整改, 督办). Scope as everywhere: a row is
visible when its window or its department is in the caller's scope."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from adapters.db import domain_tables as t
from adapters.db.reports import Scope, scope_offices
from adapters.db.worker_tables import case_facts


async def _in_scope(conn: AsyncConnection, scope: Scope, window: Any, department: Any) -> ColumnElement[bool] | None:
    offices = await scope_offices(conn, scope)
    if offices is None:
        return None
    return or_(window.in_(offices), department.in_(offices)) if offices else literal(False)


async def fact_rows(conn: AsyncConnection, scope: Scope, start: date | None, end: date | None) -> list[dict[str, Any]]:
    """The facts of the cases collected in [start, end] (days in China), with names and regions."""
    f, c = case_facts.c, t.cases.c
    window, dept = t.offices.alias("w"), t.offices.alias("d")
    wr, dr = t.regions.alias("wr"), t.regions.alias("dr")
    terms = c.matter_terms
    query = (
        select(
            f.case_id,
            f.collected_on,
            f.window_office_id,
            f.department_office_id,
            f.accepted,
            f.decided,
            f.due_passed,
            f.early,
            f.overdue,
            f.trip_saved,
            f.distance_km,
            f.rating,
            f.bad_rating,
            f.rectified,
            c.case_no,
            c.state,
            c.matter_id,
            terms["name"].as_string().label("matter_name"),
            terms["legal_limit"].as_integer().label("legal_limit"),
            terms["promised_limit"].as_integer().label("promised_limit"),
            terms["kind"].as_string().label("matter_kind"),
            window.c.name.label("window_name"),
            dept.c.name.label("department_name"),
            window.c.region_code.label("window_region"),
            dept.c.region_code.label("department_region"),
            wr.c.name.label("window_region_name"),
            dr.c.name.label("department_region_name"),
        )
        .select_from(case_facts)
        .join(t.cases, c.id == f.case_id)
        .join(window, window.c.id == f.window_office_id)
        .join(dept, dept.c.id == f.department_office_id)
        .outerjoin(wr, wr.c.code == window.c.region_code)
        .outerjoin(dr, dr.c.code == dept.c.region_code)
        .order_by(f.collected_on, f.case_id)
    )
    where: list[ColumnElement[bool]] = []
    scoped = await _in_scope(conn, scope, f.window_office_id, f.department_office_id)
    if scoped is not None:
        where.append(scoped)
    if start is not None:
        where.append(f.collected_on >= start)
    if end is not None:
        where.append(f.collected_on <= end)
    if where:
        query = query.where(and_(*where))
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def bad_ratings(
    conn: AsyncConnection, scope: Scope, start: date | None, end: date | None
) -> list[dict[str, Any]]:
    """差评 (score ≤ 2) of the cases collected in [start, end], the oldest rating first."""
    r, c = t.ratings.c, t.cases.c
    window, dept = t.offices.alias("w"), t.offices.alias("d")
    query = (
        select(
            r.case_id,
            r.score,
            r.comment,
            r.at,
            r.rectified_at,
            r.rectification,
            r.rectify_due_on,
            c.case_no,
            c.state,
            c.collected_at,
            c.matter_terms["name"].as_string().label("matter_name"),
            window.c.name.label("window_name"),
            dept.c.name.label("department_name"),
        )
        .select_from(t.ratings)
        .join(t.cases, c.id == r.case_id)
        .join(window, window.c.id == c.window_office_id)
        .join(dept, dept.c.id == c.department_office_id)
        .where(r.score <= 2)
        .order_by(r.at, r.case_id)
    )
    scoped = await _in_scope(conn, scope, c.window_office_id, c.department_office_id)
    if scoped is not None:
        query = query.where(scoped)
    rows = [dict(row) for row in (await conn.execute(query)).mappings()]
    return [row for row in rows if _collected_within(row["collected_at"], start, end)]


def _collected_within(at: Any, start: date | None, end: date | None) -> bool:
    from handoff.timeutil import local_date

    day = local_date(at)
    return (start is None or day >= start) and (end is None or day <= end)


async def supervisions(conn: AsyncConnection, scope: Scope, *, open_only: bool, limit: int) -> list[dict[str, Any]]:
    """督办, the open ones first, each part newest first."""
    s, c = t.case_supervisions.c, t.cases.c
    window, dept = t.offices.alias("w"), t.offices.alias("d")
    query = (
        select(
            s.case_id,
            s.seq,
            s.note,
            s.by,
            s.at,
            s.answer,
            s.answered_at,
            s.answered_by,
            c.case_no,
            c.state,
            c.matter_terms["name"].as_string().label("matter_name"),
            window.c.name.label("window_name"),
            dept.c.name.label("department_name"),
        )
        .select_from(t.case_supervisions)
        .join(t.cases, c.id == s.case_id)
        .join(window, window.c.id == c.window_office_id)
        .join(dept, dept.c.id == c.department_office_id)
        .order_by(s.answered_at.is_not(None), s.at.desc(), s.case_id)
        .limit(limit)
    )
    if open_only:
        query = query.where(s.answered_at.is_(None))
    scoped = await _in_scope(conn, scope, c.window_office_id, c.department_office_id)
    if scoped is not None:
        query = query.where(scoped)
    return [dict(r) for r in (await conn.execute(query)).mappings()]
