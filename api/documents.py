"""Every printed document as a download (DESIGN §6; issues 5 and 7): the receipt notice,
registration card, pickup receipt and written notices (特别程序告知书) of a case; the transfer slip
and courier label of a package; the manifest of a hand-over; the ledger as PDF, XLSX or CSV; and,
by the applicant's tracking link, their receipt notice and written notices.

Whoever may see the case or package may download its documents; anything else answers 404, as if
absent. A document that does not apply (yet) answers 409 with the reason. Files come as
attachments with a Chinese file name (RFC 5987 ``filename*``) and an ASCII fallback, and are never
cached: they carry personal data.

Rendering is CPU work (about 10 ms a page, a long ledger seconds), off the event loop: counter
documents on their own thread, ledger exports on their own pool, one export per user at a time
(api/rendering.py), so a receipt notice never waits behind an export."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web

from adapters.db import checkpoints, queries
from adapters.db.admin import UnknownReference
from adapters.db.repositories import SqlUnitOfWork
from api.auth import Role
from api.problems import Problem
from api.routes.common import API, COURIER, STAFF, WINDOW, container, in_scope, today, visible_case, visible_package
from api.routes.reports import LEDGER_FILTERS, ledger_items
from api.routes.tracking import case_by_token
from api.routing import Ctx, array, enum, obj, text
from handoff.case import Case
from handoff.errors import InvalidInput
from handoff.labels_zh import STATE_ZH
from handoff.matter import Mode
from handoff.package import Package
from handoff.ports import BlobCorrupted, Office
from handoff.services import NotFound
from handoff.timeutil import local_date, local_text
from labels.courier_label import render_courier_label
from labels.decisions import (
    render_acceptance_notice,
    render_denial_decision,
    render_iou_receipt,
    render_one_time_notice,
    render_rejection_decision,
    render_supplement_notice,
)
from labels.from_domain import (
    ACCEPTANCE_NOTICE,
    DENIAL_DECISION,
    IOU_RECEIPT,
    REJECTION_DECISION,
    acceptance_notice_data,
    appeal_bodies,
    case_no,
    checkpoint_stamp,
    clock_day,
    courier_label_data,
    denial_decision_data,
    iou_receipt_data,
    manifest_data,
    one_time_notice_data,
    party_address,
    pickup_receipt_data,
    promised_reading,
    receipt_notice_data,
    registration_card_data,
    rejection_decision_data,
    stage_notice_data,
    supplement_notice_data,
    supplement_number,
    transfer_slip_data,
)
from labels.ledger import ledger_csv, ledger_xlsx, render_ledger
from labels.manifest import render_manifest
from labels.models import LedgerData, LedgerRow
from labels.pickup_receipt import render_pickup_receipt
from labels.receipt_notice import render_receipt_notice
from labels.registration_card import render_registration_card
from labels.stage_notice import render_stage_notice
from labels.transfer_slip import render_transfer_slip

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"
LEDGER_FORMATS = {"pdf": (PDF, render_ledger), "xlsx": (XLSX, ledger_xlsx), "csv": (CSV, ledger_csv)}
LEDGER_EXPORT_MAX_ROWS = 2000
"""Rows one ledger export may hold (a 2,000-row PDF is about 80 landscape pages and a few seconds
of rendering); a larger selection is refused with a request to narrow the dates or states."""
TAG = "文书"

T = TypeVar("T")

log = logging.getLogger("handoff.api")


async def render(ctx: Ctx, draw: Callable[[T], bytes], data: T) -> bytes:
    """A counter document: on the counter thread, never behind an export."""
    return await container(ctx).renderers.document(draw, data)


def attachment(content: bytes, media_type: str, name: str, ascii_name: str) -> web.Response:
    """A download: Chinese file name for browsers that read RFC 5987, ASCII for the others."""
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", ascii_name)
    return web.Response(
        body=content,
        headers={
            "Content-Type": f"{media_type}; charset=utf-8" if media_type == CSV else media_type,
            "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def pdf(content: bytes, name: str, ascii_name: str) -> web.Response:
    return attachment(content, PDF, f"{name}.pdf", f"{ascii_name}.pdf")


def document_route(
    path: str, summary: str, roles: set[Role] | None = STAFF, *, may_not_apply: bool = False
) -> Callable[[Any], Any]:
    """A PDF download; ``may_not_apply``: it can answer 409 (NotApplicable), and the spec says so."""
    return API.route(
        "GET", path, summary=summary, tag=TAG, roles=roles, files=(PDF,), errors={409} if may_not_apply else None
    )


async def _offices(ctx: Ctx) -> dict[str, Office]:
    async with container(ctx).engine.connect() as conn:
        return await queries.offices(conn)


# =========================================================================== a case's documents


@document_route(
    "/api/v1/cases/{case_id}/documents/receipt-notice", "申请材料接收通知书（附录 A，PDF，含申请人跟踪二维码）"
)
async def case_receipt_notice(ctx: Ctx) -> web.Response:
    c = container(ctx)
    async with c.uow() as uow:
        case = await visible_case(ctx, ctx.path["case_id"], uow)
    data = receipt_notice_data(case, offices=await _offices(ctx), tracking_url=c.tracking_url(case.id))
    return pdf(
        await render(ctx, render_receipt_notice, data), f"申请材料接收通知书-{case_no(case)}", _ascii("receipt", case)
    )


@document_route(
    "/api/v1/cases/{case_id}/documents/registration-card",
    "审批流程登记卡（附录 D，PDF：收件、流转、办理、送达及特殊环节）",
)
async def case_registration_card(ctx: Ctx) -> web.Response:
    c = container(ctx)
    async with c.uow() as uow:
        case = await visible_case(ctx, ctx.path["case_id"], uow)
        packages = list(await uow.packages.for_case(case.id))
    async with c.engine.connect() as conn:
        offices = await queries.offices(conn)
        actors = await queries.case_actors(conn, case.id)
        names = await queries.user_names(conn, [*actors.values(), *(s.opened_by for s in case.stages)])
    data = registration_card_data(
        case,
        offices=offices,
        packages=packages,
        reading=case.clock(c.deps.calendar, clock_day(case, today(c))),
        actors=actors,
        names=names,
    )
    content = await render(ctx, render_registration_card, data)
    return pdf(content, f"审批流程登记卡-{case_no(case)}", _ascii("registration-card", case))


@document_route(
    "/api/v1/cases/{case_id}/documents/pickup-receipt",
    "办理结果发放登记（PDF，证件号码脱敏；发放登记之后才有）",
    may_not_apply=True,
)
async def case_pickup_receipt(ctx: Ctx) -> web.Response:
    c = container(ctx)
    async with c.uow() as uow:
        case = await visible_case(ctx, ctx.path["case_id"], uow)
        result = await uow.packages.get(case.result_package_id) if case.result_package_id else None
    async with c.engine.connect() as conn:
        offices = await queries.offices(conn)
        names = await queries.user_names(conn, [case.pickup.actor] if case.pickup else [])
    data = pickup_receipt_data(
        case,
        offices=offices,
        names=names,
        result_package=result,
        scan_payload=c.signer.sign_package(result.code) if result else "",
    )
    content = await render(ctx, render_pickup_receipt, data)
    return pdf(content, f"办理结果发放登记-{case_no(case)}", _ascii("pickup-receipt", case))


@document_route(
    "/api/v1/cases/{case_id}/documents/stage-notice/{notice_id}",
    "特别程序告知书（PDF；notice_id 为特殊环节编号，或 ext-N 表示第 N 次延期）",
)
async def case_stage_notice(ctx: Ctx) -> web.Response:
    async with container(ctx).uow() as uow:
        case = await visible_case(ctx, ctx.path["case_id"], uow)
    return await _stage_notice(ctx, case, public=False)


async def _stage_notice(ctx: Ctx, case: Case, *, public: bool) -> web.Response:
    c = container(ctx)
    data = stage_notice_data(
        case,
        ctx.path["notice_id"],
        offices=await _offices(ctx),
        reading=case.clock(c.deps.calendar, clock_day(case, today(c))),
        tracking_url=c.tracking_url(case.id),
        public=public,
    )
    content = await render(ctx, render_stage_notice, data)
    return pdf(content, f"特别程序告知书-{data.notice_no}", f"stage-notice-{case_no(case)}-{ctx.path['notice_id']}")


def _ascii(kind: str, case: Case) -> str:
    return f"{kind}-{case_no(case)}"


# =========================================================================== a package's documents


@document_route(
    "/api/v1/packages/{package_id}/documents/transfer-slip",
    "申请材料转办单（附录 B，PDF：材料包二维码与条码；仅随申请材料转出的材料包）",
    STAFF | COURIER,
    may_not_apply=True,
)
async def package_transfer_slip(ctx: Ctx) -> web.Response:
    c = container(ctx)
    async with c.uow() as uow:
        package = await visible_package(ctx, ctx.path["package_id"], uow)
        case = await _case_of(package, uow)
    data = transfer_slip_data(
        package, case=case, offices=await _offices(ctx), scan_payload=c.signer.sign_package(package.code)
    )
    content = await render(ctx, render_transfer_slip, data)
    return pdf(content, f"申请材料转办单-{package.code}", f"transfer-slip-{package.code}")


@document_route(
    "/api/v1/packages/{package_id}/documents/courier-label",
    "快递面单（100×150 mm PDF：运单条码、收寄件地址、材料包二维码；承运商接单有运单号后才有）",
    STAFF | COURIER,
    may_not_apply=True,
)
async def package_courier_label(ctx: Ctx) -> web.Response:
    c = container(ctx)
    async with c.uow() as uow:
        package = await visible_package(ctx, ctx.path["package_id"], uow)
        case = await _case_of(package, uow)
    async with c.engine.connect() as conn:
        stored = await queries.shipment_label(conn, package.id)
    content: bytes | None = None
    if stored is not None:
        # the label the logistics worker printed when the carrier took the order: the same bytes
        try:
            content = await c.blobs.get(stored)
        except KeyError:
            log.warning("stored courier label missing", extra={"package_id": package.id, "sha256": stored})
        except BlobCorrupted:
            log.error("stored courier label corrupted", extra={"package_id": package.id, "sha256": stored})
    if content is None:
        offices = await _offices(ctx)
        async with c.engine.connect() as conn:
            region_names = await queries.region_names(conn)
        data = courier_label_data(
            package,
            sender=party_address(package.from_party, case=case, offices=offices, region_names=region_names),
            receiver=party_address(package.to_party, case=case, offices=offices, region_names=region_names),
            scan_payload=c.signer.sign_package(package.code),
            printed_at=c.deps.clock.now(),
        )
        content = await render(ctx, render_courier_label, data)
    return pdf(content, f"快递面单-{package.waybill}", f"courier-label-{package.waybill}")


async def _case_of(package: Package, uow: SqlUnitOfWork) -> Case:
    case = await uow.cases.get(package.case_id)
    if case is None:
        raise NotFound(f"材料包 {package.code} 的办件不存在")
    return case


# =========================================================================== a hand-over's manifest


@document_route(
    "/api/v1/manifests/{manifest_id}/documents/manifest",
    "材料交接单（PDF：一批交接的全部材料包，每页带整批二维码）",
    STAFF | COURIER,
)
async def manifest_document(ctx: Ctx) -> web.Response:
    c, manifest_id = container(ctx), ctx.path["manifest_id"]
    async with c.engine.connect() as conn:
        manifest = await queries.manifest(conn, manifest_id)
        offices = await queries.offices(conn)
    if manifest is None:
        raise NotFound(f"交接单 {manifest_id} 不存在")
    async with c.uow() as uow:
        packages = [p for p in [await uow.packages.get(pid) for pid in manifest.package_ids] if p is not None]
        # Visible to the courier who took it and to the offices that sent or receive its packages.
        parties = {manifest.office_id}
        parties.update(
            o
            for p in packages
            for kind, _, o in (x.partition(":") for x in (p.from_party, p.to_party))
            if kind == "office"
        )
        mine = ctx.who.role is Role.COURIER and manifest.courier == ctx.who.user_id
        if not mine and not await in_scope(ctx, *parties):
            raise NotFound(f"交接单 {manifest_id} 不存在")
        cases = {p.case_id: case for p in packages if (case := await uow.cases.get(p.case_id)) is not None}
    async with c.engine.connect() as conn:
        names = await queries.user_names(conn, [manifest.courier])
        stamp = checkpoint_stamp(await checkpoints.latest(conn))
    data = manifest_data(
        manifest,
        packages=packages,
        cases=cases,
        offices=offices,
        names=names,
        scan_payload=c.signer.sign_manifest(manifest.id),
    )
    data = replace(data, checkpoint=stamp)
    content = await render(ctx, render_manifest, data)
    return pdf(content, f"材料交接单-{local_text(manifest.created_at)[:10]}", f"manifest-{manifest.id}")


# =========================================================================== the ledger


@API.route(
    "GET",
    "/api/v1/ledger/export",
    summary=(
        f"事项办理台账导出（附录 C）：format=pdf|xlsx|csv，筛选条件同台账查询；"
        f"最多 {LEDGER_EXPORT_MAX_ROWS} 行，超出时请缩小日期范围"
    ),
    tag=TAG,
    roles=STAFF,
    query={**LEDGER_FILTERS, "format": {"type": "string", "enum": list(LEDGER_FORMATS), "default": "pdf"}},
    files=(PDF, XLSX, CSV),
)
async def ledger_export(ctx: Ctx) -> web.Response:
    async with container(ctx).renderers.export_slot(ctx.who.user_id):
        return await _ledger_export(ctx)


async def _ledger_export(ctx: Ctx) -> web.Response:
    c, q = container(ctx), ctx.query
    items = await ledger_items(ctx, limit=LEDGER_EXPORT_MAX_ROWS + 1)
    if len(items) > LEDGER_EXPORT_MAX_ROWS:
        raise Problem(
            422, f"台账超过 {LEDGER_EXPORT_MAX_ROWS} 行，无法一次导出；请缩小日期范围或按办理状态筛选后分批导出"
        )
    now = c.deps.clock.now()
    async with c.engine.connect() as conn:
        unit = await _scope_text(ctx, conn)
        footer = checkpoint_stamp(await checkpoints.latest(conn))
    start, end = q.get("from"), q.get("to")
    period = f"{start} 至 {end}" if start and end else f"{start} 起" if start else f"至 {end}" if end else "全部"
    states = [STATE_ZH.get(s, s) for s in q.get("state", "").split(",") if s]
    if states:
        period += f"（办理状态：{'、'.join(states)}）"
    data = LedgerData(
        unit=unit,
        period_text=period,
        rows=tuple(_ledger_row(i) for i in items),
        printed_text=local_text(now),
        checkpoint=footer,
    )
    kind = q.get("format", "pdf")
    media_type, draw = LEDGER_FORMATS[kind]
    stamp = local_text(now)[:10].replace("-", "")
    return attachment(
        await c.renderers.export(draw, data), media_type, f"事项办理台账-{stamp}.{kind}", f"ledger-{stamp}.{kind}"
    )


def _ledger_row(item: dict[str, Any]) -> LedgerRow:
    return LedgerRow(
        handled_at=local_text(datetime.fromisoformat(item["collected_at"])),
        department=item["department"],
        matter_name=item["matter_name"],
        quantity=item["quantity"],
        case_kind=item["kind_zh"],
        applicant_name=item["applicant"],
        contact_phone=item["phone"],
        window=item["window"],
        clerk=item["clerk"],
        status=item["state_zh"],
        remarks=f"受理编号 {item['case_no']}" if item["case_no"] else "",
    )


async def _scope_text(ctx: Ctx, conn: Any) -> str:
    """The ledger's 单位: the offices and regions of the caller's scope."""
    scope = ctx.who.scope
    if scope.everything:
        return "全部单位"
    offices = await queries.offices(conn)
    regions = await queries.region_names(conn)
    parts = [offices[o].name if o in offices else o for o in sorted(scope.offices)]
    parts += [regions.get(r.ljust(6, "0"), f"行政区划 {r}") for r in scope.regions]
    return "、".join(parts)


# =========================================================================== the applicant, by tracking link


@document_route(
    "/api/v1/track/{token}/receipt-notice", "申请人下载申请材料接收通知书（PDF，姓名与地址脱敏）", roles=None
)
async def track_receipt_notice(ctx: Ctx) -> web.Response:
    c = container(ctx)
    async with c.uow() as uow:
        case = await case_by_token(c, ctx.path["token"], uow)
    data = receipt_notice_data(case, offices=await _offices(ctx), tracking_url=c.tracking_url(case.id), public=True)
    return pdf(
        await render(ctx, render_receipt_notice, data), f"申请材料接收通知书-{case_no(case)}", _ascii("receipt", case)
    )


@document_route(
    "/api/v1/track/{token}/notices/{notice_id}",
    "申请人下载特别程序告知书（PDF；notice_id 见跟踪信息中的 notices）",
    roles=None,
)
async def track_notice(ctx: Ctx) -> web.Response:
    c = container(ctx)
    async with c.uow() as uow:
        case = await case_by_token(c, ctx.path["token"], uow)
    return await _stage_notice(ctx, case, public=True)


# =========================================================================== written decisions (issue 14)


@document_route(
    "/api/v1/cases/{case_id}/documents/acceptance-notice",
    "受理通知书（PDF：承诺时限与受理时承诺的办结日期，含申请人跟踪二维码；受理之后才有）",
    may_not_apply=True,
)
async def case_acceptance_notice(ctx: Ctx) -> web.Response:
    return await _case_decision(ctx, ACCEPTANCE_NOTICE)


@document_route(
    "/api/v1/cases/{case_id}/documents/iou-receipt",
    "容缺受理凭证（PDF：容缺材料及补交期限；容缺收件的办件才有）",
    may_not_apply=True,
)
async def case_iou_receipt(ctx: Ctx) -> web.Response:
    return await _case_decision(ctx, IOU_RECEIPT)


@document_route(
    "/api/v1/cases/{case_id}/documents/supplement-notice/{number}",
    "补正告知书（PDF：第 number 次补正告知的材料和补正期限，number 从 1 起）",
    may_not_apply=True,
)
async def case_supplement_notice(ctx: Ctx) -> web.Response:
    return await _case_decision(ctx, f"supplement-notice-{ctx.path['number']}")


@document_route(
    "/api/v1/cases/{case_id}/documents/rejection-decision",
    "不予受理决定书（PDF：理由、法律依据、申请行政复议和提起行政诉讼的权利；不予受理之后才有）",
    may_not_apply=True,
)
async def case_rejection_decision(ctx: Ctx) -> web.Response:
    return await _case_decision(ctx, REJECTION_DECISION)


@document_route(
    "/api/v1/cases/{case_id}/documents/denial-decision",
    "不予许可决定书（PDF：理由、法律依据、申请行政复议和提起行政诉讼的权利；决定不予许可之后才有）",
    may_not_apply=True,
)
async def case_denial_decision(ctx: Ctx) -> web.Response:
    return await _case_decision(ctx, DENIAL_DECISION)


@document_route(
    "/api/v1/track/{token}/decisions/{decision_id}",
    "申请人下载决定书和告知书（PDF，姓名脱敏；decision_id 见跟踪信息中的 notices）",
    roles=None,
    may_not_apply=True,
)
async def track_decision(ctx: Ctx) -> web.Response:
    async with container(ctx).uow() as uow:
        case = await case_by_token(container(ctx), ctx.path["token"], uow)
    return await _decision(ctx, case, ctx.path["decision_id"], public=True)


async def _case_decision(ctx: Ctx, decision_id: str) -> web.Response:
    async with container(ctx).uow() as uow:
        case = await visible_case(ctx, ctx.path["case_id"], uow)
    return await _decision(ctx, case, decision_id, public=False)


async def _decision(ctx: Ctx, case: Case, decision_id: str, *, public: bool) -> web.Response:
    """One written decision of a case, by its id in the tracking view's ``notices``."""
    c = container(ctx)
    offices = await _offices(ctx)
    common: dict[str, Any] = {"offices": offices, "tracking_url": c.tracking_url(case.id), "public": public}
    number = supplement_number(decision_id)
    no = case_no(case)
    if decision_id == ACCEPTANCE_NOTICE:
        accepted = acceptance_notice_data(case, promised=promised_reading(case, c.deps.calendar), **common)
        content, name = await render(ctx, render_acceptance_notice, accepted), f"受理通知书-{no}"
    elif decision_id == IOU_RECEIPT:
        content, name = await render(ctx, render_iou_receipt, iou_receipt_data(case, **common)), f"容缺受理凭证-{no}"
    elif number is not None:
        notice = supplement_notice_data(case, number, **common)
        content, name = await render(ctx, render_supplement_notice, notice), f"补正告知书-{notice.notice_no}"
    elif decision_id in (REJECTION_DECISION, DENIAL_DECISION):
        async with c.engine.connect() as conn:
            region_names = await queries.region_names(conn)
        review_body, court = appeal_bodies(
            offices.get(case.department_office_id),
            region_names=region_names,
            review_bodies=c.review_bodies,
            courts=c.courts,
        )
        if decision_id == REJECTION_DECISION:
            rejection = rejection_decision_data(case, review_body=review_body, court=court, **common)
            content, name = await render(ctx, render_rejection_decision, rejection), f"不予受理决定书-{no}"
        else:
            denial = denial_decision_data(case, review_body=review_body, court=court, **common)
            content, name = await render(ctx, render_denial_decision, denial), f"不予许可决定书-{no}"
    else:
        raise NotFound(f"办件 {no} 没有编号为 {decision_id} 的决定书或告知书")
    return pdf(content, name, f"{decision_id}-{no}")


ONE_TIME_NOTICE_BODY = obj(
    ["matter_id", "window_office_id", "applicant_name", "missing"],
    matter_id=text(64),
    window_office_id=text(64),
    applicant_name=text(200),
    missing=array(text(300), max_items=100, min_items=1),
    mode=enum([m.value for m in Mode]),
)


@API.route(
    "POST",
    "/api/v1/documents/one-time-notice",
    summary=(
        "一次性告知书（PDF）：材料不全不予收件时，按事项列出缺少的全部材料及要求；"
        "missing 即收件登记 422 答复中的 missing。不登记办件，不保存任何内容"
    ),
    tag=TAG,
    roles=WINDOW,
    body=ONE_TIME_NOTICE_BODY,
    files=(PDF,),
    errors={409, 422},
)
async def one_time_notice(ctx: Ctx) -> web.Response:
    c, b = container(ctx), ctx.body
    if not await in_scope(ctx, b["window_office_id"]):
        raise NotFound(f"代收窗口 {b['window_office_id']} 不存在")
    async with c.uow() as uow:
        matter = await uow.matters.get(b["matter_id"])
        window = await uow.offices.get(b["window_office_id"])
        if window is None or window.kind != "window":
            raise NotFound(f"代收窗口 {b['window_office_id']} 不存在")
        if matter is None:
            raise UnknownReference("matter_id", f"事项 {b['matter_id']} 不存在")
        deciding = await uow.offices.get(matter.department_office_id)
        if b.get("mode") == Mode.DELEGATED.value:
            deciding = await uow.offices.entrusted_department(window.region_code, matter.id) or deciding
    if b.get("mode") and Mode(b["mode"]) not in matter.modes:
        raise InvalidInput(f"事项“{matter.name}”不支持所选办理方式")
    data = one_time_notice_data(
        matter,
        applicant_name=b["applicant_name"],
        missing=b["missing"],
        window=window,
        deciding_unit=deciding.name if deciding else matter.department_office_id,
        on=local_date(c.deps.clock.now()),
    )
    stamp = local_text(c.deps.clock.now())[:10].replace("-", "")
    return pdf(
        await render(ctx, render_one_time_notice, data), f"一次性告知书-{matter.name}", f"one-time-notice-{stamp}"
    )
