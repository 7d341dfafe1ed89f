"""Every route of /api/v1, grouped by actor (DESIGN §1). Each handler turns a request into a
command for handoff.services, or reads through the unit of work, and answers JSON."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from adapters.db import queries, reports
from adapters.db.repositories import SqlUnitOfWork
from adapters.images import reencode
from adapters.logistics.common import event_key
from adapters.logistics.internal import NAME as INTERNAL_CARRIER
from adapters.sms.reports import report_key
from api.auth import ROLE_ZH, Role, Scope
from api.authority import Authority, can_read_case, can_read_package
from api.container import Container
from api.problems import Problem
from api.routing import (
    BOOL,
    DATE,
    DATETIME,
    INT,
    STR,
    Api,
    Ctx,
    array,
    enum,
    nullable,
    obj,
    text,
)
from api.views import case_view, clock_view, custody_view, package_view, tracking_view
from handoff.case import Case, MaterialSubmission
from handoff.codes import PackageCode, PayloadKind, hash_token, tracking_token_shape_ok
from handoff.errors import CodeRejected, DomainError
from handoff.matter import Delivery, Mode, StageType
from handoff.package import Discrepancy, DiscrepancyKind, ExceptionKind, Item, Method, Package
from handoff.ports import CallbackAnswer, CarrierError, InboundHttp, ProviderError
from handoff.services import (
    ApplyTracking,
    CaseCommand,
    CourierReport,
    HandOverBatch,
    NotFound,
    RegisterCase,
    ReportPackageException,
    SealOutbound,
    ShipResult,
    SignPackage,
    TakeInAtWindow,
    dispatch,
)
from handoff.stats import Indicators, indicators
from handoff.timeutil import CHINA, local_date

API = Api()
log = logging.getLogger("handoff.api")

STAFF = {Role.WINDOW_CLERK, Role.DEPT_CLERK, Role.DEPT_LEAD, Role.SUPERVISOR, Role.ADMIN}
WINDOW = {Role.WINDOW_CLERK}
DEPT = {Role.DEPT_CLERK}
COURIER = {Role.COURIER}

CASE_VIEW = obj(
    ["id", "state", "state_zh", "version", "matter", "applicant", "materials", "stages", "clock", "next_actions"],
    extra=True,
    id=STR,
    state=STR,
    state_zh=STR,
    version=INT,
    matter=obj(["id", "name"], extra=True, id=STR, name=STR),
    applicant=obj(["name", "phone"], extra=True, name=STR, phone=STR, id_number_masked=nullable(STR)),
    materials=array(obj(["name"], extra=True, name=STR)),
    stages=array(obj(["id", "type", "start_on"], extra=True, id=STR, type=STR, start_on=STR)),
    clock=nullable(obj(["due_date", "used", "remaining"], extra=True, due_date=STR, used=INT, remaining=INT)),
    next_actions=array(STR),
    tracking_url=STR,
)
PACKAGE_VIEW = obj(
    ["id", "code", "case_id", "state", "scan_payload", "items", "next_actions"],
    extra=True,
    id=STR,
    code=STR,
    case_id=STR,
    state=STR,
    scan_payload=STR,
    items=array(obj(["seq", "name"], extra=True, seq=INT, name=STR)),
    next_actions=array(STR),
)
EVIDENCE = array(
    obj(["content_type", "data_base64"], content_type=enum(["image/png", "image/jpeg"]), data_base64=text(4_000_000)),
    max_items=4,
)
COURIER_BODY = obj(
    [],
    client_time=DATETIME,
    place=text(200, 0),
    evidence=EVIDENCE,
)


def container(ctx: Ctx) -> Container:
    from api.app import CONTAINER

    return ctx.request.app[CONTAINER]


def today(c: Container) -> Any:
    return local_date(c.deps.clock.now())


async def visible_case(ctx: Ctx, case_id: str, uow: SqlUnitOfWork) -> Case:
    case = await uow.cases.get(case_id)
    if case is None or not can_read_case(ctx.who, case, ctx.office_regions):
        raise NotFound(f"办件 {case_id} 不存在")
    return case


async def in_scope(ctx: Ctx, *office_ids: str) -> bool:
    who = ctx.who
    if who.scope.everything:
        return True
    known = ctx.office_regions
    return who.scope.covers_any((o, known[o]) for o in office_ids if o in known)


async def visible_package(ctx: Ctx, package_id: str, uow: SqlUnitOfWork) -> Package:
    package = await uow.packages.get(package_id)
    if package is None or not can_read_package(ctx.who, package, ctx.office_regions):
        raise NotFound(f"材料包 {package_id} 不存在")
    return package


async def run_case(ctx: Ctx, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """A command on the path's case, in the request's unit of work; the answer is the case as it
    is being committed."""
    c, case = container(ctx), ctx.case
    assert case is not None
    await dispatch(CaseCommand(case_id=case.id, name=name, actor=ctx.who.user_id, args=args or {}), ctx.uow, c.deps)
    return case_view(case, c.deps.calendar, today(c))


def package_answer(ctx: Ctx, package_id: str) -> dict[str, Any]:
    """The package as the request's command left it (already held by the unit of work)."""
    package = ctx.uow.known("package", package_id)
    assert isinstance(package, Package)
    return package_view(package, payload_for(container(ctx), package))


def payload_for(c: Container, package: Package) -> str:
    return c.signer.sign_package(package.code)


# =========================================================================== who am I


OFFICE_VIEW = obj(["id", "name", "kind", "region_code"], extra=True, id=STR, name=STR, kind=STR, region_code=STR)


@API.route(
    "GET",
    "/api/v1/me",
    summary="当前登录人员：姓名、角色、权限范围及范围内的单位",
    tag="查询",
    roles=STAFF | COURIER,
    response=obj(
        ["user_id", "name", "role", "role_zh", "scope", "offices"],
        user_id=STR,
        name=STR,
        role=STR,
        role_zh=STR,
        scope=STR,
        offices=array(OFFICE_VIEW, max_items=10000),
    ),
)
async def whoami(ctx: Ctx) -> dict[str, Any]:
    who = ctx.who
    async with container(ctx).engine.connect() as conn:
        known = await queries.offices(conn)
    return {
        "user_id": who.user_id,
        "name": who.name,
        "role": who.role.value,
        "role_zh": ROLE_ZH[who.role],
        "scope": str(who.scope),
        "offices": [
            {"id": o.id, "name": o.name, "kind": o.kind, "region_code": o.region_code, "address": o.address}
            for o in sorted(known.values(), key=lambda o: o.id)
            if who.scope.covers_office(o.id, o.region_code)
        ],
    }


# =========================================================================== matters


MATTER_VIEW = obj(
    ["id", "name", "legal_limit", "promised_limit", "kind", "modes", "materials"],
    extra=True,
    id=STR,
    name=STR,
    legal_limit=INT,
    promised_limit=INT,
    kind=STR,
    modes=array(STR),
    materials=array(obj(["name", "required", "tolerable"], extra=True, name=STR, required=BOOL, tolerable=BOOL)),
)


@API.route(
    "GET",
    "/api/v1/matters",
    summary="事项目录（可按名称查找）",
    tag="事项",
    roles=STAFF,
    query={"q": {"type": "string"}},
    response=obj(["items"], items=array(MATTER_VIEW, max_items=1000)),
)
async def list_matters(ctx: Ctx) -> dict[str, Any]:
    from adapters.db.repositories import matter_to_json

    c = container(ctx)
    async with c.engine.connect() as conn:
        ids = await queries.matter_ids(conn, ctx.query.get("q", ""))
    async with c.uow() as uow:
        found = [await uow.matters.get(i) for i in ids]
    return {"items": [matter_to_json(m) for m in found if m is not None]}


@API.route(
    "GET", "/api/v1/matters/{matter_id}", summary="事项及其材料清单", tag="事项", roles=STAFF, response=MATTER_VIEW
)
async def get_matter(ctx: Ctx) -> dict[str, Any]:
    from adapters.db.repositories import matter_to_json

    async with container(ctx).uow() as uow:
        matter = await uow.matters.get(ctx.path["matter_id"])
    if matter is None:
        raise NotFound(f"事项 {ctx.path['matter_id']} 不存在")
    return matter_to_json(matter)


# =========================================================================== window (代收窗口)

REGISTER_BODY = obj(
    ["matter_id", "mode", "delivery", "applicant", "window_office_id", "materials"],
    matter_id=text(64),
    mode=enum([m.value for m in Mode]),
    delivery=enum([d.value for d in Delivery]),
    window_office_id=text(64),
    applicant=obj(
        ["name", "phone"],
        name=text(100),
        phone=text(20),
        id_number=text(18, 15),
        address=text(300, 0),
        organisation=text(200, 0),
    ),
    materials=array(
        obj(
            ["name"],
            name=text(200),
            copies={"type": "integer", "minimum": 1, "maximum": 999},
            pages={"type": "integer", "minimum": 0, "maximum": 99999},
            original=BOOL,
            remarks=text(500, 0),
            electronic=BOOL,
        ),
        max_items=100,
    ),
    tolerated=array(text(200), max_items=50),
)


@API.route(
    "POST",
    "/api/v1/cases",
    summary="收件登记（材料不全时一次性告知全部缺少的材料）",
    tag="代收窗口",
    roles=WINDOW,
    body=REGISTER_BODY,
    response=CASE_VIEW,
    status=201,
    unit=True,
)
async def register_case(ctx: Ctx) -> dict[str, Any]:
    c, b = container(ctx), ctx.body
    if not await in_scope(ctx, b["window_office_id"]):
        raise NotFound(f"代收窗口 {b['window_office_id']} 不存在")
    applicant = b["applicant"]
    events = await dispatch(
        RegisterCase(
            matter_id=b["matter_id"],
            mode=Mode(b["mode"]),
            delivery=Delivery(b["delivery"]),
            applicant_name=applicant["name"],
            applicant_phone=applicant["phone"],
            applicant_id_number=applicant.get("id_number"),
            applicant_address=applicant.get("address", ""),
            applicant_organisation=applicant.get("organisation", ""),
            window_office_id=b["window_office_id"],
            materials=[MaterialSubmission(**m) for m in b["materials"]],
            tolerated=b.get("tolerated", []),
            actor=ctx.who.user_id,
        ),
        ctx.uow,
        c.deps,
    )
    case_id = events[0].case_id
    assert case_id is not None
    case = ctx.uow.known("case", case_id)
    assert isinstance(case, Case)
    return case_view(case, c.deps.calendar, today(c), c.tracking_url(case_id))


@API.route(
    "POST",
    "/api/v1/cases/{case_id}/packages",
    summary="生成并封装材料包（打印转办单）",
    tag="代收窗口",
    roles=WINDOW,
    body=obj([], carrier=text(32), electronic=BOOL),
    response=PACKAGE_VIEW,
    status=201,
    idempotent=True,
    unit=True,
    authority=Authority.WINDOW,
)
async def seal_outbound(ctx: Ctx) -> dict[str, Any]:
    c = container(ctx)
    events = await dispatch(
        SealOutbound(
            case_id=ctx.path["case_id"],
            actor=ctx.who.user_id,
            carrier=ctx.body.get("carrier"),
            electronic=bool(ctx.body.get("electronic")),
        ),
        ctx.uow,
        c.deps,
    )
    package_id = next(e.package_id for e in events if e.type == "package.created")
    assert package_id is not None
    return package_answer(ctx, package_id)


@API.route(
    "POST",
    "/api/v1/cases/{case_id}/supplement-packages",
    summary="窗口收取补正或容缺材料，封装为补正材料包（打印转办单）；审批部门签收即为补齐",
    tag="代收窗口",
    roles=WINDOW,
    body=obj(
        ["items"],
        items=array(
            obj(
                ["name"],
                name=text(200),
                copies={"type": "integer", "minimum": 1, "maximum": 999},
                pages={"type": "integer", "minimum": 0, "maximum": 99999},
                original=BOOL,
                remarks=text(500, 0),
            ),
            min_items=1,
            max_items=50,
        ),
        carrier=text(32),
    ),
    response=PACKAGE_VIEW,
    status=201,
    idempotent=True,
    unit=True,
    authority=Authority.WINDOW,
)
async def take_in_supplement(ctx: Ctx) -> dict[str, Any]:
    c = container(ctx)
    items = [
        Item(
            seq=n,
            name=i["name"].strip(),
            copies=i.get("copies", 1),
            pages=i.get("pages", 0),
            original=i.get("original", True),
            remarks=i.get("remarks", ""),
        )
        for n, i in enumerate(ctx.body["items"], start=1)
    ]
    events = await dispatch(
        TakeInAtWindow(
            case_id=ctx.path["case_id"], items=items, actor=ctx.who.user_id, carrier=ctx.body.get("carrier")
        ),
        ctx.uow,
        c.deps,
    )
    package_id = next(e.package_id for e in events if e.type == "package.created")
    assert package_id is not None
    return package_answer(ctx, package_id)


MANIFEST_VIEW = obj(
    ["id", "courier", "packages", "scan_payload"],
    extra=True,
    id=STR,
    courier=STR,
    courier_name=STR,
    packages=array(STR),
    scan_payload=STR,
)


@API.route(
    "POST",
    "/api/v1/manifests",
    summary="批量交接给快递员（一张交接单）：快递员须为在岗且负责该线路的人员，或材料包的承运商",
    tag="代收窗口",
    roles={Role.WINDOW_CLERK, Role.DEPT_CLERK},
    body=obj(
        ["office_id", "courier", "package_ids"],
        office_id=text(64),
        courier=text(64),
        package_ids=array(text(64), max_items=200, min_items=1),
    ),
    response=MANIFEST_VIEW,
    status=201,
    idempotent=True,
    unit=True,
)
async def hand_over(ctx: Ctx) -> dict[str, Any]:
    """The office holding the packages hands them over (its scope is the authority: the domain
    refuses a package it does not hold); the courier must exist and cover the route."""
    c, b, uow = container(ctx), ctx.body, ctx.uow
    if not await in_scope(ctx, b["office_id"]):
        raise NotFound(f"单位 {b['office_id']} 不存在")
    packages = [await visible_package(ctx, pid, uow) for pid in b["package_ids"]]
    courier_name = await named_courier(ctx, b["courier"], packages)
    events = await dispatch(
        HandOverBatch(
            office_id=b["office_id"], courier=b["courier"], package_ids=b["package_ids"], actor=ctx.who.user_id
        ),
        uow,
        c.deps,
    )
    manifest_id = next(e.manifest_id for e in events if e.type == "package.picked_up")  # type: ignore[attr-defined]
    return {
        "id": manifest_id,
        "courier": b["courier"],
        "courier_name": courier_name,
        "packages": list(b["package_ids"]),
        "scan_payload": c.signer.sign_manifest(manifest_id),
    }


def _party_error(field_: str, message: str) -> Problem:
    return Problem(422, message, kind="unknown_party", errors=[{"field": field_, "message": message}])


async def named_courier(ctx: Ctx, courier: str, packages: list[Package]) -> str:
    """The courier of a hand-over: an active courier user whose scope covers both ends of every
    package, or the carrier the packages were sealed for. Its name, for the answer."""
    from adapters.logistics.factory import CARRIERS
    from handoff.labels_zh import CARRIER_ZH

    if courier in CARRIERS and courier != INTERNAL_CARRIER:
        wrong = [str(p.code) for p in packages if (p.carrier or INTERNAL_CARRIER) != courier]
        if wrong:
            carrier = CARRIER_ZH.get(courier, courier)
            raise _party_error("courier", f"材料包 {'、'.join(wrong)} 不是交由 {carrier} 承运的")
        return CARRIER_ZH.get(courier, courier)
    member = await queries.staff_member(ctx.uow.conn, courier)
    if member is None or member.role != Role.COURIER.value or not member.active:
        raise _party_error("courier", f"快递员 “{courier}” 不存在或已停用，请从快递员名单中选择")
    scope = Scope.parse(member.scope)
    regions = await container(ctx).office_regions()
    for package in packages:
        ends = [o for o in (_office_of(package.from_party), _office_of(package.to_party)) if o]
        if not all(scope.covers_office(o, regions.get(o, "")) for o in ends):
            raise _party_error("courier", f"快递员 {member.name} 不负责材料包 {package.code} 的线路")
        if (package.carrier or INTERNAL_CARRIER) != INTERNAL_CARRIER:
            raise _party_error("courier", f"材料包 {package.code} 已交由承运商寄递，不能交给本单位快递员")
    return member.name


def _office_of(party: str) -> str | None:
    return party.split(":", 1)[1] if party.startswith("office:") else None


STAFF_ROW = obj(["id", "name", "role", "role_zh"], id=STR, name=STR, role=STR, role_zh=STR)


@API.route(
    "GET",
    "/api/v1/staff",
    summary="可选的快递员或分管领导名单（在岗、负责您范围内的单位；可按单位筛选）",
    tag="查询",
    roles=STAFF,
    query={"role": {"type": "string", "enum": [Role.COURIER.value, Role.DEPT_LEAD.value]}, "office_id": STR},
    required_query={"role"},
    response=obj(["items"], items=array(STAFF_ROW, max_items=2000)),
)
async def list_staff(ctx: Ctx) -> dict[str, Any]:
    """Pickers for the screens: who may be named as the courier of a hand-over or the lead of a
    copy. Only names and ids; no phones."""
    who, regions = ctx.who, await container(ctx).office_regions()
    office_id = ctx.query.get("office_id")
    if office_id is not None:
        if office_id not in regions or not await in_scope(ctx, office_id):
            raise NotFound(f"单位 {office_id} 不存在")
        offices = [office_id]
    else:
        offices = [o for o, r in regions.items() if who.scope.covers_office(o, r)]
    async with container(ctx).engine.connect() as conn:
        members = await queries.staff_by_role(conn, ctx.query["role"])
    items = []
    for m in members:
        try:
            scope = Scope.parse(m.scope)
        except DomainError:
            continue
        if any(scope.covers_office(o, regions[o]) for o in offices):
            items.append({"id": m.id, "name": m.name, "role": m.role, "role_zh": ROLE_ZH[Role(m.role)]})
    return {"items": items}


@API.route(
    "POST",
    "/api/v1/cases/{case_id}/pickup",
    summary="发放登记（本人或代领）",
    tag="代收窗口",
    roles={Role.WINDOW_CLERK, Role.DEPT_CLERK},
    body=obj(
        ["office_id", "receiver_name", "by_proxy"],
        office_id=text(64),
        receiver_name=text(100),
        receiver_id_number=text(18, 15),
        by_proxy=BOOL,
    ),
    response=CASE_VIEW,
    unit=True,
    authority=Authority.PICKUP_OFFICE,
)
async def register_pickup(ctx: Ctx) -> dict[str, Any]:
    return await run_case(ctx, "register_pickup", dict(ctx.body))


# =========================================================================== scanning and signing


@API.route(
    "POST",
    "/api/v1/scan",
    summary="扫码或输入材料包编号，查看材料包及下一步操作",
    tag="审批部门",
    roles={Role.DEPT_CLERK, Role.WINDOW_CLERK, Role.COURIER},
    body=obj(["code"], code=text(300)),
    response=PACKAGE_VIEW,
)
async def scan(ctx: Ctx) -> dict[str, Any]:
    c = container(ctx)
    raw = unicodedata.normalize("NFKC", ctx.body["code"]).strip()  # full-width input from a Chinese IME
    if "/" in raw:
        scanned = c.signer.verify(raw)
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
    for image in cleaned:
        digest = hashlib.sha256(image.data).hexdigest()
        if not await c.blobs.has(digest):
            ctx.new_blobs.append(digest)
        refs.append(await c.blobs.put(image.data, image.content_type))
    return refs


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
        raise _party_error(field_, f"分管领导 “{lead}” 不存在或已停用，请从领导名单中选择")
    department = case.department_office_id
    region = (await container(ctx).office_regions()).get(department, "")
    if not Scope.parse(member.scope).covers_office(department, region):
        raise _party_error(field_, f"{member.name} 不分管该办件的审批部门")


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
    await dispatch(ShipResult(case_id=case.id, actor=ctx.who.user_id, carrier=ctx.body.get("carrier")), ctx.uow, c.deps)
    return case_view(case, c.deps.calendar, today(c))


# =========================================================================== reading: cases, clock, custody, ledger


@API.route(
    "GET", "/api/v1/cases/{case_id}", summary="办件档案（全部信息与计时）", tag="查询", roles=STAFF, response=CASE_VIEW
)
async def get_case(ctx: Ctx) -> dict[str, Any]:
    c = container(ctx)
    async with c.uow() as uow:
        case = await visible_case(ctx, ctx.path["case_id"], uow)
        view = case_view(case, c.deps.calendar, today(c))
        view["packages"] = [package_view(p, payload_for(c, p)) for p in await uow.packages.for_case(case.id)]
        sms, case_gaps = await queries.case_messages(uow.conn, case.id)
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
    async with c.uow() as uow:
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
    async with c.uow() as uow:
        package = await visible_package(ctx, ctx.path["package_id"], uow)
        check = package.verify()
        return {
            "package": package_view(package, payload_for(c, package)),
            "verified": check.ok,
            "broken_at": check.broken_at,
            "reason": check.reason,
            "events": [custody_view(e) for e in package.custody],
        }


LEDGER_ROW = obj(["case_id", "collected_at", "matter_name", "kind_zh", "applicant", "state_zh"], extra=True)
LEDGER_FILTERS: dict[str, Any] = {
    "state": {"type": "string"},
    "matter_id": {"type": "string"},
    "from": {"type": "string", "format": "date"},
    "to": {"type": "string", "format": "date"},
}


async def ledger_items(ctx: Ctx, *, limit: int, after: tuple[datetime, str] | None = None) -> list[dict[str, Any]]:
    """Rows of Appendix C that the caller may see, with the request's filters (``state`` as a
    comma-separated list, ``matter_id``, ``from`` and ``to`` collection dates), newest first: the
    JSON ledger and its exports read the same rows."""
    from handoff.labels_zh import CASE_KIND_ZH, STATE_ZH
    from handoff.privacy import mask_phone

    c, q, who = container(ctx), ctx.query, ctx.who
    try:
        start = datetime.fromisoformat(q["from"]).replace(tzinfo=CHINA) if q.get("from") else None
        end = (datetime.fromisoformat(q["to"]).replace(tzinfo=CHINA) + timedelta(days=1)) if q.get("to") else None
    except (ValueError, TypeError) as exc:
        raise Problem(422, "日期参数无效，应为 YYYY-MM-DD") from exc
    states = [s for s in q.get("state", "").split(",") if s]
    async with c.engine.connect() as conn:
        rows = await queries.ledger_page(
            conn,
            office_ids=None if who.scope.everything else sorted(who.scope.offices),
            region_prefixes=None if who.scope.everything else list(who.scope.regions),
            states=states,
            matter_id=q.get("matter_id"),
            collected_from=start,
            collected_to=end,
            after=after,
            limit=limit,
        )
        clerks = await queries.collectors(conn, [r["id"] for r in rows])
        names = await queries.user_names(conn, clerks.values())
    return [
        {
            "case_id": r["id"],
            "case_no": r["case_no"] or "",
            "collected_at": r["collected_at"].isoformat(),
            "department": r["department_name"],
            "matter_name": r["matter_name"],
            "quantity": 1,
            "kind_zh": CASE_KIND_ZH[r["matter_kind"]],
            "applicant": r["applicant_name"],
            "phone": mask_phone(r["applicant_phone"]),
            "window": r["window_name"],
            "clerk": names.get(clerks.get(r["id"], ""), clerks.get(r["id"], "")),
            "state": r["state"],
            "state_zh": STATE_ZH[r["state"]],
        }
        for r in rows
    ]


@API.route(
    "GET",
    "/api/v1/ledger",
    summary="事项办理台账（附录 C），按时间倒序分页",
    tag="监管",
    roles=STAFF,
    query={
        **LEDGER_FILTERS,
        "cursor": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 200},
    },
    response=obj(["items", "next_cursor"], items=array(LEDGER_ROW, max_items=200), next_cursor=nullable(STR)),
)
async def ledger(ctx: Ctx) -> dict[str, Any]:
    limit = int(ctx.query.get("limit", "50"))
    try:
        after = queries.decode_cursor(ctx.query["cursor"]) if ctx.query.get("cursor") else None
    except (ValueError, TypeError) as exc:
        raise Problem(422, "分页游标无效") from exc
    items = await ledger_items(ctx, limit=limit + 1, after=after)
    more = len(items) > limit
    items = items[:limit]
    last = items[-1] if items else None
    cursor = (
        queries.encode_cursor(datetime.fromisoformat(last["collected_at"]), last["case_id"]) if more and last else None
    )
    return {"items": items, "next_cursor": cursor}


INDICATOR_FIGURES = obj(
    ["cases", "acceptance_rate", "completion_rate", "early_rate", "overdue", "trips_saved", "distance_saved_km"],
    extra=True,
    cases=INT,
    overdue=INT,
    trips_saved=INT,
)


def figures_view(f: Indicators) -> dict[str, Any]:
    return {
        "cases": f.cases,
        "accepted": f.accepted,
        "decided": f.decided,
        "should_be_decided": f.should_be_decided,
        "early": f.early,
        "acceptance_rate": f.acceptance_rate,
        "completion_rate": f.completion_rate,
        "early_rate": f.early_rate,
        "overdue": f.overdue,
        "overdue_rate": f.overdue_rate,
        "trips_saved": f.trips_saved,
        "distance_saved_km": round(f.distance_saved_km, 3),
        "rated": f.rated,
        "rating_coverage": f.rating_coverage,
        "average_rating": f.average_rating,
        "bad_rating_rate": f.bad_rating_rate,
        "rectification_rate": f.rectification_rate,
    }


def report_scope(ctx: Ctx) -> reports.Scope:
    who = ctx.who
    if who.scope.everything:
        return reports.Scope(None, None)
    return reports.Scope(sorted(who.scope.offices), list(who.scope.regions))


def _day(ctx: Ctx, name: str) -> date | None:
    raw = ctx.query.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise Problem(422, f"查询参数 {name} 应为日期（YYYY-MM-DD）") from exc


@API.route(
    "GET",
    "/api/v1/indicators",
    summary="通办评价指标（受理率、办结率、提前办结率、逾期、少跑、好差评），按日、月、窗口、部门或区县汇总",
    tag="监管",
    roles={Role.SUPERVISOR, Role.ADMIN},
    query={
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
        "group": {"type": "string", "enum": list(reports.GROUPINGS)},
    },
    response=obj(
        ["cases", "groups", "stages"],
        extra=True,
        cases=INT,
        groups=array(obj(["key", "name", "figures"], key=STR, name=STR, figures=INDICATOR_FIGURES), max_items=5000),
        stages=array(obj(["type", "type_zh", "stages", "working_days", "calendar_days"], extra=True)),
    ),
)
async def get_indicators(ctx: Ctx) -> dict[str, Any]:
    """Read from the projection (worker/projections.py): a few rows per day, never the cases."""
    from handoff.labels_zh import STAGE_TYPE_ZH

    c = container(ctx)
    start, end = _day(ctx, "from"), _day(ctx, "to")
    if start and end and start > end:
        raise Problem(422, "起始日期晚于结束日期")
    grouping = ctx.query.get("group", "none")
    scope = report_scope(ctx)
    async with c.engine.connect() as conn:
        groups = await reports.indicator_groups(conn, scope, start, end, grouping)
        stages = await reports.stage_sums(conn, scope, start, end)
    # every grouping splits the day rows without overlap: the total is the sum of the groups
    total = sum((g.figures for g in groups), indicators([]))
    return {
        **figures_view(total),
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "group": grouping,
        "groups": [{"key": g.key, "name": g.name, "figures": figures_view(g.figures)} for g in groups],
        "stages": [
            {"type": kind, "type_zh": STAGE_TYPE_ZH.get(kind, kind), "stages": n, "working_days": w, "calendar_days": d}
            for kind, n, w, d in stages
        ],
    }


STALLED_ROW = obj(
    ["package_id", "code", "case_id", "state", "last_movement_at", "working_days"],
    extra=True,
    package_id=STR,
    code=STR,
    case_id=STR,
    state=STR,
    last_movement_at=STR,
    working_days=INT,
)


@API.route(
    "GET",
    "/api/v1/packages/stalled",
    summary="滞留的材料包：超过规定工作日没有任何交接记录，需要有人追查",
    tag="监管",
    roles=STAFF,
    query={"cursor": {"type": "string"}, "limit": {"type": "integer", "minimum": 1, "maximum": 500}},
    response=obj(
        ["items", "stall_days", "next_cursor"],
        items=array(STALLED_ROW, max_items=500),
        stall_days=INT,
        next_cursor=nullable(STR),
    ),
)
async def stalled_packages(ctx: Ctx) -> dict[str, Any]:
    from handoff.clock import stall_boundary, working_days_between
    from handoff.labels_zh import STATE_ZH

    c = container(ctx)
    day = today(c)
    limit = int(ctx.query.get("limit", "100"))
    try:
        after = reports.decode_cursor(ctx.query["cursor"], datetime, str) if ctx.query.get("cursor") else None
    except (ValueError, TypeError) as exc:
        raise Problem(422, "分页游标无效") from exc
    since = datetime.combine(stall_boundary(c.deps.calendar, day, c.stall_days), datetime.min.time(), tzinfo=CHINA)
    async with c.engine.connect() as conn:
        rows = await reports.stalled_packages(conn, since, report_scope(ctx), limit + 1, after)
    more, rows = len(rows) > limit, rows[:limit]
    return {
        "stall_days": c.stall_days,
        "next_cursor": reports.encode_cursor(rows[-1]["last_movement_at"], rows[-1]["id"]) if more and rows else None,
        "items": [
            {
                "package_id": r["id"],
                "code": str(PackageCode.parse(r["code"])),
                "case_id": r["case_id"],
                "state": r["state"],
                "state_zh": STATE_ZH[r["state"]],
                "holder": r["holder"],
                "from_party": r["from_party"],
                "to_party": r["to_party"],
                "carrier": r["carrier"],
                "waybill": r["waybill"],
                "last_movement_at": r["last_movement_at"].isoformat(),
                "working_days": working_days_between(c.deps.calendar, local_date(r["last_movement_at"]), day),
            }
            for r in rows
        ],
    }


DEADLINE_ROW = obj(
    ["case_id", "case_no", "state", "matter_name", "department", "window"],
    extra=True,
    case_id=STR,
    case_no=STR,
    state=STR,
    matter_name=STR,
)


@API.route(
    "GET",
    "/api/v1/deadlines",
    summary="期限看板：已逾期、超法定期限、即将到期、超过两个工作日未转报、预审超时、容缺材料待补交的办件",
    tag="监管",
    roles={Role.SUPERVISOR, Role.ADMIN, Role.DEPT_CLERK, Role.DEPT_LEAD, Role.WINDOW_CLERK},
    query={
        "kind": {
            "type": "string",
            "enum": ["overdue", "legal_overdue", "due_soon", "forwarding", "prereview", "iou"],
        },
        "cursor": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 200},
    },
    response=obj(["items", "next_cursor"], items=array(DEADLINE_ROW, max_items=200), next_cursor=nullable(STR)),
)
async def deadlines(ctx: Ctx) -> dict[str, Any]:
    from handoff.labels_zh import STATE_ZH

    c = container(ctx)
    limit = int(ctx.query.get("limit", "50"))
    kind = ctx.query.get("kind", "due_soon")
    try:
        after = reports.decode_board_cursor(kind, ctx.query["cursor"]) if ctx.query.get("cursor") else None
    except (ValueError, TypeError) as exc:
        raise Problem(422, "分页游标无效") from exc
    async with c.engine.connect() as conn:
        rows = await reports.deadline_board(conn, report_scope(ctx), kind, limit + 1, after)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [
            {
                "case_id": r["case_id"],
                "case_no": r["case_no"],
                "state": r["state"],
                "state_zh": STATE_ZH[r["state"]],
                "matter_name": r["matter_name"],
                "department": r["department_name"],
                "window": r["window_name"],
                "due_on": r["due_on"].isoformat() if r["due_on"] else None,
                "used": r["used"],
                "remaining": r["remaining"],
                "promised": r["promised"],
                "paused": r["paused"],
                "provisional": r["provisional"],
                "overdue": r["overdue"],
                "forwarding_due_on": r["forwarding_due_on"].isoformat(),
                "legal_due_on": r["legal_due_on"].isoformat() if r["legal_due_on"] else None,
                "legal_overdue": r["legal_overdue"],
                "prereview_due_on": r["prereview_due_on"].isoformat() if r["prereview_due_on"] else None,
                "prereview_overdue": r["prereview_overdue"],
                "iou_due_on": r["iou_due_on"].isoformat() if r["iou_due_on"] else None,
                "ious_owed": [{"material": i["material"], "due_on": i["due_on"]} for i in r["ious_owed"] or []],
                "as_of": r["as_of"].isoformat(),
            }
            for r in rows
        ],
        "next_cursor": reports.board_cursor(kind, rows[-1]) if more and rows else None,
    }


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
    case = await uow.cases.by_tracking_hash(hash_token(token))
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
    async with c.uow() as uow:
        case = await case_by_token(c, token, uow)
        packages = list(await uow.packages.for_case(case.id))
        return tracking_view(case, packages, c.deps.calendar, today(c), token)


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
