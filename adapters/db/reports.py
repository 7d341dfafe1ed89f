"""Read side of the workers' tables: the indicator sums, the deadline board. Scope filtering is the
ledger's: a row is visible when its window or its department is in the caller's scope (offices, or
region-code prefixes; everything when both are None)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, func, literal, not_, or_, select, tuple_, union
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from adapters.db import domain_tables as t
from adapters.db.domain_tables import MOVING_STATES
from adapters.db.worker_tables import (
    FORWARDING_STATES,
    INDICATOR_COUNTS,
    PREREVIEW_STATE,
    case_clocks,
    indicator_days,
    indicator_stage_days,
)
from handoff.package import APPLICANT, PackageState
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


# --------------------------------------------------------------------------- pages of a dashboard

MAX_BRANCHES = 16
"""Offices in scope up to which a page is read office by office, each from its own index (at most
one page as window, one as department, then merged); a wider scope reads the global order and
filters, where the rows in scope are dense."""


async def scope_offices(conn: AsyncConnection, scope: Scope) -> list[str] | None:
    """The offices a scope covers: its office ids and the offices of its regions (None: everything).
    A row is in scope when its window or its department is one of them — as :func:`_scoped` says."""
    if scope.everything:
        return None
    offices = set(scope.office_ids or ())
    if scope.region_prefixes:
        regions = or_(*(t.offices.c.region_code.startswith(prefix) for prefix in scope.region_prefixes))
        offices.update((await conn.execute(select(t.offices.c.id).where(regions))).scalars())
    return sorted(offices)


def keyset_page(
    keys: Sequence[Any],
    order: Sequence[tuple[Any, bool]],
    where: Sequence[ColumnElement[bool]],
    offices: Sequence[str] | None,
    window: Any,
    department: Any,
    limit: int,
    name: str = "page",
) -> Any:
    """A subquery of the ``keys`` of one page: the rows matching ``where`` in ``order`` ((column,
    descending) pairs; the keyset condition is among ``where``), at most ``limit``, within
    ``offices`` (None: everything) as the window or the department columns say. The caller joins
    what it shows to these few keys."""

    def ordered(columns: Sequence[Any]) -> list[Any]:
        return [c.desc() if descending else c for c, descending in zip(columns, (d for _, d in order), strict=True)]

    def branch(*extra: ColumnElement[bool]) -> Any:
        return select(*keys).where(*where, *extra).order_by(*ordered([c for c, _ in order])).limit(limit)

    if offices is None:
        return branch().subquery(name)
    if not offices:
        return branch(literal(False)).subquery(name)
    if len(offices) > MAX_BRANCHES:
        return branch(or_(window.in_(offices), department.in_(offices))).subquery(name)
    # a case whose window and department are both in scope comes from two branches: UNION keeps
    # it once (excluding it from one branch instead would make that branch scan all such rows)
    parts = [branch(window == office) for office in offices] + [branch(department == office) for office in offices]
    merged = union(*(select(*p.subquery().c) for p in parts)).subquery()
    by = [merged.c[c.key] for c, _ in order]
    return select(*merged.c).order_by(*ordered(by)).limit(limit).subquery(name)


def encode_cursor(*values: object) -> str:
    """An opaque page cursor (JSON in URL-safe base64) of the last row's keyset values."""
    raw = json.dumps([v.isoformat() if isinstance(v, date | datetime) else v for v in values]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *kinds: type) -> tuple[Any, ...]:
    """The values of a cursor, each of the kind given (date, datetime with a timezone, int or str);
    ValueError for anything else (the API answers 422)."""
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise ValueError("bad cursor") from exc
    if not isinstance(values, list) or len(values) != len(kinds):
        raise ValueError("bad cursor")
    decoded: list[Any] = []
    for value, kind in zip(values, kinds, strict=True):
        if kind is datetime:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                raise ValueError("cursor time without a timezone")
            decoded.append(moment)
        elif kind is date:
            decoded.append(date.fromisoformat(value))
        elif kind is int and isinstance(value, int) and not isinstance(value, bool):
            decoded.append(value)
        elif kind is str and isinstance(value, str):
            decoded.append(value)
        else:
            raise ValueError("bad cursor")
    return tuple(decoded)


# --------------------------------------------------------------------------- the deadline board

BOARD_KINDS = ("overdue", "due_soon", "forwarding", "legal_overdue", "prereview", "iou")
BOARD_ORDER = {
    "overdue": "due_rank",
    "forwarding": "forwarding_due_on",
    "legal_overdue": "legal_due_rank",
    "prereview": "prereview_due_on",
    "iou": "iou_due_on",
}
"""The date each board (but ``due_soon``) is ordered by, then the case id: the promised and the
legal due dates by their working-day ranks (handoff.clock.workday_rank), which order the rows as
the dates do and which a calendar upload does not move (worker_tables: no board index names a
column the upload changes)."""
RANKED = ("overdue", "legal_overdue", "due_soon")


def board_cursor(kind: str, row: dict[str, Any]) -> str:
    """The cursor after ``row`` on the ``kind`` board."""
    if kind in BOARD_ORDER:
        return encode_cursor(kind, row[BOARD_ORDER[kind]], row["case_id"])
    return encode_cursor(kind, row["remaining"], row["due_rank"], row["case_id"])


def decode_board_cursor(kind: str, cursor: str) -> tuple[Any, ...]:
    """The keyset values of a cursor of the ``kind`` board (ValueError when it is not one)."""
    due: type = int if kind in RANKED else date
    kinds: tuple[type, ...] = (str, int, due, str) if kind == "due_soon" else (str, due, str)
    values = decode_cursor(cursor, *kinds)
    if values[0] != kind:
        raise ValueError("a cursor of another board")
    return values[1:]


async def deadline_board(
    conn: AsyncConnection, scope: Scope, kind: str, limit: int, after: tuple[Any, ...] | None = None
) -> list[dict[str, Any]]:
    """Watched cases by ``kind``, one page of ``limit`` rows after the keyset values ``after``
    (:func:`decode_board_cursor`):

    * ``overdue``: past the promised limit; ``legal_overdue``: past the legal limit (法定期限);
    * ``due_soon``: not overdue, the fewest working days left first;
    * ``forwarding``: the department has not signed for the materials within the window's
      2-working-day promise (Appendix A) — the promise ends at its signature, not at pick-up;
    * ``prereview``: signed for, and neither accepted, rejected nor sent back for a supplement
      within the pre-review's working days (预审);
    * ``iou``: 容缺 materials still owed, the earliest due date first."""
    c = case_clocks.c
    where: list[ColumnElement[bool]] = [c.watching.is_(True)]
    if kind == "overdue":
        where.append(c.overdue.is_(True))
        order = [c.due_rank, c.case_id]
    elif kind == "legal_overdue":
        where.append(c.legal_overdue.is_(True))
        order = [c.legal_due_rank, c.case_id]
    elif kind == "forwarding":
        where += [
            c.state.in_(bindparam("forwarding_states", FORWARDING_STATES, expanding=True, literal_execute=True)),
            c.forwarding_due_on < c.as_of,
        ]
        order = [c.forwarding_due_on, c.case_id]
    elif kind == "prereview":
        # the state inline, as the partial index's predicate names it
        where += [
            c.state == bindparam("prereview_state", PREREVIEW_STATE, literal_execute=True),
            c.prereview_overdue.is_(True),
        ]
        order = [c.prereview_due_on, c.case_id]
    elif kind == "iou":
        where.append(c.iou_due_on.is_not(None))
        order = [c.iou_due_on, c.case_id]
    else:
        where += [c.overdue.is_(False), c.remaining.is_not(None)]
        order = [c.remaining, c.due_rank, c.case_id]
    if after is not None:
        where.append(tuple_(*order) > tuple_(*(literal(v, o.type) for v, o in zip(after, order, strict=True))))
    offices = await scope_offices(conn, scope)
    page = keyset_page(
        order, [(o, False) for o in order], where, offices, c.window_office_id, c.department_office_id, limit
    )
    window, dept = t.offices.alias("w"), t.offices.alias("d")
    query = (
        select(
            case_clocks,
            t.cases.c.matter_terms["name"].as_string().label("matter_name"),
            window.c.name.label("window_name"),
            dept.c.name.label("department_name"),
        )
        .select_from(page)
        .join(case_clocks, c.case_id == page.c.case_id)
        .join(t.cases, t.cases.c.id == c.case_id)
        .join(window, window.c.id == c.window_office_id)
        .join(dept, dept.c.id == c.department_office_id)
        .order_by(*(page.c[o.key] for o in order))
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


# --------------------------------------------------------------------------- stalled packages


def on_their_way() -> list[ColumnElement[bool]]:
    """The SQL of :attr:`Package.on_its_way`: a moving state (the stalled index's predicate, the
    states inline), and not a result handed to the applicant, which is at the end of its journey."""
    p = t.packages.c
    moving: Any = bindparam("moving_states", MOVING_STATES, expanding=True, literal_execute=True)
    return [p.state.in_(moving), not_(and_(p.state == PackageState.ARRIVED.value, p.to_party == APPLICANT))]


async def stalled_packages(
    conn: AsyncConnection,
    moved_before: datetime,
    scope: Scope | None = None,
    limit: int | None = None,
    after: tuple[datetime, str] | None = None,
) -> list[dict[str, Any]]:
    """Packages still on their way (DESIGN §4) whose last custody event is older than
    ``moved_before`` — the oldest first, after the keyset ``after`` (last movement, package id);
    within ``scope`` when given (the case's window or department)."""
    p = t.packages.c
    query = (
        select(p.id, p.code, p.case_id, p.state, p.holder, p.from_party, p.to_party, p.carrier, p.waybill)
        .add_columns(p.last_movement_at)
        .where(*on_their_way(), p.last_movement_at < moved_before)
        .order_by(p.last_movement_at, p.id)
    )
    if after is not None:
        at, package_id = after
        query = query.where(tuple_(p.last_movement_at, p.id) > tuple_(literal(at, p.last_movement_at.type), package_id))
    offices = None if scope is None else await scope_offices(conn, scope)
    if offices is not None:
        query = query.join(t.cases, t.cases.c.id == p.case_id)
        query = query.where(
            or_(t.cases.c.window_office_id.in_(offices), t.cases.c.department_office_id.in_(offices))
            if offices
            else literal(False)
        )
    if limit is not None:
        query = query.limit(limit)
    return [dict(r) for r in (await conn.execute(query)).mappings()]
