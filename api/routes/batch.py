"""批量签收 by the manifest's QR (issue 17): the department scans the 交接单 and signs every
package of the batch addressed to it in one request — one unit of work, one Idempotency-Key, each
package its own custody event with its own discrepancies. Authority is per package: the caller's
scope must cover the receiving office of every package it signs (403 otherwise, nothing changes)."""

from __future__ import annotations

import re
from typing import Any

from adapters.db import queries
from adapters.db.repositories import SqlUnitOfWork
from adapters.logistics.internal import NAME as INTERNAL_CARRIER
from api.auth import Role
from api.authority import Authority, can_read_package, check_package
from api.problems import Problem
from api.routes.common import API, EVIDENCE, PACKAGE_VIEW, container, in_scope, package_answer, payload_for
from api.routes.department import SIGN_BODY, store_evidence
from api.routing import STR, Ctx, array, obj, text
from api.views import iso, package_view
from handoff.package import Discrepancy, DiscrepancyKind, Manifest, Package, PackageState, party_office
from handoff.services import NotFound, SignPackage, dispatch

SIGNABLE = (PackageState.WITH_COURIER, PackageState.IN_TRANSIT, PackageState.ARRIVED)
UUID_HEX = re.compile(r"[0-9A-Fa-f]{32}")


def manifest_id_of(value: str) -> str:
    """The manifest id a QR's value names: the value is the id without hyphens, upper case
    (handoff.codes.manifest_value); a UUID's 32 hex digits get their hyphens back."""
    if UUID_HEX.fullmatch(value):
        v = value.lower()
        return f"{v[:8]}-{v[8:12]}-{v[12:16]}-{v[16:20]}-{v[20:]}"
    return value


async def _manifest(ctx: Ctx, uow: SqlUnitOfWork, manifest_id: str) -> tuple[Manifest, list[Package]]:
    """The manifest and those of its packages the caller may see (none: 404, as if it did not exist)."""
    found = await queries.manifest(uow.conn, manifest_id_of(manifest_id))
    if found is None:
        raise NotFound("交接单不存在")
    packages = [p for pid in found.package_ids if (p := await uow.packages.get(pid)) is not None]
    visible = [p for p in packages if can_read_package(ctx.who, p, ctx.office_regions)]
    if not visible:
        raise NotFound("交接单不存在")
    return found, visible


def _signable_here(ctx: Ctx, package: Package) -> bool:
    office = package.to_party.split(":", 1)[1] if package.to_party.startswith("office:") else None
    if office is None or package.state not in SIGNABLE:
        return False
    regions = ctx.office_regions
    return ctx.who.scope.everything or (office in regions and ctx.who.scope.covers_office(office, regions[office]))


async def manifest_answer(ctx: Ctx, value: str) -> dict[str, Any]:
    """What scanning a manifest's QR shows: the batch, each visible package with whether the
    caller can sign it now."""
    c = container(ctx)
    async with c.uow() as uow:
        manifest, packages = await _manifest(ctx, uow, value)
        offices = await queries.offices(uow.conn)
        names = await queries.user_names(uow.conn, [manifest.courier])
    office = offices.get(manifest.office_id)
    return {
        "kind": "manifest",
        "id": manifest.id,
        "office_id": manifest.office_id,
        "office_name": office.name if office else manifest.office_id,
        "courier_name": names.get(manifest.courier, "快递员"),
        "created_at": iso(manifest.created_at),
        "scan_payload": c.signer.sign_manifest(manifest.id),
        "packages": [{**package_view(p, payload_for(c, p)), "signable": _signable_here(ctx, p)} for p in packages],
    }


DISCREPANCY = SIGN_BODY["properties"]["discrepancies"]


@API.route(
    "POST",
    "/api/v1/manifests/{manifest_id}/sign",
    summary="按交接单整批签收：交接单中寄往本单位的每个材料包各自签收（各有一条交接记录，可逐项登记差异）",
    tag="审批部门",
    roles={Role.DEPT_CLERK, Role.WINDOW_CLERK},
    body=obj(
        ["office_id"],
        office_id=text(64),
        packages=array(
            obj(["package_id"], package_id=text(64), discrepancies=DISCREPANCY),
            max_items=200,
        ),
        evidence=EVIDENCE,
    ),
    response=obj(
        ["id", "signed", "skipped"],
        id=STR,
        signed=array(PACKAGE_VIEW),
        skipped=array(obj(["package_id", "code", "reason"], package_id=STR, code=STR, reason=STR)),
    ),
    idempotent=True,
    unit=True,
)
async def sign_manifest(ctx: Ctx) -> dict[str, Any]:
    c, b, uow = container(ctx), ctx.body, ctx.uow
    manifest, packages = await _manifest(ctx, uow, ctx.path["manifest_id"])
    office_id = b["office_id"]
    if not await in_scope(ctx, office_id):
        raise Problem(403, "无权操作：只有收件单位可以签收该材料包", kind="forbidden_action")
    listed = {p.id for p in packages}
    per_package: dict[str, list[Discrepancy]] = {}
    for entry in b.get("packages", []):
        if entry["package_id"] not in listed:
            raise Problem(422, f"材料包 {entry['package_id']} 不在该交接单中")
        per_package[entry["package_id"]] = [
            Discrepancy(d["item_seq"], DiscrepancyKind(d["kind"]), d.get("note", ""), d.get("actual_pages"))
            for d in entry.get("discrepancies", [])
        ]
    here = party_office(office_id)
    mine = [p for p in packages if p.to_party == here and p.state in SIGNABLE]
    for p in mine:  # the receiving office of each package (already in scope: it is office_id)
        check_package(Authority.RECEIVER, ctx.who, p, ctx.office_regions, internal_carrier=INTERNAL_CARRIER)
    skipped = []
    for p in packages:
        if p in mine:
            continue
        if p.to_party != here:
            reason = "不是寄往本单位的材料包"
        elif p.state is PackageState.SIGNED:
            reason = "已签收"
        else:
            reason = f"当前状态不能签收（{package_view(p, '')['state_zh']}）"
        if p.id in per_package:
            raise Problem(409, f"材料包 {p.code} {reason}，不能登记差异")
        skipped.append({"package_id": p.id, "code": str(p.code), "reason": reason})
    if not mine:
        raise Problem(409, "交接单中没有待本单位签收的材料包", kind="nothing_to_sign")
    evidence = await store_evidence(ctx, b.get("evidence", []))
    for p in mine:
        await dispatch(
            SignPackage(
                package_id=p.id,
                office_id=office_id,
                actor=ctx.who.user_id,
                discrepancies=per_package.get(p.id, []),
                evidence=evidence,
            ),
            uow,
            c.deps,
        )
    return {"id": manifest.id, "signed": [package_answer(ctx, p.id) for p in mine], "skipped": skipped}
