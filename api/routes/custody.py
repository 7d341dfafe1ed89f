"""Custody anchored beyond the database (DESIGN §12): the signed checkpoints, and a package's
custody report as a PDF.

A checkpoint reveals only hashes (a Merkle root, the previous checkpoint's hash, a signature), so
any staff member may read any of them whatever their scope: a printed ledger's footer names one,
and whoever holds the paper checks it here, or offline with the public key against ``signed``.
The custody report follows the custody chain's own visibility (GET /packages/{id}/custody)."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from adapters.db import checkpoints, queries
from api.documents import document_route, pdf, render
from api.routes.common import API, COURIER, STAFF, container, visible_package
from api.routing import DATETIME, INT, STR, Ctx, obj
from api.views import iso
from handoff.custody import Checkpoint
from handoff.services import NotFound
from labels.custody_report import render_custody_report
from labels.from_domain import custody_report_data

TAG = "监管链存证"
CHECKPOINT_VIEW = obj(
    ["n", "time", "root", "count", "prev_hash", "signature", "public_key", "signed"],
    n=INT,
    time=DATETIME,
    root=STR,
    count=INT,
    prev_hash=STR,
    signature=STR,
    public_key=STR,
    signed=STR,
    short=STR,
)
MAX_N_DIGITS = 9


def checkpoint_view(cp: Checkpoint) -> dict[str, Any]:
    return {
        "n": cp.n,
        "time": iso(cp.made_at),
        "root": cp.root,
        "count": cp.count,
        "prev_hash": cp.prev_hash,
        "signature": base64.b64encode(cp.signature).decode(),
        "public_key": base64.b64encode(cp.public_key).decode(),
        "signed": cp.canonical().decode(),
        "short": cp.short(),
    }


@API.route(
    "GET",
    "/api/v1/checkpoints/latest",
    summary="最新的存证检查点（默克尔根、上一检查点哈希、Ed25519 签名与公钥，均为 base64 或十六进制）",
    tag=TAG,
    roles=STAFF,
    response=CHECKPOINT_VIEW,
)
async def latest_checkpoint(ctx: Ctx) -> dict[str, Any]:
    async with container(ctx).engine.connect() as conn:
        found = await checkpoints.latest(conn)
    if found is None:
        raise NotFound("尚未生成存证检查点")
    return checkpoint_view(found)


@API.route(
    "GET",
    "/api/v1/checkpoints/{n}",
    summary="第 n 号存证检查点（signed 为签名覆盖的原文，可用 public_key 离线验证 signature）",
    tag=TAG,
    roles=STAFF,
    response=CHECKPOINT_VIEW,
)
async def get_checkpoint(ctx: Ctx) -> dict[str, Any]:
    raw = ctx.path["n"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_N_DIGITS:
        raise NotFound(f"存证检查点 {raw} 不存在")
    async with container(ctx).engine.connect() as conn:
        found = await checkpoints.by_number(conn, int(raw))
    if found is None:
        raise NotFound(f"存证检查点 No.{int(raw)} 不存在")
    return checkpoint_view(found)


@document_route(
    "/api/v1/packages/{package_id}/custody-report",
    "材料包监管链报告（PDF：逐条交接记录及其哈希、验证结果、覆盖它的存证检查点）",
    STAFF | COURIER,
)
async def custody_report(ctx: Ctx) -> web.Response:
    c = container(ctx)
    async with c.uow() as uow:
        package = await visible_package(ctx, ctx.path["package_id"], uow)
        case = await uow.cases.get(package.case_id)
    async with c.engine.connect() as conn:
        offices = await queries.offices(conn)
        actors = [e.actor for e in package.custody]
        couriers = [p.split(":", 1)[1] for e in package.custody for p in (e.from_party, e.to_party) if ":" in p]
        names = await queries.user_names(conn, [*actors, *couriers])
        problem, covering = await checkpoints.standing(conn, package)
    data = custody_report_data(
        package,
        case=case,
        offices=offices,
        names=names,
        problem=problem,
        checkpoint=covering,
        printed_at=c.deps.clock.now(),
    )
    content = await render(ctx, render_custody_report, data)
    return pdf(content, f"监管链报告-{package.code}", f"custody-report-{package.code}")
