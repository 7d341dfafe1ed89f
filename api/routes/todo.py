"""待办: what needs the signed-in user now, one queue per role in one request (seed 002's 待办办件
and 待阅办件). Each section lists its first rows and counts them all; each row names the case (and
the package) and the action it waits for, so the console links straight to it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from adapters.db import workqueues
from adapters.logistics.internal import NAME as INTERNAL_CARRIER
from api.auth import ROLE_ZH, Role
from api.routes.common import API, container, today
from api.routes.reports import report_scope
from api.routing import BOOL, INT, STR, Ctx, array, nullable, obj
from handoff.clock import stall_boundary
from handoff.codes import PackageCode
from handoff.labels_zh import SMS_TEMPLATE_ZH, STAGE_TYPE_ZH, STATE_ZH
from handoff.ports import Calendar
from handoff.timeutil import CHINA

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
    ("courier", "to_pick_up"): "揽收",
    ("courier", "in_hand"): "送达",
    ("courier", "delivered_today"): "查看",
    ("supervisor", "overdue"): "督办",
    ("supervisor", "due_soon"): "督办",
    ("supervisor", "stalled"): "追查",
    ("supervisor", "bad_ratings"): "督促整改",
    ("supervisor", "supervised"): "查看",
    ("admin", "locked"): "重置密码",
    ("admin", "sms_failed"): "查看",
    ("admin", "calendar"): "上传节假日安排",
}
DATED = frozenset({"ious", "supplements", "prereview", "overdue", "legal_overdue", "due_soon", "bad_ratings"})
"""Sections whose date is a due date (past it, the row is marked overdue)."""
INFORMATIONAL = frozenset({"read", "incoming", "delivered_today", "supervised"})
"""Sections that are shown but not counted in the navigation's figure (nothing to do yet)."""

TODO_ITEM = obj(
    ["case_id", "case_no", "matter_name", "state", "state_zh", "action_zh"],
    case_id=nullable(STR),
    case_no=STR,
    package_id=nullable(STR),
    package_code=nullable(STR),
    matter_name=STR,
    state=STR,
    state_zh=STR,
    applicant=STR,
    subject=STR,
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
    if section == "locked":
        return f"连续 {note} 次登录失败"
    if section == "sms_failed":
        return f"{SMS_TEMPLATE_ZH.get(note, note)}短信"
    if section == "bad_ratings":
        return f"评价：{note}" if note else ""
    if section == "stages":
        return STAGE_TYPE_ZH.get(note, note)
    if section in ("overdue", "legal_overdue", "due_soon"):
        return f"剩余 {note} 个工作日" if note and not note.startswith("-") else f"已超 {note.lstrip('-')} 个工作日"
    if note in ("materials", "result"):
        return ""
    if note == "supplement":
        return "补正/容缺材料包"
    return note


def _state_zh(section: str, state: str) -> str:
    if section == "locked":
        return ROLE_ZH.get(Role(state), state) if state in {r.value for r in Role} else state
    return STATE_ZH.get(state, state)


def _calendar_missing(calendar: Calendar, day: date) -> dict[str, Any] | None:
    """From November on, next year's 节假日安排 must be loaded (handoff.calendar.next_year_missing):
    the admin's queue says so until it is (read from the calendar in memory: no statement)."""
    if day.month < 11 or calendar.covers(date(day.year + 1, 1, 1)):
        return None
    year = day.year + 1
    return {
        "key": "calendar",
        "title": "下一年节假日安排未上传",
        "count": 1,
        "counted": True,
        "items": [
            {
                "case_id": None,
                "case_no": "",
                "package_id": None,
                "package_code": None,
                "matter_name": "",
                "state": "",
                "state_zh": "",
                "applicant": "",
                "subject": f"{year} 年节假日安排",
                "due_on": f"{year}-01-01",
                "overdue": False,
                "at": None,
                "note": f"上传前 {year} 年的期限只按周一至周五计算，并标为临时结果",
                "action_zh": ACTION_ZH[("admin", "calendar")],
            }
        ],
    }


@API.route(
    "GET",
    "/api/v1/todo",
    summary="待办：按角色列出需要本人处理的事项（每类前若干条及总数），每条指向要办的操作",
    tag=TAG,
    roles={Role.WINDOW_CLERK, Role.DEPT_CLERK, Role.DEPT_LEAD, Role.COURIER, Role.SUPERVISOR, Role.ADMIN},
    query={"limit": {"type": "integer", "minimum": 1, "maximum": 100}},
    response=obj(["role", "total", "sections"], role=STR, total=INT, sections=array(TODO_SECTION, max_items=20)),
)
async def todo(ctx: Ctx) -> dict[str, Any]:
    c, who = container(ctx), ctx.who
    limit = int(ctx.query.get("limit", "20"))
    day = today(c)
    when: dict[str, Any] = {
        "now": c.deps.clock.now(),
        "stalled_before": datetime.combine(
            stall_boundary(c.deps.calendar, day, c.stall_days), datetime.min.time(), tzinfo=CHINA
        ),
        "internal_carrier": INTERNAL_CARRIER,
    }
    async with c.engine.connect() as conn:
        found = await workqueues.queue(conn, who.role.value, who.user_id, report_scope(ctx), day, limit, **when)
    sections: list[dict[str, Any]] = []
    for part in workqueues.sections(who.role.value, who.user_id, None, day, **when):
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
                        "state_zh": _state_zh(part.key, r["state"]),
                        "applicant": r["applicant_name"],
                        "subject": r["case_no"] or r["applicant_name"],
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
    if who.role is Role.ADMIN and (missing := _calendar_missing(c.deps.calendar, day)) is not None:
        sections.append(missing)
    total = sum(int(s["count"]) for s in sections if s["counted"])
    return {"role": who.role.value, "total": total, "sections": sections}
