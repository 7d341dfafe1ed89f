"""The courier's reports on a package: pickup, in transit, delivered, exceptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
    Ctx,
    enum,
    obj,
    text,
)
from handoff.package import ExceptionKind, Method
from handoff.services import (
    CourierReport,
    ReportPackageException,
    dispatch,
)

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
