"""The courier's reports on a package: pickup, in transit, delivered, exceptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.db import queries, reports
from adapters.db.courier_lists import courier_packages
from adapters.logistics.internal import NAME as INTERNAL_CARRIER
from api.auth import Role
from api.authority import Authority
from api.problems import Problem
from api.routes.common import (
    API,
    COURIER,
    COURIER_BODY,
    PACKAGE_VIEW,
    container,
    package_answer,
)
from api.routes.department import store_evidence
from api.routing import (
    BOOL,
    STR,
    Ctx,
    array,
    enum,
    nullable,
    obj,
    text,
)
from handoff.codes import PackageCode
from handoff.labels_zh import STATE_ZH
from handoff.package import ExceptionKind, Method
from handoff.services import (
    CourierReport,
    ReportPackageException,
    dispatch,
)
from handoff.timeutil import CHINA, local_date

# =========================================================================== couriers


def courier_route(step: str, summary: str, authority: Authority) -> None:
    async def handler(ctx: Ctx) -> dict[str, Any]:
        c, b = container(ctx), ctx.body
        client_time = None
        if b.get("client_time"):
            client_time = datetime.fromisoformat(b["client_time"].replace("Z", "+00:00"))
            if client_time.tzinfo is None:
                raise Problem(422, "client_time 必须带时区")
        evidence = await store_evidence(ctx, b.get("evidence", []))
        await dispatch(
            CourierReport(
                package_id=ctx.path["package_id"],
                step=step,
                courier=ctx.who.user_id,
                actor=ctx.who.user_id,
                method=Method.COURIER_API,
                client_time=client_time,
                place=b.get("place", ""),
                evidence=evidence,
            ),
            ctx.uow,
            c.deps,
        )
        return package_answer(ctx, ctx.path["package_id"])

    handler.__name__ = f"courier_{step}"
    API.route(
        "POST",
        f"/api/v1/packages/{{package_id}}/{step.replace('_', '-')}",
        summary=summary,
        tag="快递员",
        roles=COURIER,
        body=COURIER_BODY,
        response=PACKAGE_VIEW,
        idempotent=True,
        unit=True,
        authority=authority,
    )(handler)


courier_route(
    "picked_up", "快递员揽收（交接给本人的或封装待本单位快递员揽收的材料包；可附签名或照片）", Authority.PICKUP
)
courier_route("in_transit", "运输途中扫描（仅限本人持有的材料包）", Authority.HOLDER)
courier_route("delivered", "快递员送达（收件方签收前不算交接完成；离线补报每次交接一次）", Authority.HOLDER)


@API.route(
    "POST",
    "/api/v1/packages/{package_id}/exception",
    summary="登记材料包异常（破损、丢失、拒收）",
    tag="快递员",
    roles={Role.COURIER, Role.DEPT_CLERK, Role.WINDOW_CLERK},
    body=obj(["kind", "note"], kind=enum([k.value for k in ExceptionKind]), note=text(500)),
    response=PACKAGE_VIEW,
    idempotent=True,
    unit=True,
    authority=Authority.PACKAGE_PARTY,
)
async def package_exception(ctx: Ctx) -> dict[str, Any]:
    c = container(ctx)
    await dispatch(
        ReportPackageException(
            package_id=ctx.path["package_id"],
            kind=ExceptionKind(ctx.body["kind"]),
            note=ctx.body["note"],
            actor=ctx.who.user_id,
        ),
        ctx.uow,
        c.deps,
    )
    return package_answer(ctx, ctx.path["package_id"])


# =========================================================================== the courier's lists

COURIER_LISTS = {
    "to_pick_up": "待揽收",
    "in_hand": "在手中",
    "delivered_today": "今日已送达",
}
COURIER_ROW = obj(
    ["package_id", "code", "state", "state_zh", "from_name", "to_name", "at", "steps"],
    extra=True,
    package_id=STR,
    code=STR,
    case_id=STR,
    state=STR,
    state_zh=STR,
    from_name=STR,
    to_name=STR,
    at=STR,
    acknowledged=BOOL,
    steps=array(STR),
)


def courier_steps(kind: str, state: str, acknowledged: bool) -> list[str]:
    """What the courier's screen offers next for a row: 揽收 for a package sealed for us or one a
    clerk handed over that the courier has not confirmed; then 运输中 / 送达 and 异常."""
    if kind == "to_pick_up":
        return ["picked_up"]
    if kind == "in_hand":
        first = [] if acknowledged else ["picked_up"]
        return [*first, "in_transit", "delivered", "exception"]
    return []


@API.route(
    "GET",
    "/api/v1/courier/packages",
    summary="快递员的材料包：待揽收（本人负责线路上封装待本单位快递员揽收的）、在手中、今日已送达",
    tag="快递员",
    roles=COURIER,
    query={
        "list": {"type": "string", "enum": list(COURIER_LISTS)},
        "cursor": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 200},
    },
    required_query={"list"},
    response=obj(
        ["list", "list_zh", "items", "next_cursor"],
        list=STR,
        list_zh=STR,
        items=array(COURIER_ROW, max_items=200),
        next_cursor=nullable(STR),
    ),
)
async def my_packages(ctx: Ctx) -> dict[str, Any]:
    c, kind = container(ctx), ctx.query["list"]
    limit = int(ctx.query.get("limit", "50"))
    try:
        after = reports.decode_cursor(ctx.query["cursor"], datetime, str) if ctx.query.get("cursor") else None
    except (ValueError, TypeError) as exc:
        raise Problem(422, "分页游标无效") from exc
    now = c.deps.clock.now()
    midnight = datetime.combine(local_date(now), datetime.min.time(), tzinfo=CHINA)
    scope = ctx.who.scope
    async with c.engine.connect() as conn:
        senders = await reports.scope_offices(
            conn,
            reports.Scope(None, None)
            if scope.everything
            else reports.Scope(sorted(scope.offices), list(scope.regions)),
        )
        rows = await courier_packages(
            conn,
            courier=ctx.who.user_id,
            kind=kind,
            sender_offices=senders,
            internal_carrier=INTERNAL_CARRIER,
            since=midnight,
            after=after,
            limit=limit + 1,
        )
        offices = await queries.offices(conn)
    more, rows = len(rows) > limit, rows[:limit]

    def name(party: str) -> str:
        if party.startswith("office:"):
            office = offices.get(party.split(":", 1)[1])
            return office.name if office else "未知单位"
        return "申请人" if party == "applicant" else "快递员"

    return {
        "list": kind,
        "list_zh": COURIER_LISTS[kind],
        "next_cursor": reports.encode_cursor(rows[-1]["at"], rows[-1]["id"]) if more and rows else None,
        "items": [
            {
                "package_id": r["id"],
                "code": str(PackageCode.parse(r["code"])),
                "case_id": r["case_id"],
                "state": r["state"],
                "state_zh": STATE_ZH[r["state"]],
                "direction": r["direction"],
                "purpose": r["purpose"],
                "from_name": name(r["from_party"]),
                "to_name": name(r["to_party"]),
                "at": r["at"].isoformat(),
                "acknowledged": bool(r["acknowledged"]),
                "steps": courier_steps(kind, r["state"], bool(r["acknowledged"])),
            }
            for r in rows
        ],
    }
