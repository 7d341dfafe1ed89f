"""Provider callbacks: SMS delivery reports and carriers' tracking pushes."""

from __future__ import annotations

from aiohttp import web

from adapters.db import queries
from adapters.logistics.common import event_key
from adapters.sms.reports import report_key
from api.routes.common import (
    API,
    container,
    log,
)
from api.routing import (
    Ctx,
)
from handoff.ports import CallbackAnswer, CarrierError, InboundHttp, ProviderError
from handoff.services import (
    ApplyTracking,
    NotFound,
    dispatch,
)

# =========================================================================== provider callbacks


def _inbound(ctx: Ctx, body: bytes) -> InboundHttp:
    request = ctx.request
    return InboundHttp(
        method=request.method, path=request.path, query=dict(request.query), headers=dict(request.headers), body=body
    )


def _answer(answer: CallbackAnswer) -> web.Response:
    return web.Response(status=answer.status, body=answer.body, headers={"Content-Type": answer.content_type})


@API.route(
    "POST",
    "/api/v1/callbacks/sms/{provider}",
    summary="短信服务商的状态回执推送（校验、去重后更新短信状态）",
    tag="服务商回调",
    roles=None,
    raw_body=True,
    content_type="*/*",
)
async def sms_callback(ctx: Ctx) -> web.Response:
    c = container(ctx)
    receiver = c.sms_receivers.get(ctx.path["provider"])
    if receiver is None:
        raise NotFound(f"未配置短信服务商 {ctx.path['provider']} 的回执")
    body = await ctx.request.read()
    try:
        reports = receiver.parse_reports(_inbound(ctx, body))
    except ProviderError as exc:
        log.warning("refused SMS callback from %s: %s", receiver.name, exc)
        refused = receiver.answer(False)
        return web.Response(
            status=403 if exc.raw_code == "forbidden" else max(refused.status, 400),
            body=refused.body,
            headers={"Content-Type": refused.content_type},
        )
    now = c.deps.clock.now()
    async with c.engine.begin() as conn:
        for report in reports:
            if await queries.first_receipt(conn, f"sms:{report_key(report)}", receiver.name, now):
                await queries.record_sms_report(
                    conn, report.provider, report.message_id, report.status.value, report.reason, now
                )
    return _answer(receiver.answer(True))


@API.route(
    "POST",
    "/api/v1/callbacks/carriers/{carrier}",
    summary="承运商的路由推送（校验、去重后记入监管链）",
    tag="服务商回调",
    roles=None,
    raw_body=True,
    content_type="*/*",
)
async def carrier_callback(ctx: Ctx) -> web.Response:
    c = container(ctx)
    receiver = c.carrier_receivers.get(ctx.path["carrier"])
    if receiver is None:
        raise NotFound(f"未配置承运商 {ctx.path['carrier']} 的推送")
    body = await ctx.request.read()
    try:
        movements = receiver.parse_push(_inbound(ctx, body))
    except CarrierError as exc:
        log.warning("refused carrier push from %s: %s", receiver.name, exc)
        refused = receiver.answer(False)
        return web.Response(
            status=403 if exc.code == "forbidden" else 400,
            body=refused.body,
            headers={"Content-Type": refused.content_type},
        )
    now = c.deps.clock.now()
    for movement in movements:
        async with c.engine.begin() as conn:
            fresh = await queries.first_receipt(conn, f"carrier:{event_key(movement)}", receiver.name, now)
        if not fresh:
            continue
        try:
            await dispatch(ApplyTracking(event=movement), c.uow(), c.deps)
        except Exception:
            # Not applied: forget the receipt so that the carrier's retry is applied instead.
            async with c.engine.begin() as conn:
                await queries.forget_receipt(conn, f"carrier:{event_key(movement)}")
            raise
    return _answer(receiver.answer(True))
