"""The applicant (public, by the tracking token): the tracking view and the rating."""

from __future__ import annotations

from typing import Any

from adapters.db import files as db_files
from adapters.db.repositories import SqlUnitOfWork
from api.container import Container
from api.electronic_views import electronic_status
from api.routes.common import (
    API,
    container,
    today,
)
from api.routing import (
    STR,
    Ctx,
    array,
    obj,
    text,
)
from api.views import tracking_view
from handoff.case import Case
from handoff.codes import hash_token, tracking_token_shape_ok
from handoff.services import (
    CaseCommand,
    NotFound,
    dispatch,
)

# =========================================================================== applicant (public, by token)

TRACKING_VIEW = obj(
    ["matter_name", "state", "state_zh", "applicant_name", "applicant_phone", "timeline", "notices"],
    extra=True,
    applicant_name=STR,
    applicant_phone=STR,
    timeline=array(obj(["at", "text"], extra=True)),
    notices=array(obj(["id", "title", "url"], id=STR, title=STR, url=STR), max_items=100),
    receipt_notice_url=STR,
)


async def case_by_token(c: Container, token: str, uow: SqlUnitOfWork) -> Case:
    if not tracking_token_shape_ok(token):
        raise NotFound("跟踪链接无效或已失效")
    case = await uow.cases.by_tracking_hash(hash_token(token), packages=True)
    if case is None:
        raise NotFound("跟踪链接无效或已失效")
    return case


@API.route(
    "GET",
    "/api/v1/track/{token}",
    summary="申请人查看办件进度（个人信息已脱敏）",
    tag="申请人",
    roles=None,
    response=TRACKING_VIEW,
)
async def track(ctx: Ctx) -> dict[str, Any]:
    return await tracking_by_token(container(ctx), ctx.path["token"])


async def tracking_by_token(c: Container, token: str) -> dict[str, Any]:
    """The applicant's view (the JSON route and the tracking page /t/{token} alike)."""
    async with c.uow().reading() as uow:
        case = await case_by_token(c, token, uow)
        packages = list(await uow.packages.for_case(case.id))
        view = tracking_view(case, packages, c.deps.calendar, today(c), token)
        # electronic results exist only once the case is decided: no statement for them before
        results = await db_files.case_results(uow.conn, case.id) if case.decided_at is not None else []
        view["electronic"] = electronic_status(packages, results, token)
        return view


@API.route(
    "POST",
    "/api/v1/track/{token}/rating",
    summary="申请人评价（好差评，1–5 分）",
    tag="申请人",
    roles=None,
    body=obj(["score"], score={"type": "integer", "minimum": 1, "maximum": 5}, comment=text(500, 0)),
    response=TRACKING_VIEW,
)
async def rate(ctx: Ctx) -> dict[str, Any]:
    return await rate_by_token(container(ctx), ctx.path["token"], ctx.body["score"], ctx.body.get("comment", ""))


async def rate_by_token(c: Container, token: str, score: int, comment: str) -> dict[str, Any]:
    """好差评 by the applicant (the JSON route and the tracking page's form alike)."""
    async with c.uow() as uow:
        case = await case_by_token(c, token, uow)
        await dispatch(
            CaseCommand(case_id=case.id, name="rate", actor="applicant", args={"score": score, "comment": comment}),
            uow,
            c.deps,
        )
        view = tracking_view(case, list(await uow.packages.for_case(case.id)), c.deps.calendar, today(c), token)
        await uow.commit()
    return view
