"""Reading a case: the case, its clock and a package's custody."""

from __future__ import annotations

from typing import Any

from adapters.db import queries
from api.authority import can_read_case
from api.routes.common import (
    API,
    CASE_VIEW,
    COURIER,
    PACKAGE_VIEW,
    STAFF,
    container,
    payload_for,
    today,
    visible_case,
    visible_package,
)
from api.routing import (
    BOOL,
    INT,
    STR,
    Ctx,
    array,
    nullable,
    obj,
)
from api.views import case_view, clock_view, custody_view, package_view
from handoff.services import NotFound

# =========================================================================== reading: cases, clock, custody, ledger


@API.route(
    "GET", "/api/v1/cases/{case_id}", summary="办件档案（全部信息与计时）", tag="查询", roles=STAFF, response=CASE_VIEW
)
async def get_case(ctx: Ctx) -> dict[str, Any]:
    c = container(ctx)
    async with c.uow().reading() as uow:
        case, sms, case_gaps = await queries.case_with_messages(uow, ctx.path["case_id"])
        if case is None or not can_read_case(ctx.who, case, ctx.office_regions):
            raise NotFound(f"办件 {ctx.path['case_id']} 不存在")
        view = case_view(case, c.deps.calendar, today(c))
        view["packages"] = [package_view(p, payload_for(c, p)) for p in await uow.packages.for_case(case.id)]
        view["sms"] = [sms_view(n) for n in sms]
        view["gaps"] = [gap_view(g) for g in case_gaps]
        return view


def gap_view(gap: dict[str, Any]) -> dict[str, Any]:
    """A message of the case that a worker parked and went past (DESIGN §8): its effect (an SMS,
    a booking…) is missing until an admin replays it."""
    replayed = gap["replayed_at"] is not None
    return {
        "group": gap["consumer"],
        "type": gap["type"],
        "seq": gap["seq"],
        "reason": gap["reason"],
        "parked_at": gap["parked_at"].isoformat(),
        "replayed_at": gap["replayed_at"].isoformat() if replayed else None,
        "status_zh": "已重放" if replayed else "处理失败已停放，后续消息已继续处理，待管理员重放",
    }


def sms_view(n: dict[str, Any]) -> dict[str, Any]:
    """One SMS of the case: a failed one shows here, for the clerk to reach the person otherwise."""
    from handoff.labels_zh import SMS_STATUS_ZH, SMS_TEMPLATE_ZH
    from handoff.privacy import mask_phone

    return {
        "id": n["id"],
        "template": n["template_key"],
        "template_zh": SMS_TEMPLATE_ZH.get(n["template_key"], n["template_key"]),
        "audience": n["audience"],
        "recipient": mask_phone(n["recipient"]),
        "status": n["status"],
        "status_zh": SMS_STATUS_ZH.get(n["status"], n["status"]),
        "failed": n["status"] in ("permanent_failure", "technical_failure"),
        "reason": n["reason"] if n["status"] != "created" else "",
        "at": n["updated_at"].isoformat(),
    }


CLOCK_VIEW = nullable(
    obj(["due_date", "used", "remaining", "excluded_days", "overdue", "provisional", "stages"], extra=True)
)


@API.route(
    "GET",
    "/api/v1/cases/{case_id}/clock",
    summary="办件计时（已用、剩余、到期日、特殊环节）",
    tag="查询",
    roles=STAFF,
    response=obj(["clock"], clock=CLOCK_VIEW),
)
async def get_clock(ctx: Ctx) -> dict[str, Any]:
    c = container(ctx)
    async with c.uow().reading() as uow:
        case = await visible_case(ctx, ctx.path["case_id"], uow)
        return {"clock": clock_view(case.clock(c.deps.calendar, today(c)))}


@API.route(
    "GET",
    "/api/v1/packages/{package_id}/custody",
    summary="监管链（可验证的交接记录）",
    tag="查询",
    roles=STAFF | COURIER,
    response=obj(
        ["package", "verified", "events"],
        package=PACKAGE_VIEW,
        verified=BOOL,
        broken_at=nullable(INT),
        reason=STR,
        events=array(obj(["seq", "hash"], extra=True)),
    ),
)
async def get_custody(ctx: Ctx) -> dict[str, Any]:
    c = container(ctx)
    async with c.uow().reading() as uow:
        package = await visible_package(ctx, ctx.path["package_id"], uow)
        check = package.verify()
        return {
            "package": package_view(package, payload_for(c, package)),
            "verified": check.ok,
            "broken_at": check.broken_at,
            "reason": check.reason,
            "events": [custody_view(e) for e in package.custody],
        }
