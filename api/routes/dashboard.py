"""The supervisor's dashboard (issue 18): seed 002's indicators for a period grouped by region,
window, department, matter, day or month, with the cases behind each figure; the 差评 and their
整改; 督办 — a supervisor marks a case for the department's attention, the department answers.

The figures are handoff/stats.py's own: each group's :func:`handoff.stats.indicators` over the
facts the projections group keeps per case (``case_facts``, recomputed from the case on each of
its events), plus 时限压缩率 and 即办程度 over the group's distinct matters as registered."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from adapters.db import dashboard as db
from api.auth import Role
from api.authority import Authority
from api.problems import Problem
from api.routes.common import API, CASE_VIEW, container, run_case, today
from api.routes.reports import figures_view, report_scope
from api.routing import INT, STR, Ctx, array, enum, nullable, obj, text
from api.views import iso
from handoff.labels_zh import STATE_ZH
from handoff.stats import CaseFacts, MatterTerms, indicators, matter_figures

JSON = dict[str, Any]
TAG = "监管"
SUPERVISORS = {Role.SUPERVISOR, Role.ADMIN}

GROUPS = ("none", "day", "month", "window", "department", "window_region", "department_region", "matter")
GROUP_ZH = {
    "none": "合计",
    "day": "按日",
    "month": "按月",
    "window": "按代收窗口",
    "department": "按审批部门",
    "window_region": "按代收地区县",
    "department_region": "按属地区县",
    "matter": "按事项",
}


def _key(grouping: str, row: Mapping[str, Any]) -> tuple[str, str]:
    """(key, name) of the row's group."""
    if grouping == "day":
        day = row["collected_on"].isoformat()
        return day, day
    if grouping == "month":
        month = row["collected_on"].isoformat()[:7]
        return month, month
    if grouping in ("window", "department"):
        return row[f"{grouping}_office_id"], row[f"{grouping}_name"]
    if grouping in ("window_region", "department_region"):
        return row[grouping], row[f"{grouping}_name"] or row[grouping]
    if grouping == "matter":
        return row["matter_id"], row["matter_name"] or row["matter_id"]
    return "all", "合计"


def _facts(row: Mapping[str, Any]) -> CaseFacts:
    return CaseFacts(
        case_id=row["case_id"],
        accepted=row["accepted"],
        decided=row["decided"],
        due_passed=row["due_passed"],
        early=row["early"],
        overdue=row["overdue"],
        trip_saved=row["trip_saved"],
        distance_km=float(row["distance_km"]),
        rating=row["rating"],
        bad_rating=row["bad_rating"],
        rectified=row["rectified"],
    )


FIGURE_FILTERS: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "cases": lambda r: True,
    "accepted": lambda r: bool(r["accepted"]),
    "decided": lambda r: bool(r["decided"]),
    "should_be_decided": lambda r: bool(r["decided"] or (r["accepted"] and r["due_passed"])),
    "due_passed": lambda r: bool(r["accepted"] and r["due_passed"] and not r["decided"]),
    "early": lambda r: bool(r["early"]),
    "overdue": lambda r: bool(r["overdue"]),
    "trips_saved": lambda r: bool(r["trip_saved"]),
    "rated": lambda r: r["rating"] is not None,
    "bad": lambda r: bool(r["bad_rating"]),
    "rectified": lambda r: bool(r["rectified"]),
    "not_rectified": lambda r: bool(r["bad_rating"] and not r["rectified"]),
}
FIGURE_ZH = {
    "cases": "办件",
    "accepted": "已受理",
    "decided": "已办结",
    "should_be_decided": "应办结",
    "due_passed": "超时未办结",
    "early": "提前办结",
    "overdue": "逾期",
    "trips_saved": "少跑一次",
    "rated": "已评价",
    "bad": "差评",
    "rectified": "差评及时整改",
    "not_rectified": "差评未及时整改",
}


def group_figures(rows: Iterable[Mapping[str, Any]]) -> JSON:
    rows = list(rows)
    matters = matter_figures(
        MatterTerms(
            r["matter_id"], int(r["legal_limit"] or 0), int(r["promised_limit"] or 0), r["matter_kind"] == "instant"
        )
        for r in rows
    )
    return {
        **figures_view(indicators(_facts(r) for r in rows)),
        "bad": sum(bool(r["bad_rating"]) for r in rows),
        "rectified": sum(bool(r["rectified"]) for r in rows),
        "overdue_running": sum(FIGURE_FILTERS["due_passed"](r) for r in rows),
        "matters": matters.matters,
        "legal_days": matters.legal_days,
        "promised_days": matters.promised_days,
        "instant_matters": matters.instant,
        "time_compression": matters.time_compression,
        "instant_share": matters.instant_share,
    }


def _day(ctx: Ctx, name: str) -> date | None:
    raw = ctx.query.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise Problem(422, f"查询参数 {name} 应为日期（YYYY-MM-DD）") from exc


def _period(ctx: Ctx) -> tuple[date | None, date | None]:
    start, end = _day(ctx, "from"), _day(ctx, "to")
    if start and end and start > end:
        raise Problem(422, "起始日期晚于结束日期")
    return start, end


PERIOD: dict[str, Any] = {
    "from": {"type": "string", "format": "date"},
    "to": {"type": "string", "format": "date"},
}
FIGURES = obj(
    ["cases", "completion_rate", "early_rate", "overdue", "rectification_rate", "time_compression", "instant_share"],
    extra=True,
    cases=INT,
    overdue=INT,
)


@API.route(
    "GET",
    "/api/v1/dashboard",
    summary="监管看板：所选期间（按收件日）的通办评价指标，按区县、窗口、部门、事项、日或月分组；含时限压缩率、即办程度",
    tag=TAG,
    roles=SUPERVISORS,
    query={**PERIOD, "group": enum(list(GROUPS))},
    response=obj(
        ["group", "total", "groups"],
        extra=True,
        group=STR,
        total=FIGURES,
        groups=array(obj(["key", "name", "figures"], key=STR, name=STR, figures=FIGURES), max_items=100000),
    ),
)
async def dashboard(ctx: Ctx) -> JSON:
    start, end = _period(ctx)
    grouping = ctx.query.get("group", "none")
    async with container(ctx).engine.connect() as conn:
        rows = await db.fact_rows(conn, report_scope(ctx), start, end)
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(_key(grouping, row), []).append(row)
    return {
        "from": iso(start),
        "to": iso(end),
        "group": grouping,
        "group_zh": GROUP_ZH[grouping],
        "total": group_figures(rows),
        "groups": [
            {"key": key, "name": name, "figures": group_figures(members)}
            for (key, name), members in sorted(groups.items())
        ],
    }


DRILL_ROW = obj(
    ["case_id", "case_no", "matter_name", "window", "department", "state", "state_zh", "collected_on"],
    case_id=STR,
    case_no=STR,
    matter_name=STR,
    window=STR,
    department=STR,
    state=STR,
    state_zh=STR,
    collected_on=STR,
)


@API.route(
    "GET",
    "/api/v1/dashboard/cases",
    summary="看板钻取：某一分组某项指标背后的办件",
    tag=TAG,
    roles=SUPERVISORS,
    query={
        **PERIOD,
        "group": enum(list(GROUPS)),
        "key": {"type": "string", "maxLength": 64},
        "figure": enum(list(FIGURE_FILTERS)),
        "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
    },
    response=obj(
        ["figure", "figure_zh", "count", "items"], extra=True, count=INT, items=array(DRILL_ROW, max_items=1000)
    ),
)
async def dashboard_cases(ctx: Ctx) -> JSON:
    start, end = _period(ctx)
    grouping = ctx.query.get("group", "none")
    key = ctx.query.get("key")
    figure = ctx.query.get("figure", "cases")
    limit = int(ctx.query.get("limit", "200"))
    async with container(ctx).engine.connect() as conn:
        rows = await db.fact_rows(conn, report_scope(ctx), start, end)
    chosen = FIGURE_FILTERS[figure]
    found = [r for r in rows if (key is None or _key(grouping, r)[0] == key) and chosen(r)]
    return {
        "figure": figure,
        "figure_zh": FIGURE_ZH[figure],
        "count": len(found),
        "items": [
            {
                "case_id": r["case_id"],
                "case_no": r["case_no"] or "",
                "matter_name": r["matter_name"] or "",
                "window": r["window_name"],
                "department": r["department_name"],
                "state": r["state"],
                "state_zh": STATE_ZH[r["state"]],
                "collected_on": r["collected_on"].isoformat(),
            }
            for r in found[:limit]
        ],
    }


RATING_ROW = obj(
    ["case_id", "case_no", "score", "comment", "rated_at", "rectify_due_on", "rectified_at", "status", "status_zh"],
    extra=True,
    case_id=STR,
    score=INT,
    status=enum(["open", "overdue", "in_time", "late"]),
)
RECTIFY_STATUS_ZH = {"open": "待整改", "overdue": "逾期未整改", "in_time": "已及时整改", "late": "超期整改"}


def rectify_status(row: Mapping[str, Any], day: date) -> str:
    from handoff.timeutil import local_date

    due: date | None = row["rectify_due_on"]
    if row["rectified_at"] is None:
        return "overdue" if due is not None and day > due else "open"
    return "late" if due is not None and local_date(row["rectified_at"]) > due else "in_time"


@API.route(
    "GET",
    "/api/v1/dashboard/ratings",
    summary="差评及其整改：整改期限、答复、是否及时（差评整改率只计及时整改的）",
    tag=TAG,
    roles=SUPERVISORS | {Role.DEPT_CLERK, Role.DEPT_LEAD},
    query=PERIOD,
    response=obj(["items"], items=array(RATING_ROW, max_items=100000)),
)
async def dashboard_ratings(ctx: Ctx) -> JSON:
    start, end = _period(ctx)
    c = container(ctx)
    day = today(c)
    async with c.engine.connect() as conn:
        rows = await db.bad_ratings(conn, report_scope(ctx), start, end)
    items = []
    for r in rows:
        status = rectify_status(r, day)
        items.append(
            {
                "case_id": r["case_id"],
                "case_no": r["case_no"] or "",
                "matter_name": r["matter_name"] or "",
                "window": r["window_name"],
                "department": r["department_name"],
                "score": r["score"],
                "comment": r["comment"],
                "rated_at": iso(r["at"]),
                "rectify_due_on": iso(r["rectify_due_on"]),
                "rectified_at": iso(r["rectified_at"]),
                "rectification": r["rectification"],
                "status": status,
                "status_zh": RECTIFY_STATUS_ZH[status],
            }
        )
    return {"items": items}


# =========================================================================== 督办

SUPERVISION_ROW = obj(
    ["case_id", "case_no", "seq", "note", "by", "at", "answer", "answered_at", "open"],
    extra=True,
    case_id=STR,
    seq=INT,
    note=STR,
    answered_at=nullable(STR),
)


@API.route(
    "POST",
    "/api/v1/cases/{case_id}/supervision",
    summary="督办：管辖审批部门的监管人员标记办件并留言，审批部门在督办队列中看到，短信通知其分管领导",
    tag=TAG,
    roles={Role.SUPERVISOR},
    body=obj(["note"], note=text(1000)),
    response=CASE_VIEW,
    unit=True,
    authority=Authority.SUPERVISION,
)
async def supervise(ctx: Ctx) -> JSON:
    return await run_case(ctx, "supervise", dict(ctx.body))


@API.route(
    "POST",
    "/api/v1/cases/{case_id}/supervision/answer",
    summary="督办答复（审批部门）",
    tag="审批部门",
    roles={Role.DEPT_CLERK, Role.DEPT_LEAD},
    body=obj(["answer"], answer=text(2000)),
    response=CASE_VIEW,
    unit=True,
    authority=Authority.DEPARTMENT,
)
async def answer_supervision(ctx: Ctx) -> JSON:
    return await run_case(ctx, "answer_supervision", dict(ctx.body))


@API.route(
    "GET",
    "/api/v1/supervisions",
    summary="督办队列：待答复的在前（审批部门看本部门的，监管人员看本人范围的）",
    tag=TAG,
    roles={Role.SUPERVISOR, Role.ADMIN, Role.DEPT_CLERK, Role.DEPT_LEAD},
    query={"state": enum(["open", "all"]), "limit": {"type": "integer", "minimum": 1, "maximum": 500}},
    response=obj(["items"], items=array(SUPERVISION_ROW, max_items=500)),
)
async def supervision_queue(ctx: Ctx) -> JSON:
    limit = int(ctx.query.get("limit", "100"))
    async with container(ctx).engine.connect() as conn:
        rows = await db.supervisions(
            conn, report_scope(ctx), open_only=ctx.query.get("state", "open") == "open", limit=limit
        )
    return {
        "items": [
            {
                "case_id": r["case_id"],
                "case_no": r["case_no"] or "",
                "matter_name": r["matter_name"] or "",
                "window": r["window_name"],
                "department": r["department_name"],
                "state": r["state"],
                "state_zh": STATE_ZH[r["state"]],
                "seq": r["seq"],
                "note": r["note"],
                "by": r["by"],
                "at": iso(r["at"]),
                "answer": r["answer"],
                "answered_at": iso(r["answered_at"]),
                "answered_by": r["answered_by"],
                "open": r["answered_at"] is None,
            }
            for r in rows
        ]
    }
