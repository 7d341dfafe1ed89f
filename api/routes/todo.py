"""待办: what needs the signed-in user now, one queue per role in one request (seed 002's 待办办件
and 待阅办件). Each section lists its first rows and counts them all; each row names the case (and
the package) and the action it waits for, so the console links straight to it."""

from __future__ import annotations

from typing import Any

from adapters.db import workqueues
from api.auth import Role
from api.routes.common import API, container, today
from api.routes.reports import report_scope
from api.routing import BOOL, INT, STR, Ctx, array, nullable, obj
from handoff.codes import PackageCode
from handoff.labels_zh import STAGE_TYPE_ZH, STATE_ZH

TAG = "待办"

ACTION_ZH: dict[tuple[str, str], str] = {
    ("window_clerk", "to_seal"): "封装材料包",
    ("window_clerk", "sealed"): "交接快递",
    ("window_clerk", "results_incoming"): "签收结果",
    ("window_clerk", "pickup"): "发放登记",
    ("window_clerk", "supplements"): "收取补正材料",
    ("window_clerk", "ious"): "收取容缺材料",
    ("dept_clerk", "to_sign"): "扫码签收",
    ("dept_clerk", "incoming"): "查看",
    ("dept_clerk", "prereview"): "预审受理",
    ("dept_clerk", "supplements"): "补正受理",
    ("dept_clerk", "stages"): "结束特殊环节",
    ("dept_clerk", "overdue"): "办理",
    ("dept_clerk", "legal_overdue"): "办理",
    ("dept_clerk", "due_soon"): "办理",
    ("dept_clerk", "to_ship"): "寄出结果",
    ("dept_lead", "unread"): "批阅",
    ("dept_lead", "read"): "查看",
}
DATED = frozenset({"ious", "supplements", "prereview", "overdue", "legal_overdue", "due_soon"})
"""Sections whose date is a due date (past it, the row is marked overdue)."""
INFORMATIONAL = frozenset({"read", "incoming"})
"""Sections that are shown but not counted in the navigation's figure (nothing to do yet)."""

TODO_ITEM = obj(
    ["case_id", "case_no", "matter_name", "state", "state_zh", "action_zh"],
    case_id=STR,
    case_no=STR,
    package_id=nullable(STR),
    package_code=nullable(STR),
    matter_name=STR,
    state=STR,
    state_zh=STR,
    applicant=STR,
    due_on=nullable(STR),
    overdue=BOOL,
    at=nullable(STR),
    note=STR,
    action_zh=STR,
)
TODO_SECTION = obj(
    ["key", "title", "count", "items"],
    key=STR,
    title=STR,
    count=INT,
    counted=BOOL,
    items=array(TODO_ITEM, max_items=100),
)


def _note(section: str, row: dict[str, Any]) -> str:
    note = str(row["note"] or "")
    if section == "stages":
        return STAGE_TYPE_ZH.get(note, note)
    if section in ("overdue", "legal_overdue", "due_soon"):
        return f"剩余 {note} 个工作日" if note and not note.startswith("-") else f"已超 {note.lstrip('-')} 个工作日"
    if note in ("materials", "result"):
        return ""
    if note == "supplement":
        return "补正/容缺材料包"
    return note


@API.route(
    "GET",
    "/api/v1/todo",
    summary="待办：按角色列出需要本人处理的事项（每类前若干条及总数），每条指向要办的操作",
    tag=TAG,
    roles={Role.WINDOW_CLERK, Role.DEPT_CLERK, Role.DEPT_LEAD, Role.SUPERVISOR, Role.ADMIN},
    query={"limit": {"type": "integer", "minimum": 1, "maximum": 100}},
    response=obj(["role", "total", "sections"], role=STR, total=INT, sections=array(TODO_SECTION, max_items=20)),
)
async def todo(ctx: Ctx) -> dict[str, Any]:
    c, who = container(ctx), ctx.who
    limit = int(ctx.query.get("limit", "20"))
    day = today(c)
    async with c.engine.connect() as conn:
        found = await workqueues.queue(conn, who.role.value, who.user_id, report_scope(ctx), day, limit)
    sections: list[dict[str, Any]] = []
    for part in workqueues.sections(who.role.value, who.user_id, None, day):
        count, rows = found.get(part.key, (0, []))
        action = ACTION_ZH.get((who.role.value, part.key), "查看")
        sections.append(
            {
                "key": part.key,
                "title": part.title,
                "count": count,
                "counted": part.key not in INFORMATIONAL,
                "items": [
                    {
                        "case_id": r["case_id"],
                        "case_no": r["case_no"],
                        "package_id": r["package_id"],
                        "package_code": str(PackageCode.parse(r["package_code"])) if r["package_code"] else None,
                        "matter_name": r["matter_name"] or "",
                        "state": r["state"],
                        "state_zh": STATE_ZH.get(r["state"], r["state"]),
                        "applicant": r["applicant_name"],
                        "due_on": r["due_on"].isoformat() if r["due_on"] else None,
                        "overdue": part.key in DATED and bool(r["due_on"] and r["due_on"] < day),
                        "at": r["at"].isoformat() if r["at"] else None,
                        "note": _note(part.key, r),
                        "action_zh": action,
                    }
                    for r in rows
                ],
            }
        )
    total = sum(int(s["count"]) for s in sections if s["counted"])
    return {"role": who.role.value, "total": total, "sections": sections}
