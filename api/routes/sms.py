"""The staff's queue of SMS that did not reach their recipient, and the resend (the routes join the
table of api/routes.py; api/app.py imports this module).

An SMS whose send was cut off is never sent again by the system (a second SMS is worse than a
missing one): when the provider cannot say what became of it, it becomes ``technical_failure``,
shows on its case and here, and a clerk decides. A resend is a new notification linked to the
failed one (one resend per failed notification, whatever number it goes to, so a double click
sends one SMS even across a phone correction), sent at once where this
process runs the notifications group, otherwise by that group's sweeper at its next pass.
"""

from __future__ import annotations

from typing import Any

from adapters.db import notifications as rows
from adapters.db import queries
from api.auth import Role
from api.problems import Problem
from api.routes.admin import audit
from api.routes.common import API, STAFF, container, in_scope
from api.routes.reports import report_scope
from api.routing import BOOL, STR, Ctx, array, nullable, obj
from handoff.labels_zh import SMS_STATUS_ZH, SMS_TEMPLATE_ZH
from handoff.privacy import mask_phone
from handoff.services import NotFound

TAG = "短信"

SMS_ROW = obj(
    ["id", "case_id", "template", "audience", "recipient", "status", "status_zh", "failed", "reason", "at"],
    id=STR,
    case_id=STR,
    case_no=nullable(STR),
    template=STR,
    template_zh=STR,
    audience=STR,
    recipient=STR,
    status=STR,
    status_zh=STR,
    failed=BOOL,
    reason=STR,
    provider=nullable(STR),
    resend_of=nullable(STR),
    created_at=STR,
    at=STR,
)


def sms_row(n: dict[str, Any]) -> dict[str, Any]:
    """One SMS for staff: the phone masked, never its parameters."""
    return {
        "id": n["id"],
        "case_id": n["case_id"],
        "case_no": n.get("case_no"),
        "template": n["template_key"],
        "template_zh": SMS_TEMPLATE_ZH.get(n["template_key"], n["template_key"]),
        "audience": n["audience"],
        "recipient": mask_phone(n["recipient"]),
        "status": n["status"],
        "status_zh": SMS_STATUS_ZH.get(n["status"], n["status"]),
        "failed": n["status"] in rows.FAILED,
        "reason": n["reason"] if n["status"] != "created" else "",
        "provider": n["provider"],
        "resend_of": n["resend_of"],
        "created_at": n["created_at"].isoformat(),
        "at": n["updated_at"].isoformat(),
    }


@API.route(
    "GET",
    "/api/v1/sms/failed",
    summary="发送失败（含结果无法确认）且尚未重发的短信，按时间倒序分页",
    tag=TAG,
    roles=STAFF,
    query={
        "status": {"type": "string", "enum": list(rows.FAILED)},
        "cursor": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 200},
    },
    response=obj(["items", "next_cursor"], items=array(SMS_ROW, max_items=200), next_cursor=nullable(STR)),
)
async def failed_sms(ctx: Ctx) -> dict[str, Any]:
    c = container(ctx)
    limit = int(ctx.query.get("limit", "50"))
    try:
        after = queries.decode_cursor(ctx.query["cursor"]) if ctx.query.get("cursor") else None
    except (ValueError, TypeError) as exc:
        raise Problem(422, "分页游标无效") from exc
    statuses = [ctx.query["status"]] if ctx.query.get("status") else list(rows.FAILED)
    async with c.engine.connect() as conn:
        found = await rows.failed_page(conn, report_scope(ctx), limit + 1, after, statuses)
    more = len(found) > limit
    found = found[:limit]
    cursor = queries.encode_cursor(found[-1]["updated_at"], found[-1]["id"]) if more and found else None
    return {"items": [sms_row(n) for n in found], "next_cursor": cursor}


@API.route(
    "POST",
    "/api/v1/sms/{notification_id}/resend",
    summary="重发一条发送失败的短信（新短信关联原短信；每条失败短信只能重发一次）",
    tag=TAG,
    roles={Role.WINDOW_CLERK, Role.DEPT_CLERK},
    response=SMS_ROW,
    status=201,
    errors={409},
)
async def resend_sms(ctx: Ctx) -> dict[str, Any]:
    c = container(ctx)
    notification_id = ctx.path["notification_id"]
    async with c.engine.begin() as conn:
        failed = await rows.with_case(conn, notification_id)
        if failed is None or not await in_scope(ctx, failed["window_office_id"], failed["department_office_id"]):
            raise NotFound(f"短信 {notification_id} 不存在")
        if failed["status"] not in rows.FAILED:
            status_zh = SMS_STATUS_ZH.get(failed["status"], failed["status"])
            raise Problem(409, f"这条短信没有发送失败（{status_zh}），不能重发", kind="not_failed")
        resent = await rows.resend(conn, notification_id, c.deps.clock.now())
        if resent is None:
            raise Problem(409, "这条短信已经重发过，请查看重发的那条", kind="already_resent")
    await audit(ctx, "sms.resent", f"{notification_id}->{resent['id']}")
    if c.sms is not None:
        await c.sms.send(resent)
    async with c.engine.connect() as conn:
        row = await rows.with_case(conn, resent["id"])
    assert row is not None
    return sms_row(row)
