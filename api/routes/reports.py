"""The supervisor's and staff's lists: ledger, indicators, stalled packages, deadline boards."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from adapters.db import queries, reports
from api.auth import Role
from api.problems import Problem
from api.routes.common import (
    API,
    STAFF,
    container,
    today,
)
from api.routing import (
    INT,
    STR,
    Ctx,
    array,
    nullable,
    obj,
)
from handoff.codes import PackageCode
from handoff.stats import Indicators, indicators
from handoff.timeutil import CHINA, local_date

LEDGER_ROW = obj(["case_id", "collected_at", "matter_name", "kind_zh", "applicant", "state_zh"], extra=True)
LEDGER_FILTERS: dict[str, Any] = {
    "state": {"type": "string"},
    "matter_id": {"type": "string"},
    "from": {"type": "string", "format": "date"},
    "to": {"type": "string", "format": "date"},
}


async def ledger_items(ctx: Ctx, *, limit: int, after: tuple[datetime, str] | None = None) -> list[dict[str, Any]]:
    """Rows of Appendix C that the caller may see, with the request's filters (``state`` as a
    comma-separated list, ``matter_id``, ``from`` and ``to`` collection dates), newest first: the
    JSON ledger and its exports read the same rows."""
    from handoff.labels_zh import CASE_KIND_ZH, STATE_ZH
    from handoff.privacy import mask_phone

    c, q, who = container(ctx), ctx.query, ctx.who
    try:
        start = datetime.fromisoformat(q["from"]).replace(tzinfo=CHINA) if q.get("from") else None
        end = (datetime.fromisoformat(q["to"]).replace(tzinfo=CHINA) + timedelta(days=1)) if q.get("to") else None
    except (ValueError, TypeError) as exc:
        raise Problem(422, "日期参数无效，应为 YYYY-MM-DD") from exc
    states = [s for s in q.get("state", "").split(",") if s]
    async with c.engine.connect() as conn:
        rows = await queries.ledger_page(
            conn,
            office_ids=None if who.scope.everything else sorted(who.scope.offices),
            region_prefixes=None if who.scope.everything else list(who.scope.regions),
            states=states,
            matter_id=q.get("matter_id"),
            collected_from=start,
            collected_to=end,
            after=after,
            limit=limit,
        )
        clerks = await queries.collectors(conn, [r["id"] for r in rows])
        names = await queries.user_names(conn, clerks.values())
    return [
        {
            "case_id": r["id"],
            "case_no": r["case_no"] or "",
            "collected_at": r["collected_at"].isoformat(),
            "department": r["department_name"],
            "matter_name": r["matter_name"],
            "quantity": 1,
            "kind_zh": CASE_KIND_ZH[r["matter_kind"]],
            "applicant": r["applicant_name"],
            "phone": mask_phone(r["applicant_phone"]),
            "window": r["window_name"],
            "clerk": names.get(clerks.get(r["id"], ""), clerks.get(r["id"], "")),
            "state": r["state"],
            "state_zh": STATE_ZH[r["state"]],
        }
        for r in rows
    ]


@API.route(
    "GET",
    "/api/v1/ledger",
    summary="事项办理台账（附录 C），按时间倒序分页",
    tag="监管",
    roles=STAFF,
    query={
        **LEDGER_FILTERS,
        "cursor": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 200},
    },
    response=obj(["items", "next_cursor"], items=array(LEDGER_ROW, max_items=200), next_cursor=nullable(STR)),
)
async def ledger(ctx: Ctx) -> dict[str, Any]:
    limit = int(ctx.query.get("limit", "50"))
    try:
        after = queries.decode_cursor(ctx.query["cursor"]) if ctx.query.get("cursor") else None
    except (ValueError, TypeError) as exc:
        raise Problem(422, "分页游标无效") from exc
    items = await ledger_items(ctx, limit=limit + 1, after=after)
    more = len(items) > limit
    items = items[:limit]
    last = items[-1] if items else None
    cursor = (
        queries.encode_cursor(datetime.fromisoformat(last["collected_at"]), last["case_id"]) if more and last else None
    )
    return {"items": items, "next_cursor": cursor}


INDICATOR_FIGURES = obj(
    ["cases", "acceptance_rate", "completion_rate", "early_rate", "overdue", "trips_saved", "distance_saved_km"],
    extra=True,
    cases=INT,
    overdue=INT,
    trips_saved=INT,
)


def figures_view(f: Indicators) -> dict[str, Any]:
    return {
        "cases": f.cases,
        "accepted": f.accepted,
        "decided": f.decided,
        "should_be_decided": f.should_be_decided,
        "early": f.early,
        "acceptance_rate": f.acceptance_rate,
        "completion_rate": f.completion_rate,
        "early_rate": f.early_rate,
        "overdue": f.overdue,
        "overdue_rate": f.overdue_rate,
        "trips_saved": f.trips_saved,
        "distance_saved_km": round(f.distance_saved_km, 3),
        "rated": f.rated,
        "rating_coverage": f.rating_coverage,
        "average_rating": f.average_rating,
        "bad_rating_rate": f.bad_rating_rate,
        "rectification_rate": f.rectification_rate,
    }


def report_scope(ctx: Ctx) -> reports.Scope:
    who = ctx.who
    if who.scope.everything:
        return reports.Scope(None, None)
    return reports.Scope(sorted(who.scope.offices), list(who.scope.regions))


def _day(ctx: Ctx, name: str) -> date | None:
    raw = ctx.query.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise Problem(422, f"查询参数 {name} 应为日期（YYYY-MM-DD）") from exc


@API.route(
    "GET",
    "/api/v1/indicators",
    summary="通办评价指标（受理率、办结率、提前办结率、逾期、少跑、好差评），按日、月、窗口、部门或区县汇总",
    tag="监管",
    roles={Role.SUPERVISOR, Role.ADMIN},
    query={
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
        "group": {"type": "string", "enum": list(reports.GROUPINGS)},
    },
    response=obj(
        ["cases", "groups", "stages"],
        extra=True,
        cases=INT,
        groups=array(obj(["key", "name", "figures"], key=STR, name=STR, figures=INDICATOR_FIGURES), max_items=5000),
        stages=array(obj(["type", "type_zh", "stages", "working_days", "calendar_days"], extra=True)),
    ),
)
async def get_indicators(ctx: Ctx) -> dict[str, Any]:
    """Read from the projection (worker/projections.py): a few rows per day, never the cases."""
    from handoff.labels_zh import STAGE_TYPE_ZH

    c = container(ctx)
    start, end = _day(ctx, "from"), _day(ctx, "to")
    if start and end and start > end:
        raise Problem(422, "起始日期晚于结束日期")
    grouping = ctx.query.get("group", "none")
    scope = report_scope(ctx)
    async with c.engine.connect() as conn:
        groups = await reports.indicator_groups(conn, scope, start, end, grouping)
        stages = await reports.stage_sums(conn, scope, start, end)
    # every grouping splits the day rows without overlap: the total is the sum of the groups
    total = sum((g.figures for g in groups), indicators([]))
    return {
        **figures_view(total),
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "group": grouping,
        "groups": [{"key": g.key, "name": g.name, "figures": figures_view(g.figures)} for g in groups],
        "stages": [
            {"type": kind, "type_zh": STAGE_TYPE_ZH.get(kind, kind), "stages": n, "working_days": w, "calendar_days": d}
            for kind, n, w, d in stages
        ],
    }


STALLED_ROW = obj(
    ["package_id", "code", "case_id", "state", "last_movement_at", "working_days"],
    extra=True,
    package_id=STR,
    code=STR,
    case_id=STR,
    state=STR,
    last_movement_at=STR,
    working_days=INT,
)


@API.route(
    "GET",
    "/api/v1/packages/stalled",
    summary="滞留的材料包：超过规定工作日没有任何交接记录，需要有人追查",
    tag="监管",
    roles=STAFF,
    query={"cursor": {"type": "string"}, "limit": {"type": "integer", "minimum": 1, "maximum": 500}},
    response=obj(
        ["items", "stall_days", "next_cursor"],
        items=array(STALLED_ROW, max_items=500),
        stall_days=INT,
        next_cursor=nullable(STR),
    ),
)
async def stalled_packages(ctx: Ctx) -> dict[str, Any]:
    from handoff.clock import stall_boundary, working_days_between
    from handoff.labels_zh import STATE_ZH

    c = container(ctx)
    day = today(c)
    limit = int(ctx.query.get("limit", "100"))
    try:
        after = reports.decode_cursor(ctx.query["cursor"], datetime, str) if ctx.query.get("cursor") else None
    except (ValueError, TypeError) as exc:
        raise Problem(422, "分页游标无效") from exc
    since = datetime.combine(stall_boundary(c.deps.calendar, day, c.stall_days), datetime.min.time(), tzinfo=CHINA)
    async with c.engine.connect() as conn:
        rows = await reports.stalled_packages(conn, since, report_scope(ctx), limit + 1, after)
    more, rows = len(rows) > limit, rows[:limit]
    return {
        "stall_days": c.stall_days,
        "next_cursor": reports.encode_cursor(rows[-1]["last_movement_at"], rows[-1]["id"]) if more and rows else None,
        "items": [
            {
                "package_id": r["id"],
                "code": str(PackageCode.parse(r["code"])),
                "case_id": r["case_id"],
                "state": r["state"],
                "state_zh": STATE_ZH[r["state"]],
                "holder": r["holder"],
                "from_party": r["from_party"],
                "to_party": r["to_party"],
                "carrier": r["carrier"],
                "waybill": r["waybill"],
                "last_movement_at": r["last_movement_at"].isoformat(),
                "working_days": working_days_between(c.deps.calendar, local_date(r["last_movement_at"]), day),
            }
            for r in rows
        ],
    }


DEADLINE_ROW = obj(
    ["case_id", "case_no", "state", "matter_name", "department", "window"],
    extra=True,
    case_id=STR,
    case_no=STR,
    state=STR,
    matter_name=STR,
)


@API.route(
    "GET",
    "/api/v1/deadlines",
    summary="期限看板：已逾期、超法定期限、即将到期、超过两个工作日未转报、预审超时、容缺材料待补交的办件",
    tag="监管",
    roles={Role.SUPERVISOR, Role.ADMIN, Role.DEPT_CLERK, Role.DEPT_LEAD, Role.WINDOW_CLERK},
    query={
        "kind": {
            "type": "string",
            "enum": ["overdue", "legal_overdue", "due_soon", "forwarding", "prereview", "iou"],
        },
        "cursor": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 200},
    },
    response=obj(["items", "next_cursor"], items=array(DEADLINE_ROW, max_items=200), next_cursor=nullable(STR)),
)
async def deadlines(ctx: Ctx) -> dict[str, Any]:
    from handoff.labels_zh import STATE_ZH

    c = container(ctx)
    limit = int(ctx.query.get("limit", "50"))
    kind = ctx.query.get("kind", "due_soon")
    try:
        after = reports.decode_board_cursor(kind, ctx.query["cursor"]) if ctx.query.get("cursor") else None
    except (ValueError, TypeError) as exc:
        raise Problem(422, "分页游标无效") from exc
    async with c.engine.connect() as conn:
        rows = await reports.deadline_board(conn, report_scope(ctx), kind, limit + 1, after)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [
            {
                "case_id": r["case_id"],
                "case_no": r["case_no"],
                "state": r["state"],
                "state_zh": STATE_ZH[r["state"]],
                "matter_name": r["matter_name"],
                "department": r["department_name"],
                "window": r["window_name"],
                "due_on": r["due_on"].isoformat() if r["due_on"] else None,
                "used": r["used"],
                "remaining": r["remaining"],
                "promised": r["promised"],
                "paused": r["paused"],
                "provisional": r["provisional"],
                "overdue": r["overdue"],
                "forwarding_due_on": r["forwarding_due_on"].isoformat(),
                "legal_due_on": r["legal_due_on"].isoformat() if r["legal_due_on"] else None,
                "legal_overdue": r["legal_overdue"],
                "prereview_due_on": r["prereview_due_on"].isoformat() if r["prereview_due_on"] else None,
                "prereview_overdue": r["prereview_overdue"],
                "iou_due_on": r["iou_due_on"].isoformat() if r["iou_due_on"] else None,
                "ious_owed": [{"material": i["material"], "due_on": i["due_on"]} for i in r["ious_owed"] or []],
                "as_of": r["as_of"].isoformat(),
            }
            for r in rows
        ],
        "next_cursor": reports.board_cursor(kind, rows[-1]) if more and rows else None,
    }
