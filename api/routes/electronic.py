"""Electronic materials (电子材料) and electronic results (电子证照).

The window attaches files to a case's materials (PDF, JPEG, PNG: the raw bytes as the request
body, recognised by their content, images re-encoded, PDFs opened with pdfium); pushing the
electronic package records their manifest in its custody event; the department reads each file
of the package it received. Files are served only to staff whose scope covers the case (or the
package), never cached."""

from __future__ import annotations

import asyncio
import hashlib
import re
import unicodedata
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from aiohttp import web

from adapters.db import files as db_files
from adapters.db import queries
from adapters.files import EXTENSIONS, PDF, MaterialFile, check_material, sniff
from adapters.pades import verify_pdf
from api.authority import Authority
from api.container import Container
from api.problems import Problem
from api.routes.common import (
    API,
    CASE_VIEW,
    DEPT,
    STAFF,
    WINDOW,
    container,
    today,
    visible_case,
    visible_package,
)
from api.routes.tracking import case_by_token
from api.routing import INT, STR, Ctx, array, obj, read_limited
from api.views import case_view
from handoff.case import CaseState, Outcome
from handoff.errors import IllegalTransition
from handoff.matter import Delivery
from handoff.package import Direction, Medium
from handoff.services import NotFound, ShipResult, dispatch
from handoff.timeutil import CHINA, local_date
from labels.electronic_result import ElectronicResultData, render_electronic_result

FILE_VIEW = obj(
    ["id", "item_seq", "material", "name", "content_type", "size", "pages", "sha256", "url"],
    extra=True,
    id=STR,
    item_seq=INT,
    material=STR,
    name=STR,
    content_type=STR,
    size=INT,
    pages=INT,
    sha256=STR,
    url=STR,
)
FILES_VIEW = obj(["files", "limits"], extra=True, files=array(FILE_VIEW, max_items=10_000), limits=obj(extra=True))

_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|]')


def day_zh(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def file_view(case_id: str, f: db_files.CaseFile, materials: list[str]) -> dict[str, Any]:
    return {
        "id": f.id,
        "item_seq": f.item_seq,
        "material": materials[f.item_seq - 1] if 0 < f.item_seq <= len(materials) else "",
        "name": f.name,
        "content_type": f.content_type,
        "size": f.size,
        "pages": f.pages,
        "sha256": f.sha256,
        "uploaded_at": f.uploaded_at.isoformat(),
        "url": f"/api/v1/cases/{case_id}/files/{f.id}",
    }


def clean_file_name(raw: str | None, content_type: str) -> str:
    """The uploaded file's name as shown to the department: printable, no path, at most 100
    characters, its extension the one of what the file really is (a JPEG named .pdf becomes .jpg)."""
    name = unicodedata.normalize("NFC", (raw or "").strip())
    name = _UNSAFE_NAME.sub("_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1])  # no folders, then no odd characters
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf")).strip(" .")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem[:96] or "电子材料"
    return stem + EXTENSIONS[content_type]


async def checked_material(c: Container, data: bytes) -> MaterialFile:
    """An attached file, read and checked before the unit of work begins (``Route.prepare``)."""
    return await asyncio.to_thread(check_material, data, max_pages=c.material_max_pages)


async def checked_result(c: Container, data: bytes) -> MaterialFile | None:
    """The department's own result PDF, checked like a material; None: Handoff renders one."""
    if not data:
        return None
    checked = await checked_material(c, data)
    if checked.content_type != PDF:
        raise Problem(422, "办理结果须为 PDF 文件", kind="invalid_input")
    return checked


@API.route(
    "POST",
    "/api/v1/cases/{case_id}/files",
    summary=(
        "为材料上传电子文件（请求体为文件本身：PDF、JPEG 或 PNG，按内容识别；?item=材料序号&name=文件名）；"
        "推送电子材料包之前"
    ),
    tag="代收窗口",
    roles=WINDOW,
    query={"item": {"type": "integer", "minimum": 1, "maximum": 100}, "name": {"type": "string"}},
    raw_body=True,
    response=FILE_VIEW,
    status=201,
    errors={413},
    unit=True,
    authority=Authority.WINDOW,
    prepare=checked_material,
)
async def attach_file(ctx: Ctx) -> dict[str, Any]:
    c, case = container(ctx), ctx.case
    assert case is not None
    if "item" not in ctx.query:
        raise Problem(422, "缺少查询参数 item（材料序号）")
    item = int(ctx.query["item"])
    if item > len(case.materials):
        raise Problem(422, f"办件没有序号为 {item} 的材料（共 {len(case.materials)} 项）")
    packages = await ctx.uow.packages.for_case(case.id)
    if any(p.medium is Medium.ELECTRONIC and p.direction is Direction.OUTBOUND for p in packages):
        raise IllegalTransition("case", case.state.value, "attach_file", "电子材料已推送，不能再添加文件")
    if case.state not in (CaseState.COLLECTED, CaseState.FORWARDED):
        raise IllegalTransition("case", case.state.value, "attach_file", "材料已由审批部门签收")
    checked = ctx.body
    assert isinstance(checked, MaterialFile)
    data = checked.data
    now = c.deps.clock.now()
    used = await queries.add_evidence_usage(ctx.uow.conn, f"files:{ctx.who.user_id}", local_date(now), len(data))
    if used > c.material_daily_bytes:
        midnight = datetime.combine(local_date(now) + timedelta(days=1), datetime.min.time(), tzinfo=CHINA)
        raise Problem(
            429,
            f"今天上传的电子材料已超过限额（每人每天 {c.material_daily_bytes // (1024 * 1024)} MB），"
            "请明天再传或联系管理员",
            kind="material_quota",
            headers={"Retry-After": str(max(1, int((midnight - now).total_seconds())))},
        )
    digest = hashlib.sha256(checked.data).hexdigest()
    await db_files.lock_blob(ctx.uow.conn, digest)
    if not await c.blobs.has(digest):
        ctx.new_blobs.append(digest)
    await c.blobs.put(checked.data, checked.content_type)
    stored = await db_files.add_case_file(
        ctx.uow.conn,
        db_files.CaseFile(
            id=str(uuid.uuid4()),
            case_id=case.id,
            item_seq=item,
            name=clean_file_name(ctx.query.get("name"), checked.content_type),
            content_type=checked.content_type,
            size=len(checked.data),
            pages=checked.pages,
            sha256=digest,
            uploaded_by=ctx.who.user_id,
            uploaded_at=now,
        ),
    )
    return file_view(case.id, stored, [m.name for m in case.materials])


@API.route(
    "POST",
    "/api/v1/cases/{case_id}/files/{file_id}/remove",
    summary="移除误传的电子文件（推送电子材料包之前）",
    tag="代收窗口",
    roles=WINDOW,
    body=obj([]),
    response=FILES_VIEW,
    unit=True,
    authority=Authority.WINDOW,
)
async def remove_file(ctx: Ctx) -> dict[str, Any]:
    case = ctx.case
    assert case is not None
    packages = await ctx.uow.packages.for_case(case.id)
    if any(p.medium is Medium.ELECTRONIC and p.direction is Direction.OUTBOUND for p in packages):
        raise IllegalTransition("case", case.state.value, "remove_file", "电子材料已推送，文件已记入监管链，不能移除")
    if not await db_files.remove_case_file(ctx.uow.conn, case.id, ctx.path["file_id"]):
        raise NotFound(f"文件 {ctx.path['file_id']} 不存在")
    return await _files_answer(ctx, case.id, [m.name for m in case.materials], ctx.uow.conn)


async def _files_answer(ctx: Ctx, case_id: str, materials: list[str], conn: Any) -> dict[str, Any]:
    c = container(ctx)
    found = await db_files.case_files(conn, case_id)
    return {
        "files": [file_view(case_id, f, materials) for f in found],
        "limits": {
            "max_bytes": c.material_max_bytes,
            "max_pages": c.material_max_pages,
            "types": ["application/pdf", "image/jpeg", "image/png"],
        },
    }


@API.route(
    "GET",
    "/api/v1/cases/{case_id}/files",
    summary="办件各项材料的电子文件及上传限制",
    tag="办件",
    roles=STAFF,
    response=FILES_VIEW,
)
async def list_files(ctx: Ctx) -> dict[str, Any]:
    async with container(ctx).uow() as uow:
        case = await visible_case(ctx, ctx.path["case_id"], uow)
        return await _files_answer(ctx, case.id, [m.name for m in case.materials], uow.conn)


def file_response(data: bytes, content_type: str, name: str) -> web.Response:
    """A stored file as a download: never rendered by the browser in our origin (attachment,
    sandboxed), never cached, never sniffed into something else."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name.encode("ascii", "replace").decode()) or "file"
    return web.Response(
        body=data,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )


@API.route(
    "GET",
    "/api/v1/cases/{case_id}/files/{file_id}",
    summary="下载办件材料的电子文件",
    tag="办件",
    roles=STAFF,
    files=("application/pdf", "image/jpeg", "image/png"),
)
async def download_file(ctx: Ctx) -> web.Response:
    c = container(ctx)
    async with c.uow() as uow:
        case = await visible_case(ctx, ctx.path["case_id"], uow)
        found = next((f for f in await db_files.case_files(uow.conn, case.id) if f.id == ctx.path["file_id"]), None)
    if found is None:
        raise NotFound(f"文件 {ctx.path['file_id']} 不存在")
    return file_response(await c.blobs.get(found.sha256), found.content_type, found.name)


@API.route(
    "GET",
    "/api/v1/packages/{package_id}/files/{sha256}",
    summary="下载电子材料包清单中的文件（按 sha256）",
    tag="审批部门",
    roles=STAFF,
    files=("application/pdf", "image/jpeg", "image/png"),
)
async def download_package_file(ctx: Ctx) -> web.Response:
    c = container(ctx)
    async with c.uow() as uow:
        package = await visible_package(ctx, ctx.path["package_id"], uow)
    entry = next((f for f in package.files if f.sha256 == ctx.path["sha256"]), None)
    if entry is None:
        raise NotFound("材料包的文件清单中没有该文件")
    return file_response(await c.blobs.get(entry.sha256), entry.content_type, entry.name)


# =========================================================================== electronic results (电子证照)

RESULT_VIEW = obj(
    ["id", "name", "sha256", "size", "signer", "signed_at", "demo"],
    extra=True,
    id=STR,
    name=STR,
    sha256=STR,
    size=INT,
    signer=STR,
    signed_at=STR,
    demo={"type": "boolean"},
)


def result_view(r: db_files.CaseResult, url: str = "") -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "sha256": r.sha256,
        "size": r.size,
        "signer": r.signer,
        "signed_at": r.signed_at.isoformat(),
        "demo": r.demo,
        **({"url": url} if url else {}),
    }


@API.route(
    "POST",
    "/api/v1/cases/{case_id}/electronic-result",
    summary=(
        "出具电子办理结果（电子证照）并电子送达：请求体为审批部门的结果 PDF，或为空由系统生成；"
        "以审批部门的证书加盖 PAdES 电子签章，申请人在跟踪页下载"
    ),
    tag="审批部门",
    roles=DEPT,
    raw_body=True,
    response=obj(["case", "result"], extra=True, case=CASE_VIEW, result=RESULT_VIEW),
    status=201,
    errors={413},
    unit=True,
    authority=Authority.DEPARTMENT,
    prepare=checked_result,
)
async def issue_electronic_result(ctx: Ctx) -> dict[str, Any]:
    c, case = container(ctx), ctx.case
    assert case is not None
    if case.delivery is not Delivery.ELECTRONIC:
        raise IllegalTransition("case", case.state.value, "issue_electronic_result", "申请人选择的送达方式不是电子送达")
    if case.state is not CaseState.DECIDED or case.decided_at is None:
        raise IllegalTransition("case", case.state.value, "issue_electronic_result", "办结后才能出具电子办理结果")
    signer = c.result_signer(case.department_office_id)
    if signer is None:
        raise IllegalTransition(
            "case", case.state.value, "issue_electronic_result", "审批部门未配置电子签章证书（HANDOFF_RESULT_SIGNING）"
        )
    own = ctx.body
    assert own is None or isinstance(own, MaterialFile)
    offices = await queries.offices(ctx.uow.conn)
    department = offices.get(case.department_office_id)
    unit_name = department.name if department else case.department_office_id
    if own is not None:
        source = own.data
    else:
        source = await c.renderers.document(
            render_electronic_result,
            ElectronicResultData(
                case_no=case.case_no,
                matter_name=case.matter.name,
                applicant_name=case.applicant.organisation or case.applicant.name,
                outcome_text="准予许可" if case.outcome is Outcome.APPROVED else "不予许可",
                opinion=case.opinion,
                unit=unit_name,
                decided_text=day_zh(local_date(case.decided_at)),
                verify_url=f"{c.public_base_url.rstrip('/')}/verify",
            ),
        )
    now = c.deps.clock.now()
    signed = await asyncio.to_thread(
        signer.sign, source, reason=f"{case.matter.name}办理结果（受理编号 {case.case_no}）", location=unit_name
    )
    digest = hashlib.sha256(signed).hexdigest()
    await db_files.lock_blob(ctx.uow.conn, digest)
    if not await c.blobs.has(digest):
        ctx.new_blobs.append(digest)
    await c.blobs.put(signed, PDF)
    result = db_files.CaseResult(
        id=str(uuid.uuid4()),
        case_id=case.id,
        name=f"{case.matter.name}办理结果-{case.case_no}.pdf",
        sha256=digest,
        source_sha256=hashlib.sha256(source).hexdigest(),
        size=len(signed),
        signer=signer.name,
        office_id=case.department_office_id,
        signed_at=now,
        signed_by=ctx.who.user_id,
        demo=signer.demo,
    )
    await db_files.add_result(ctx.uow.conn, result)
    await dispatch(ShipResult(case_id=case.id, actor=ctx.who.user_id), ctx.uow, c.deps)
    return {"case": case_view(case, c.deps.calendar, today(c)), "result": result_view(result)}


@API.route(
    "GET",
    "/api/v1/cases/{case_id}/electronic-results",
    summary="办件的电子办理结果（签章后的 PDF）",
    tag="办件",
    roles=STAFF,
    response=obj(["results"], results=array(RESULT_VIEW, max_items=100)),
)
async def list_results(ctx: Ctx) -> dict[str, Any]:
    async with container(ctx).uow() as uow:
        case = await visible_case(ctx, ctx.path["case_id"], uow)
        found = await db_files.case_results(uow.conn, case.id)
    return {"results": [result_view(r, f"/api/v1/cases/{case.id}/electronic-results/{r.id}") for r in found]}


@API.route(
    "GET",
    "/api/v1/cases/{case_id}/electronic-results/{result_id}",
    summary="下载电子办理结果（签章后的 PDF）",
    tag="办件",
    roles=STAFF,
    files=(PDF,),
)
async def download_result(ctx: Ctx) -> web.Response:
    c = container(ctx)
    async with c.uow() as uow:
        case = await visible_case(ctx, ctx.path["case_id"], uow)
        found = next((r for r in await db_files.case_results(uow.conn, case.id) if r.id == ctx.path["result_id"]), None)
    if found is None:
        raise NotFound(f"电子办理结果 {ctx.path['result_id']} 不存在")
    return file_response(await c.blobs.get(found.sha256), PDF, found.name)


@API.route(
    "GET",
    "/api/v1/track/{token}/results/{result_id}",
    summary="申请人下载电子办理结果（电子证照，PDF）",
    tag="申请人",
    roles=None,
    files=(PDF,),
)
async def track_result(ctx: Ctx) -> web.Response:
    c = container(ctx)
    async with c.uow() as uow:
        case = await case_by_token(c, ctx.path["token"], uow)
        found = next((r for r in await db_files.case_results(uow.conn, case.id) if r.id == ctx.path["result_id"]), None)
    if found is None:
        raise NotFound("电子办理结果不存在")
    return file_response(await c.blobs.get(found.sha256), PDF, found.name)


VERIFICATION_VIEW = obj(
    ["signed", "intact", "whole_file", "trusted", "recorded", "verdict", "verdict_zh"],
    extra=True,
    signed={"type": "boolean"},
    intact={"type": "boolean"},
    whole_file={"type": "boolean"},
    trusted={"type": "boolean"},
    recorded={"type": "boolean"},
    verdict=STR,
    verdict_zh=STR,
)


async def verify_result(c: Container, data: bytes) -> dict[str, Any]:
    """What a PDF is, checked against its signature and our records (by sha256): who signed,
    when, for which case (受理编号 and matter, no personal data), unchanged or not."""
    if not data:
        raise Problem(422, "请上传要核验的 PDF 文件")
    if sniff(data) != PDF:
        raise Problem(422, "只能核验 PDF 文件（按文件内容识别）", kind="invalid_input")
    roots = [root for signer in c.result_signers.values() for root in signer.trust_roots]
    checked = await asyncio.to_thread(verify_pdf, data, roots)
    digest = hashlib.sha256(data).hexdigest()
    case_no = matter = ""
    async with c.uow() as uow:
        records = await db_files.results_by_sha256(uow.conn, digest)
        if records:
            found = await uow.cases.get(records[0].case_id)
            if found is not None:
                case_no, matter = found.case_no, found.matter.name
    record = records[0] if records else None
    if record is not None and checked.intact and checked.whole_file:
        verdict = "valid"
        zh = "签章有效，文件与本系统出具的电子办理结果完全一致，未被改动"
    elif checked.signed and not checked.intact:
        verdict = "altered"
        zh = "签章无效：文件在签章后被改动，或签章已损坏"
    elif checked.signed and not checked.whole_file:
        verdict = "appended"
        zh = "签章本身完好，但签章之后文件又被追加了内容，与本系统出具的文件不一致"
    elif checked.signed:
        verdict = "unknown"
        zh = "签章完好，但本系统没有出具过这份文件"
    else:
        verdict = "unsigned"
        zh = "该 PDF 没有电子签章，不是本系统出具的电子办理结果"
    return {
        "signed": checked.signed,
        "intact": checked.intact,
        "whole_file": checked.whole_file,
        "trusted": checked.trusted,
        "recorded": record is not None,
        "signer": checked.signer,
        "signed_at": checked.signed_at.isoformat() if checked.signed_at else None,
        "sha256": digest,
        "case_no": case_no,
        "matter_name": matter,
        "demo": bool(record and record.demo),
        "verdict": verdict,
        "verdict_zh": zh + ("（演示证书签发，不具法律效力）" if record and record.demo else ""),
    }


@API.route(
    "POST",
    "/api/v1/verify",
    summary="核验电子办理结果：上传 PDF（请求体为文件本身），返回签章人、签章时间、办件及是否被改动",
    tag="申请人",
    roles=None,
    raw_body=True,
    response=VERIFICATION_VIEW,
    errors={413},
)
async def verify(ctx: Ctx) -> dict[str, Any]:
    c = container(ctx)
    return await verify_result(c, await read_limited(ctx.request, c.material_max_bytes))
