"""The approval department (属地审批部门): scanning and signing packages, the case's actions, shipping the result."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from adapters.db import files as db_files
from adapters.db import queries
from adapters.images import reencode
from api.auth import Role, Scope
from api.authority import Authority
from api.problems import Problem
from api.routes.common import (
    API,
    CASE_VIEW,
    DEPT,
    EVIDENCE,
    PACKAGE_VIEW,
    container,
    package_answer,
    party_error,
    payload_for,
    run_case,
    today,
    visible_package,
)
from api.routing import (
    BOOL,
    DATE,
    STR,
    Ctx,
    array,
    enum,
    obj,
    text,
)
from api.views import case_view, package_view
from handoff.codes import PackageCode, PayloadKind
from handoff.errors import CodeRejected, IllegalTransition
from handoff.matter import Delivery, StageType
from handoff.package import Discrepancy, DiscrepancyKind
from handoff.services import (
    NotFound,
    ShipResult,
    SignPackage,
    dispatch,
)
from handoff.timeutil import CHINA, local_date

# =========================================================================== scanning and signing

SCAN_MANIFEST_VIEW = obj(
    ["kind", "id", "packages"],
    extra=True,
    kind={"const": "manifest"},
    id=STR,
    packages=array(obj(["id", "code", "state", "signable"], extra=True, signable=BOOL)),
)
"""A manifest's QR scanned by a clerk (api/routes/batch.py answers it)."""


@API.route(
    "POST",
    "/api/v1/scan",
    summary="扫码或输入材料包编号，查看材料包及下一步操作",
    tag="审批部门",
    roles={Role.DEPT_CLERK, Role.WINDOW_CLERK, Role.COURIER},
    body=obj(["code"], code=text(300)),
    response={"anyOf": [PACKAGE_VIEW, SCAN_MANIFEST_VIEW]},
)
async def scan(ctx: Ctx) -> dict[str, Any]:
    """A package's code or QR: the package. A manifest's QR (交接单): for a clerk, the batch and
    which of its packages they can sign (api/routes/batch.py); a courier scans packages."""
    c = container(ctx)
    raw = unicodedata.normalize("NFKC", ctx.body["code"]).strip()  # full-width input from a Chinese IME
    if "/" in raw:
        scanned = c.signer.verify(raw)
        if scanned.kind is PayloadKind.MANIFEST and ctx.who.role is not Role.COURIER:
            from api.routes.batch import manifest_answer

            return await manifest_answer(ctx, scanned.value)
        if scanned.kind is not PayloadKind.PACKAGE:
            raise CodeRejected("这是交接单的二维码，请扫描材料包上的二维码")
        compact = scanned.value
    else:
        compact = PackageCode.parse(raw).compact
    async with c.uow() as uow:
        package = await uow.packages.by_code(compact)
        if package is None:
            raise NotFound(f"材料包 {raw} 不存在")
        package = await visible_package(ctx, package.id, uow)
        return package_view(package, payload_for(c, package))


SIGN_BODY = obj(
    ["office_id"],
    office_id=text(64),
    discrepancies=array(
        obj(
            ["item_seq", "kind"],
            item_seq={"type": "integer", "minimum": 1},
            kind=enum([k.value for k in DiscrepancyKind]),
            note=text(500, 0),
            actual_pages={"type": "integer", "minimum": 0},
        ),
        max_items=100,
    ),
    evidence=EVIDENCE,
)


@API.route(
    "POST",
    "/api/v1/packages/{package_id}/sign",
    summary="签收材料包（逐项登记差异）",
    tag="审批部门",
    roles={Role.DEPT_CLERK, Role.WINDOW_CLERK},
    body=SIGN_BODY,
    response=PACKAGE_VIEW,
    idempotent=True,
    unit=True,
    authority=Authority.RECEIVER,
)
async def sign_package(ctx: Ctx) -> dict[str, Any]:
    c, b = container(ctx), ctx.body
    evidence = await store_evidence(ctx, b.get("evidence", []))
    await dispatch(
        SignPackage(
            package_id=ctx.path["package_id"],
            office_id=b["office_id"],
            actor=ctx.who.user_id,
            discrepancies=[
                Discrepancy(d["item_seq"], DiscrepancyKind(d["kind"]), d.get("note", ""), d.get("actual_pages"))
                for d in b.get("discrepancies", [])
            ],
            evidence=evidence,
        ),
        ctx.uow,
        c.deps,
    )
    return package_answer(ctx, ctx.path["package_id"])


async def store_evidence(ctx: Ctx, items: list[dict[str, str]]) -> list[str]:
    """Signature images and photos of a custody event: decoded and re-encoded (adapters/images),
    counted against the user's daily quota in the request's transaction, then stored — and
    removed again by the endpoint if the command does not commit (``Ctx.new_blobs``)."""
    c = container(ctx)
    cleaned = []
    for item in items:
        try:
            data = base64.b64decode(item["data_base64"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Problem(422, "凭证图片不是有效的 base64 编码") from exc
        if len(data) > c.max_evidence_bytes:
            raise Problem(413, f"凭证图片过大（最多 {c.max_evidence_bytes // 1024} KB）")
        cleaned.append(await asyncio.to_thread(reencode, data))
    if not cleaned:
        return []
    now = c.deps.clock.now()
    used = await queries.add_evidence_usage(
        ctx.uow.conn, ctx.who.user_id, local_date(now), sum(len(i.data) for i in cleaned)
    )
    if used > c.evidence_daily_bytes:
        midnight = datetime.combine(local_date(now) + timedelta(days=1), datetime.min.time(), tzinfo=CHINA)
        raise Problem(
            429,
            f"今天上传的凭证已超过限额（每人每天 {c.evidence_daily_bytes // (1024 * 1024)} MB），"
            "请明天再传或联系管理员",
            kind="evidence_quota",
            headers={"Retry-After": str(max(1, int((midnight - now).total_seconds())))},
        )
    refs = []
    for digest in sorted({hashlib.sha256(image.data).hexdigest() for image in cleaned}):
        await db_files.lock_blob(ctx.uow.conn, digest)
    for image in cleaned:
        digest = hashlib.sha256(image.data).hexdigest()
        if not await c.blobs.has(digest):
            ctx.new_blobs.append(digest)
        refs.append(await c.blobs.put(image.data, image.content_type))
    return refs


# =========================================================================== department (属地审批部门)


def case_route(
    path: str,
    name: str,
    summary: str,
    body: dict[str, Any] | None,
    roles: set[Role] = DEPT,
    convert: Any = None,
    authority: Authority = Authority.DEPARTMENT,
    check: Callable[[Ctx, dict[str, Any]], Awaitable[None]] | None = None,
) -> None:
    """A command on one case: ``authority`` says whose office it needs (department commands by
    default); ``check`` validates the parties the body names before the command runs."""

    async def handler(ctx: Ctx) -> dict[str, Any]:
        args = dict(ctx.body or {})
        if convert:
            args = convert(ctx, args)
        if check:
            await check(ctx, args)
        return await run_case(ctx, name, args)

    handler.__name__ = f"case_{name}"
    API.route(
        "POST",
        f"/api/v1/cases/{{case_id}}/{path}",
        summary=summary,
        tag="代收窗口" if authority in (Authority.WINDOW, Authority.PICKUP_OFFICE) else "审批部门",
        roles=roles,
        body=body or obj([]),
        response=CASE_VIEW,
        unit=True,
        authority=authority,
    )(handler)


async def named_lead(ctx: Ctx, args: dict[str, Any]) -> None:
    """抄送: the lead must be an active department lead whose scope covers the deciding department."""
    await _department_lead(ctx, str(args["lead"]), "lead")


async def approving_lead(ctx: Ctx, args: dict[str, Any]) -> None:
    """A stage recorded late names the lead who approved it: an active lead of the department."""
    if args.get("approved_by"):
        await _department_lead(ctx, str(args["approved_by"]), "approved_by")


async def _department_lead(ctx: Ctx, lead: str, field_: str) -> None:
    case = ctx.case
    assert case is not None
    lead = lead.strip()
    member = await queries.staff_member(ctx.uow.conn, lead)
    if member is None or member.role != Role.DEPT_LEAD.value or not member.active:
        raise party_error(field_, f"分管领导 “{lead}” 不存在或已停用，请从领导名单中选择")
    department = case.department_office_id
    region = (await container(ctx).office_regions()).get(department, "")
    if not Scope.parse(member.scope).covers_office(department, region):
        raise party_error(field_, f"{member.name} 不分管该办件的审批部门")


def _dates(*names: str) -> Any:
    def convert(ctx: Ctx, args: dict[str, Any]) -> dict[str, Any]:
        for n in names:
            if args.get(n):
                args[n] = ctx.date(n)
        return args

    return convert


case_route("accept", "accept", "受理（开始计时）", None)
case_route("reject", "reject", "不予受理（说明理由）", obj(["reason"], reason=text(2000)))
case_route(
    "supplement",
    "request_supplement",
    "补正告知（列出材料与补正期限；再次补正须说明理由）",
    obj(["items", "due_on"], items=array(text(200), min_items=1, max_items=50), due_on=DATE, reason=text(2000, 0)),
    convert=_dates("due_on"),
)
case_route("supplement/supplied", "supplement_supplied", "补正受理", None)
case_route(
    "supplement/close",
    "close_unsupplemented",
    "补正不来办结（补正期限届满后，填写意见）",
    obj(["opinion"], opinion=text(2000)),
)
case_route(
    "stages",
    "open_stage",
    "启动特殊环节（暂停计时）",
    obj(
        ["stage_type", "reason", "legal_basis"],
        stage_type=enum([s.value for s in StageType if s is not StageType.SUPPLEMENT]),
        reason=text(2000),
        legal_basis=text(500),
        expected_days={"type": "integer", "minimum": 1, "maximum": 3650},
        start_on=DATE,
        approved_by=text(64),
    ),
    convert=_dates("start_on"),
    check=approving_lead,
)
case_route(
    "stages/{stage_id}/close",
    "close_stage",
    "结束特殊环节",
    obj([], end_on=DATE),
    convert=lambda ctx, a: {**_dates("end_on")(ctx, a), "stage_id": ctx.path["stage_id"]},
)
case_route(
    "extensions",
    "extend",
    "延期（行政许可法第四十二条，累计不超过 10 个工作日）",
    obj(
        ["days", "approver", "reason"],
        days={"type": "integer", "minimum": 1, "maximum": 10},
        approver=text(100),
        reason=text(2000),
    ),
)
case_route(
    "ious/fulfil",
    "fulfil_iou",
    "容缺材料补齐",
    obj(["material"], material=text(200)),
    roles={Role.WINDOW_CLERK, Role.DEPT_CLERK},
    authority=Authority.OWN_OFFICE,
)
case_route(
    "decision",
    "decide",
    "办结（准予或不予许可）",
    obj(["outcome", "opinion"], outcome=enum(["approved", "denied"]), opinion=text(2000)),
)
case_route(
    "delivered",
    "deliver",
    "结果已送达（邮寄或电子）",
    None,
    roles={Role.DEPT_CLERK, Role.COURIER},
    authority=Authority.RESULT_DELIVERY,
)
case_route("archive", "archive", "归档", None)
case_route(
    "withdraw",
    "withdraw",
    "撤回申请",
    obj(["reason"], reason=text(2000)),
    roles={Role.WINDOW_CLERK, Role.DEPT_CLERK},
    authority=Authority.OWN_OFFICE,
)
case_route("rating/rectify", "rectify_rating", "差评整改", obj(["note"], note=text(2000)))
case_route(
    "copies",
    "copy_to_lead",
    "抄送分管领导待阅（领导须在岗并分管该审批部门）",
    obj(["lead"], lead=text(64), note=text(500, 0)),
    check=named_lead,
)
case_route("remarks", "remark", "领导批阅", obj(["remark"], remark=text(2000)), roles={Role.DEPT_LEAD})


@API.route(
    "POST",
    "/api/v1/cases/{case_id}/result",
    summary="寄出办理结果（生成结果材料包）",
    tag="审批部门",
    roles=DEPT,
    body=obj([], carrier=text(32)),
    response=CASE_VIEW,
    idempotent=True,
    unit=True,
    authority=Authority.DEPARTMENT,
)
async def ship_result(ctx: Ctx) -> dict[str, Any]:
    c, case = container(ctx), ctx.case
    assert case is not None
    if case.delivery is Delivery.ELECTRONIC and not await db_files.case_results(ctx.uow.conn, case.id):
        raise IllegalTransition(
            "case", case.state.value, "ship_result", "电子送达须先出具电子办理结果（POST …/electronic-result）"
        )
    await dispatch(ShipResult(case_id=case.id, actor=ctx.who.user_id, carrier=ctx.body.get("carrier")), ctx.uow, c.deps)
    return case_view(case, c.deps.calendar, today(c))
