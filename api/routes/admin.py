"""The admin's API — regions, offices, matters and entrustments (异地委托审批), users and tokens, the
holiday calendar, parked messages — and the department lead's inbox (待阅). The routes join the
same table as api/routes.py (api/app.py imports this module).

Scope applies here as everywhere: an admin whose scope is ``region:4415`` sees and manages the
regions, offices, matters, entrustments and users inside 汕尾市 only (others answer 404 as if
absent) and cannot grant a scope wider than their own; parked messages, which belong to no region,
are for an admin of scope ``*``. The tables have no actor columns except the calendar's
``loaded_by``, so every write is also logged on ``handoff.audit`` with its actor.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from adapters.broker.bus import ParkedMessage
from adapters.broker.topology import GROUPS, groups
from adapters.calendar import LiveCalendar, load_calendar, packaged_schedules
from adapters.db import admin as db
from adapters.db import queries
from adapters.db import sessions as db_sessions
from adapters.db.outbox import write_outbox
from adapters.db.repositories import matter_to_json
from adapters.logistics.factory import CARRIERS
from adapters.passwords import hash_password, one_time_password
from adapters.settings import MAX_TOKEN_DAYS
from api.auth import ROLE_ZH, Role, Scope
from api.problems import Problem
from api.routes.common import API, container, in_scope, today
from api.routes.directory import MATTER_VIEW
from api.routing import BOOL, INT, NUMBER, STR, Ctx, array, enum, nullable, obj, text
from api.views import iso
from handoff import events as ev
from handoff.calendar import next_year_missing, parse_schedule
from handoff.codes import hash_token, new_api_token
from handoff.errors import DomainError
from handoff.labels_zh import STATE_ZH
from handoff.matter import (
    MATTER_TYPES,
    SERVICE_OBJECTS,
    CaseKind,
    Implementation,
    MaterialRequirement,
    Matter,
    Mode,
    StageType,
)
from handoff.ports import Office
from handoff.privacy import normalize_phone
from handoff.regions import LAT_RANGE, LON_RANGE, Region, check_coordinates
from handoff.services import NotFound

JSON = dict[str, Any]
ADMIN = {Role.ADMIN}
TAG = "管理"

audit_log = logging.getLogger("handoff.audit")
log = logging.getLogger("handoff.api")

ID: JSON = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"}
CODE: JSON = {"type": "string", "minLength": 6, "maxLength": 6, "pattern": "^[1-9][0-9]{5}$"}
LAT: JSON = {"type": "number", "minimum": LAT_RANGE[0], "maximum": LAT_RANGE[1]}
LON: JSON = {"type": "number", "minimum": LON_RANGE[0], "maximum": LON_RANGE[1]}
REGION_PREFIX: JSON = {"type": "string", "pattern": "^[0-9]{1,6}$"}
OFFICE_PHONE: JSON = {"type": "string", "maxLength": 32, "pattern": "^[0-9+() -]*$"}
OFFICE_KIND_ZH = {"window": "代收窗口", "department": "审批部门"}


def audit(ctx: Ctx, action: str, target: str) -> None:
    actor = ctx.who.user_id
    audit_log.info("%s %s by %s", action, target, actor, extra={"actor": actor, "action": action, "target": target})


def _region_prefix(ctx: Ctx) -> str | None:
    prefix = ctx.query.get("region", "").strip()
    if prefix and not (prefix.isascii() and prefix.isdigit() and len(prefix) <= 6):
        raise Problem(422, "查询参数 region 应为 1–6 位区划代码前缀")
    return prefix or None


# =========================================================================== regions

REGION_VIEW = obj(
    ["code", "name", "parent_code", "lat", "lon"], code=STR, name=STR, parent_code=nullable(STR), lat=NUMBER, lon=NUMBER
)


def region_view(region: Region) -> JSON:
    return {
        "code": region.code,
        "name": region.name,
        "parent_code": region.parent_code,
        "lat": region.lat,
        "lon": region.lon,
    }


@API.route(
    "GET",
    "/api/v1/admin/regions",
    summary="行政区划列表",
    tag=TAG,
    roles=ADMIN,
    response=obj(["items"], items=array(REGION_VIEW, max_items=10000)),
)
async def list_regions(ctx: Ctx) -> JSON:
    async with container(ctx).engine.connect() as conn:
        found = await db.regions(conn)
    return {"items": [region_view(r) for r in found if ctx.who.scope.covers_region(r.code)]}


@API.route(
    "POST",
    "/api/v1/admin/regions",
    summary="新增行政区划（6 位区划代码、名称、上级区划、政府驻地坐标）",
    tag=TAG,
    roles=ADMIN,
    body=obj(["code", "name", "lat", "lon"], code=CODE, name=text(100), parent_code=nullable(CODE), lat=LAT, lon=LON),
    response=REGION_VIEW,
    status=201,
)
async def create_region(ctx: Ctx) -> JSON:
    b = ctx.body
    region = Region(b["code"], b["name"].strip(), b.get("parent_code"), float(b["lat"]), float(b["lon"]))
    if not ctx.who.scope.covers_region(region.code):
        raise Problem(403, f"区划 {region.code} 不在本人的管理范围内")
    async with container(ctx).engine.begin() as conn:
        await db.add_region(conn, region)
    audit(ctx, "region.created", region.code)
    return region_view(region)


@API.route(
    "PATCH",
    "/api/v1/admin/regions/{region_code}",
    summary="修改行政区划（名称、上级区划、坐标）",
    tag=TAG,
    roles=ADMIN,
    body=obj([], name=text(100), parent_code=nullable(CODE), lat=LAT, lon=LON),
    response=REGION_VIEW,
)
async def update_region(ctx: Ctx) -> JSON:
    code = ctx.path["region_code"]
    changes: dict[str, Any] = {
        k: (v.strip() if k == "name" else float(v) if k in ("lat", "lon") else v) for k, v in ctx.body.items()
    }
    async with container(ctx).engine.begin() as conn:
        was = await db.region(conn, code) if ctx.who.scope.covers_region(code) else None
        if was is None:
            raise NotFound(f"区划 {code} 不存在")
        region = replace(was, **changes)
        await db.update_region(conn, region)
    audit(ctx, "region.updated", code)
    return region_view(region)


# =========================================================================== offices

OFFICE_VIEW = obj(
    ["id", "name", "kind", "kind_zh", "region_code", "lat", "lon", "address", "phone", "carrier"],
    id=STR,
    name=STR,
    kind=STR,
    kind_zh=STR,
    region_code=STR,
    lat=NUMBER,
    lon=NUMBER,
    address=STR,
    phone=STR,
    carrier=STR,
)
OFFICE_FIELDS: dict[str, Any] = {
    "name": text(200),
    "kind": enum(list(OFFICE_KIND_ZH)),
    "region_code": CODE,
    "lat": LAT,
    "lon": LON,
    "address": text(300, 0),
    "phone": OFFICE_PHONE,
    "carrier": enum(list(CARRIERS)),
}


def office_view(office: Office) -> JSON:
    return {
        "id": office.id,
        "name": office.name,
        "kind": office.kind,
        "kind_zh": OFFICE_KIND_ZH.get(office.kind, office.kind),
        "region_code": office.region_code,
        "lat": office.lat,
        "lon": office.lon,
        "address": office.address,
        "phone": office.phone,
        "carrier": office.carrier,
    }


def office_visible(ctx: Ctx, office: Office) -> bool:
    return ctx.who.scope.covers_office(office.id, office.region_code)


@API.route(
    "GET",
    "/api/v1/admin/offices",
    summary="单位列表（代收窗口、审批部门；可按类型、区划代码前缀、名称筛选）",
    tag=TAG,
    roles=ADMIN,
    query={"kind": enum(list(OFFICE_KIND_ZH)), "region": REGION_PREFIX, "q": {"type": "string"}},
    response=obj(["items"], items=array(OFFICE_VIEW, max_items=100000)),
)
async def list_offices(ctx: Ctx) -> JSON:
    async with container(ctx).engine.connect() as conn:
        found = await db.offices(
            conn, kind=ctx.query.get("kind"), region_prefix=_region_prefix(ctx), name_contains=ctx.query.get("q", "")
        )
    return {"items": [office_view(o) for o in found if office_visible(ctx, o)]}


def _checked_office(ctx: Ctx, office: Office) -> Office:
    if not office.name.strip():
        raise Problem(422, "单位名称不能为空")
    check_coordinates(office.lat, office.lon)
    if not ctx.who.scope.covers_office(office.id, office.region_code):
        raise Problem(403, f"区划 {office.region_code} 不在本人的管理范围内")
    return replace(office, name=office.name.strip(), address=office.address.strip(), phone=office.phone.strip())


@API.route(
    "POST",
    "/api/v1/admin/offices",
    summary="新增单位（代收窗口或审批部门；不填坐标时用所在区划的坐标）",
    tag=TAG,
    roles=ADMIN,
    body=obj(["id", "name", "kind", "region_code"], id=ID, **OFFICE_FIELDS),
    response=OFFICE_VIEW,
    status=201,
)
async def create_office(ctx: Ctx) -> JSON:
    c, b = container(ctx), ctx.body
    if ("lat" in b) != ("lon" in b):
        raise Problem(422, "纬度 lat 和经度 lon 要同时填写（或都不填，使用所在区划的坐标）")
    async with c.engine.begin() as conn:
        region = await db.region(conn, b["region_code"])
        if region is None:
            raise db.UnknownReference("region_code", f"区划 {b['region_code']} 不存在")
        office = _checked_office(
            ctx,
            Office(
                id=b["id"],
                name=b["name"],
                kind=b["kind"],
                region_code=region.code,
                lat=float(b.get("lat", region.lat)),
                lon=float(b.get("lon", region.lon)),
                address=b.get("address", ""),
                phone=b.get("phone", ""),
                carrier=b.get("carrier", "internal"),
            ),
        )
        await db.add_office(conn, office)
    c.forget_office_regions()
    audit(ctx, "office.created", office.id)
    return office_view(office)


@API.route(
    "PATCH",
    "/api/v1/admin/offices/{office_id}",
    summary="修改单位（名称、类型、区划、地址、电话、坐标、承运商）",
    tag=TAG,
    roles=ADMIN,
    body=obj([], **OFFICE_FIELDS),
    response=OFFICE_VIEW,
)
async def update_office(ctx: Ctx) -> JSON:
    c, office_id = container(ctx), ctx.path["office_id"]
    changes: dict[str, Any] = {k: float(v) if k in ("lat", "lon") else v for k, v in ctx.body.items()}
    async with c.engine.begin() as conn:
        was = await db.office(conn, office_id)
        if was is None or not office_visible(ctx, was):
            raise NotFound(f"单位 {office_id} 不存在")
        office = _checked_office(ctx, replace(was, **changes))
        await db.update_office(conn, office, was)
    c.forget_office_regions()
    audit(ctx, "office.updated", office_id)
    return office_view(office)


# =========================================================================== matters and entrustments

STAGE_LIMITS: dict[str, Any] = {s.value: {"type": "integer", "minimum": 1, "maximum": 365} for s in StageType}
MATTER_FIELDS: dict[str, Any] = {
    "name": text(200),
    "department_office_id": ID,
    "legal_limit": {"type": "integer", "minimum": 0, "maximum": 365},
    "promised_limit": {"type": "integer", "minimum": 0, "maximum": 365},
    "kind": enum([k.value for k in CaseKind]),
    "modes": {**array(enum([m.value for m in Mode]), max_items=len(Mode), min_items=1), "uniqueItems": True},
    "materials": array(
        obj(
            ["name"],
            name=text(200),
            required=BOOL,
            tolerable=BOOL,
            original=BOOL,
            copies={"type": "integer", "minimum": 1, "maximum": 99},
            form=text(50),
            notes=text(2000, 0),
            licence=text(200, 0),
            exempt=BOOL,
        ),
        max_items=100,
        min_items=1,
    ),
    "stage_limits": obj([], **STAGE_LIMITS),
    "iou_days": {"type": "integer", "minimum": 0, "maximum": 60},
    # the catalogue's elements (seed 002 事项要素) and the implementations per region
    "list_name": text(200, 0),
    "matter_type": enum(list(MATTER_TYPES)),
    "service_objects": {**array(enum(list(SERVICE_OBJECTS)), max_items=len(SERVICE_OBJECTS)), "uniqueItems": True},
    "visits": {"type": "integer", "minimum": 0, "maximum": 10},
    "conditions": text(4000, 0),
    "result_name": text(200, 0),
    "result_licence": text(200, 0),
    "implementations": array(
        obj(
            ["region_code", "department_office_id"],
            region_code=CODE,
            department_office_id=ID,
            scope={**array(CODE, max_items=500), "uniqueItems": True},
        ),
        max_items=500,
    ),
}
MATTER_REQUIRED = ["name", "department_office_id", "legal_limit", "promised_limit", "kind", "modes", "materials"]


def matter_from_body(matter_id: str, b: JSON, version: int = 1) -> Matter:
    """Through the domain's own rules (handoff/matter.py): a refusal is a 422 in its words."""
    return Matter(
        id=matter_id,
        name=b["name"].strip(),
        department_office_id=b["department_office_id"],
        legal_limit=b["legal_limit"],
        promised_limit=b["promised_limit"],
        kind=CaseKind(b["kind"]),
        modes=frozenset(Mode(m) for m in b["modes"]),
        materials=tuple(MaterialRequirement(**{**m, "name": m["name"].strip()}) for m in b["materials"]),
        stage_limits={StageType(k): v for k, v in b.get("stage_limits", {}).items()},
        iou_days=b.get("iou_days", 5),
        list_name=b.get("list_name", "").strip(),
        matter_type=b.get("matter_type", "行政许可"),
        service_objects=tuple(b.get("service_objects", ())),
        visits=b.get("visits", 1),
        conditions=b.get("conditions", "").strip(),
        result_name=b.get("result_name", "").strip(),
        result_licence=b.get("result_licence", "").strip(),
        implementations=tuple(
            Implementation(i["region_code"], i["department_office_id"], tuple(i.get("scope", ())))
            for i in b.get("implementations", ())
        ),
        version=version,
    )


async def _department_in_scope(ctx: Ctx, matter: Matter) -> None:
    if not await in_scope(ctx, matter.department_office_id):
        raise db.UnknownReference("department_office_id", f"审批部门 {matter.department_office_id} 不存在")
    for n, implementation in enumerate(matter.implementations):
        if not await in_scope(ctx, implementation.department_office_id):
            raise db.UnknownReference(
                f"implementations[{n}].department_office_id", f"审批部门 {implementation.department_office_id} 不存在"
            )


@API.route(
    "POST",
    "/api/v1/admin/matters",
    summary=(
        "新增事项（事项要素：实施清单名称、事项类型、办件类型、法定与承诺期限、服务对象、到现场次数、受理条件、"
        "材料清单、特别程序时限、办理结果；按区划的属地实施部门与通办范围）；为第 1 版"
    ),
    tag=TAG,
    roles=ADMIN,
    body=obj(["id", *MATTER_REQUIRED], id=ID, **MATTER_FIELDS),
    response=MATTER_VIEW,
    status=201,
)
async def create_matter(ctx: Ctx) -> JSON:
    matter = matter_from_body(ctx.body["id"], ctx.body)
    await _department_in_scope(ctx, matter)
    c = container(ctx)
    async with c.engine.begin() as conn:
        await db.add_matter(conn, matter, at=c.deps.clock.now(), actor=ctx.who.user_id)
    audit(ctx, "matter.created", matter.id)
    return matter_to_json(matter)


@API.route(
    "PUT",
    "/api/v1/admin/matters/{matter_id}",
    summary=(
        "修改事项（整体替换，生成新版本；已登记的办件仍按登记时的版本办理）。version 为所修改的版本"
        "（与当前版本不符时 409，防止覆盖他人的修改）；retired 只读（停止办理另有接口）"
    ),
    tag=TAG,
    roles=ADMIN,
    body=obj(MATTER_REQUIRED, **MATTER_FIELDS, version={"type": "integer", "minimum": 1}, retired=BOOL),
    response=MATTER_VIEW,
)
async def update_matter(ctx: Ctx) -> JSON:
    c, matter_id = container(ctx), ctx.path["matter_id"]
    async with c.uow() as uow:
        was = await uow.matters.get(matter_id)
    if was is None or not await in_scope(ctx, was.department_office_id):
        raise NotFound(f"事项 {matter_id} 不存在")
    if ctx.body.get("version", was.version) != was.version:
        raise db.Conflict(f"事项 {matter_id} 已被修改为第 {was.version} 版，请刷新后再修改")
    matter = replace(matter_from_body(matter_id, ctx.body, was.version + 1), retired=was.retired)
    await _department_in_scope(ctx, matter)
    async with c.engine.begin() as conn:
        await db.update_matter(conn, matter, at=c.deps.clock.now(), actor=ctx.who.user_id)
    audit(ctx, "matter.updated", f"{matter_id} v{matter.version}")
    return matter_to_json(matter)


ENTRUSTMENT_VIEW = obj(
    ["region_code", "region_name", "matter_id", "matter_name", "office_id", "office_name"],
    region_code=STR,
    region_name=STR,
    matter_id=STR,
    matter_name=STR,
    office_id=STR,
    office_name=STR,
)


def entrustment_view(e: db.Entrustment) -> JSON:
    return {
        "region_code": e.region_code,
        "region_name": e.region_name,
        "matter_id": e.matter_id,
        "matter_name": e.matter_name,
        "office_id": e.office_id,
        "office_name": e.office_name,
    }


async def _entrustment(ctx: Ctx, region_code: str, matter_id: str) -> db.Entrustment | None:
    async with container(ctx).engine.connect() as conn:
        found = await db.entrustments(conn, region_prefix=region_code, matter_id=matter_id)
    for e in found:
        if e.region_code == region_code and await in_scope(ctx, e.office_id):
            return e
    return None


@API.route(
    "GET",
    "/api/v1/admin/entrustments",
    summary="异地委托审批：各区划受委托办理各事项的单位",
    tag=TAG,
    roles=ADMIN,
    query={"region": REGION_PREFIX, "matter_id": {"type": "string"}},
    response=obj(["items"], items=array(ENTRUSTMENT_VIEW, max_items=100000)),
)
async def list_entrustments(ctx: Ctx) -> JSON:
    async with container(ctx).engine.connect() as conn:
        found = await db.entrustments(conn, region_prefix=_region_prefix(ctx), matter_id=ctx.query.get("matter_id"))
    return {"items": [entrustment_view(e) for e in found if await in_scope(ctx, e.office_id)]}


@API.route(
    "PUT",
    "/api/v1/admin/entrustments/{region_code}/{matter_id}",
    summary="设置异地委托审批：该区划的窗口收件的该事项由哪个本地单位受理、办结",
    tag=TAG,
    roles=ADMIN,
    body=obj(["office_id"], office_id=ID),
    response=ENTRUSTMENT_VIEW,
)
async def set_entrustment(ctx: Ctx) -> JSON:
    region_code, matter_id, office_id = ctx.path["region_code"], ctx.path["matter_id"], ctx.body["office_id"]
    if not await in_scope(ctx, office_id):
        raise db.UnknownReference("office_id", f"审批部门 {office_id} 不存在")
    async with container(ctx).engine.begin() as conn:
        await db.set_entrustment(conn, region_code, matter_id, office_id)
    audit(ctx, "entrustment.set", f"{region_code}/{matter_id}")
    found = await _entrustment(ctx, region_code, matter_id)
    assert found is not None
    return entrustment_view(found)


@API.route(
    "DELETE",
    "/api/v1/admin/entrustments/{region_code}/{matter_id}",
    summary="取消异地委托审批",
    tag=TAG,
    roles=ADMIN,
    response=obj(["removed"], removed=BOOL),
)
async def remove_entrustment(ctx: Ctx) -> JSON:
    region_code, matter_id = ctx.path["region_code"], ctx.path["matter_id"]
    if await _entrustment(ctx, region_code, matter_id) is None:
        raise NotFound(f"区划 {region_code} 没有事项 {matter_id} 的委托")
    async with container(ctx).engine.begin() as conn:
        removed = await db.remove_entrustment(conn, region_code, matter_id)
    audit(ctx, "entrustment.removed", f"{region_code}/{matter_id}")
    return {"removed": removed}


# =========================================================================== users and tokens

USER_VIEW = obj(
    ["id", "name", "role", "role_zh", "scope", "phone", "created_at", "active_tokens", "active"],
    id=STR,
    name=STR,
    role=STR,
    role_zh=STR,
    scope=STR,
    phone=STR,
    created_at=STR,
    active_tokens=INT,
    active=BOOL,
)
ROLES = enum([r.value for r in Role])


def user_view(user: db.User) -> JSON:
    return {
        "id": user.id,
        "name": user.name,
        "role": user.role,
        "role_zh": next((ROLE_ZH[r] for r in Role if r.value == user.role), user.role),
        "scope": user.scope,
        "phone": user.phone,
        "created_at": iso(user.created_at),
        "active_tokens": user.active_tokens,
        "active": user.active,
    }


def user_visible(ctx: Ctx, user: db.User) -> bool:
    try:
        return ctx.who.scope.contains(Scope.parse(user.scope), ctx.office_regions)
    except DomainError:
        return ctx.who.scope.everything


async def grantable_scope(ctx: Ctx, text_: str) -> Scope:
    """Parse a scope to grant: every office it names must exist, and it may not reach beyond
    the granting admin's own scope."""
    scope = Scope.parse(text_)
    if scope.offices:
        async with container(ctx).engine.connect() as conn:
            unknown = sorted(scope.offices - await db.known_offices(conn, sorted(scope.offices)))
        if unknown:
            raise db.UnknownReference("scope", "范围中的单位不存在：" + "、".join(unknown))
    if not ctx.who.scope.contains(scope, ctx.office_regions):
        raise Problem(403, "不能授予超出本人管理范围的权限")
    return scope


def staff_phone(value: str | None) -> str:
    """Where staff SMS go: a mainland mobile number, or empty for none."""
    return normalize_phone(value) if value and value.strip() else ""


async def _visible_user(ctx: Ctx, user_id: str) -> db.User:
    async with container(ctx).engine.connect() as conn:
        found = await db.user(conn, user_id, now=container(ctx).deps.clock.now())
    if found is None or not user_visible(ctx, found):
        raise NotFound(f"用户 {user_id} 不存在")
    return found


@API.route(
    "GET",
    "/api/v1/admin/users",
    summary="用户列表（角色、范围、手机号、有效令牌数：未吊销且未过期；不含令牌）",
    tag=TAG,
    roles=ADMIN,
    query={"role": ROLES},
    response=obj(["items"], items=array(USER_VIEW, max_items=100000)),
)
async def list_users(ctx: Ctx) -> JSON:
    async with container(ctx).engine.connect() as conn:
        found = await db.users(conn, role=ctx.query.get("role"), now=container(ctx).deps.clock.now())
    return {"items": [user_view(u) for u in found if user_visible(ctx, u)]}


@API.route(
    "POST",
    "/api/v1/admin/users",
    summary="新增用户（手机号用于接收工作短信）",
    tag=TAG,
    roles=ADMIN,
    body=obj(["id", "name", "role", "scope"], id=ID, name=text(100), role=ROLES, scope=text(200), phone=text(20, 0)),
    response=USER_VIEW,
    status=201,
)
async def create_user(ctx: Ctx) -> JSON:
    c, b = container(ctx), ctx.body
    if not b["name"].strip():
        raise Problem(422, "姓名不能为空")
    scope = await grantable_scope(ctx, b["scope"])
    phone = staff_phone(b.get("phone"))
    async with c.engine.begin() as conn:
        await db.add_user(
            conn,
            user_id=b["id"],
            name=b["name"].strip(),
            role=b["role"],
            scope=str(scope),
            phone=phone,
            at=c.deps.clock.now(),
        )
    audit(ctx, "user.created", b["id"])
    return user_view(await _visible_user(ctx, b["id"]))


@API.route(
    "PATCH",
    "/api/v1/admin/users/{user_id}",
    summary="修改用户（姓名、角色、范围、手机号、停用/启用）；令牌随之生效，停用的用户令牌立即失效",
    tag=TAG,
    roles=ADMIN,
    body=obj([], name=text(100), role=ROLES, scope=text(200), phone=text(20, 0), active=BOOL),
    response=USER_VIEW,
)
async def update_user(ctx: Ctx) -> JSON:
    c, b, user_id = container(ctx), ctx.body, ctx.path["user_id"]
    await _visible_user(ctx, user_id)
    values: dict[str, str | bool] = {}
    if "active" in b:
        values["active"] = bool(b["active"])
    if "name" in b:
        if not b["name"].strip():
            raise Problem(422, "姓名不能为空")
        values["name"] = b["name"].strip()
    if "role" in b:
        values["role"] = b["role"]
    if "scope" in b:
        values["scope"] = str(await grantable_scope(ctx, b["scope"]))
    if "phone" in b:
        values["phone"] = staff_phone(b["phone"])
    if values:
        async with c.engine.begin() as conn:
            await db.update_user(conn, user_id, **values)
        c.principals.drop()
        audit(ctx, "user.updated", user_id)
    return user_view(await _visible_user(ctx, user_id))


@API.route(
    "POST",
    "/api/v1/admin/users/{user_id}/revoke-tokens",
    summary="吊销该用户的全部访问令牌（立即生效）",
    tag=TAG,
    roles=ADMIN,
    response=obj(["user_id", "revoked"], user_id=STR, revoked=INT),
)
async def revoke_user_tokens(ctx: Ctx) -> JSON:
    c, user_id = container(ctx), ctx.path["user_id"]
    await _visible_user(ctx, user_id)
    async with c.engine.begin() as conn:
        revoked = await db.revoke_tokens(conn, user_id, c.deps.clock.now())
    c.principals.drop()
    audit(ctx, "user.tokens_revoked", user_id)
    return {"user_id": user_id, "revoked": revoked}


@API.route(
    "POST",
    "/api/v1/admin/users/{user_id}/password",
    summary="重置用户的登录密码：生成一次性密码（只显示一次），用户登录后须先修改；该用户的全部会话随之结束",
    tag=TAG,
    roles=ADMIN,
    response=obj(["user_id", "password", "must_change"], user_id=STR, password=STR, must_change=BOOL),
)
async def reset_user_password(ctx: Ctx) -> JSON:
    c, user_id = container(ctx), ctx.path["user_id"]
    await _visible_user(ctx, user_id)
    password = one_time_password()
    hashed = await hash_password(password)
    now = c.deps.clock.now()
    async with c.engine.begin() as conn:
        await db_sessions.set_password(conn, user_id, hashed, must_change=True, at=now)
        await db_sessions.end_sessions(conn, user_id, now)
    audit(ctx, "user.password_reset", user_id)
    return {"user_id": user_id, "password": password, "must_change": True}


@API.route(
    "POST",
    "/api/v1/admin/tokens",
    summary=(
        "签发访问令牌（只显示一次）；用户不存在时一并创建，已存在的用户不会被修改（角色或范围不同：409，"
        "请用 PATCH /api/v1/admin/users/{user_id}）。有效期：expires_days 或 expires_at（日期当日有效，"
        "或带时区的时间），默认工作人员 90 天、快递员 30 天，最长 366 天"
    ),
    tag=TAG,
    roles=ADMIN,
    body=obj(
        ["user_id", "name", "role", "scope"],
        user_id=text(64),
        name=text(100),
        role=ROLES,
        scope=text(200),
        phone=text(20, 0),
        expires_days={"type": "integer", "minimum": 1, "maximum": MAX_TOKEN_DAYS},
        expires_at=text(40),
    ),
    response=obj(
        ["user_id", "role", "scope", "token", "expires_at"],
        user_id=STR,
        role=STR,
        scope=STR,
        token=STR,
        expires_at=STR,
    ),
    status=201,
)
async def create_token(ctx: Ctx) -> JSON:
    c, b = container(ctx), ctx.body
    scope = await grantable_scope(ctx, b["scope"])
    phone = staff_phone(b.get("phone"))
    now = c.deps.clock.now()
    expires_at = c.token_lifetimes.expiry(b["role"], now, days=b.get("expires_days"), until=b.get("expires_at"))
    async with c.engine.connect() as conn:
        existing = await db.user(conn, b["user_id"], now=now)
    if existing is not None and not user_visible(ctx, existing):
        raise NotFound(f"用户 {b['user_id']} 不存在")
    token = new_api_token()
    async with c.engine.begin() as conn:
        created = await queries.create_user_token(
            conn,
            user_id=b["user_id"],
            name=b["name"],
            role=b["role"],
            scope=str(scope),
            phone=phone,
            token_hash=hash_token(token),
            at=now,
            expires_at=expires_at,
        )
    if created:
        audit(ctx, "user.created", b["user_id"])
    audit(ctx, "token.created", b["user_id"])
    return {
        "user_id": b["user_id"],
        "role": b["role"],
        "scope": str(scope),
        "token": token,
        "expires_at": iso(expires_at),
    }


# =========================================================================== calendar

SCHEDULE_VIEW = obj(
    ["year", "source", "origin", "in_effect", "loaded_by", "loaded_at", "holidays", "workdays"],
    year=INT,
    source=STR,
    origin=enum(["packaged", "uploaded"]),
    in_effect=BOOL,
    loaded_by=nullable(STR),
    loaded_at=nullable(STR),
    holidays=INT,
    workdays=INT,
)


@API.route(
    "GET",
    "/api/v1/admin/calendar",
    summary="节假日安排：已载入的年份与来源，明年是否尚未载入（每年 11 月起提醒）",
    tag=TAG,
    roles=ADMIN,
    response=obj(
        ["as_of", "schedules", "covered_years", "last_covered_year", "next_year_missing", "warning"],
        as_of=STR,
        schedules=array(SCHEDULE_VIEW, max_items=1000),
        covered_years=array(INT, max_items=1000),
        last_covered_year=nullable(INT),
        next_year_missing=nullable(INT),
        warning=nullable(STR),
    ),
)
async def calendar_status(ctx: Ctx) -> JSON:
    c = container(ctx)
    async with c.engine.connect() as conn:
        stored = await queries.schedule_records(conn)
    calendar = load_calendar(r.schedule for r in stored)
    uploaded_years = {r.schedule.year for r in stored}
    schedules = [
        {
            "year": s.year,
            "source": s.source,
            "origin": "packaged",
            "in_effect": s.year not in uploaded_years,
            "loaded_by": None,
            "loaded_at": None,
            "holidays": len(s.holidays),
            "workdays": len(s.workdays),
        }
        for s in packaged_schedules()
    ] + [
        {
            "year": r.schedule.year,
            "source": r.schedule.source,
            "origin": "uploaded",
            "in_effect": True,
            "loaded_by": r.loaded_by,
            "loaded_at": iso(r.loaded_at),
            "holidays": len(r.schedule.holidays),
            "workdays": len(r.schedule.workdays),
        }
        for r in stored
    ]
    as_of = today(c)
    missing = next_year_missing(calendar, as_of)
    last = calendar.last_covered_year()
    return {
        "as_of": as_of.isoformat(),
        "schedules": sorted(schedules, key=lambda s: (s["year"], s["origin"])),
        "covered_years": list(calendar.covered_years()),
        "last_covered_year": last,
        "next_year_missing": missing,
        "warning": (
            f"尚未载入 {missing} 年的节假日安排（目前覆盖到 {last} 年）：请上传国务院办公厅通知对应的日程文件，"
            f"在此之前 {missing} 年的期限只按周一至周五计算，并标为临时结果。"
            if missing is not None
            else None
        ),
    }


@API.route(
    "POST",
    "/api/v1/admin/calendar",
    summary="上传节假日安排（TOML，国务院通知）",
    tag=TAG,
    roles=ADMIN,
    body=obj(["toml"], toml=text(20000)),
    response=obj(["year", "source", "holidays", "workdays"], year=INT, source=STR, holidays=INT, workdays=INT),
    status=201,
)
async def upload_calendar(ctx: Ctx) -> JSON:
    c = container(ctx)
    schedule = parse_schedule(ctx.body["toml"])
    now = c.deps.clock.now()
    async with c.engine.begin() as conn:
        await queries.save_schedule(conn, schedule, ctx.who.user_id, now)
        # in the same transaction: every process reloads its calendar, and the deadline watcher
        # recomputes the due dates of open cases (worker/deadlines.py)
        await write_outbox(
            conn,
            [ev.CalendarUpdated(occurred_at=now, actor=ctx.who.user_id, year=schedule.year, source=schedule.source)],
        )
    if isinstance(c.deps.calendar, LiveCalendar):
        c.deps.calendar.load(schedule)
    audit(ctx, "calendar.uploaded", str(schedule.year))
    return {
        "year": schedule.year,
        "source": schedule.source,
        "holidays": len(schedule.holidays),
        "workdays": len(schedule.workdays),
    }


# =========================================================================== parked messages

PARKED_VIEW = obj(["id", "type", "last_error"], id=STR, type=STR, last_error=STR)
GROUP = enum(sorted(GROUPS))


def _bus(ctx: Ctx) -> Any:
    if not ctx.who.scope.everything:
        raise Problem(403, "停放的消息不属于任何区划，只有范围为 * 的管理员可以处理")
    bus = container(ctx).bus
    if bus is None:
        raise Problem(503, "本服务没有连接消息队列，无法查看或重放停放的消息")
    return bus


def _broker_down(exc: Exception) -> Problem:
    log.warning("parked messages: broker unavailable: %s", exc)
    return Problem(503, f"消息队列暂不可用，请稍后再试（{type(exc).__name__}）")


@API.route(
    "GET",
    "/api/v1/admin/parked",
    summary="停放的消息（重试用尽后仍失败的消息：编号、类型、最后一次错误）",
    tag=TAG,
    roles=ADMIN,
    query={"group": GROUP, "limit": {"type": "integer", "minimum": 1, "maximum": 1000}},
    required_query={"group"},
    response=obj(["group", "items"], group=STR, items=array(PARKED_VIEW, max_items=1000)),
    errors={503},
)
async def list_parked(ctx: Ctx) -> JSON:
    bus, group = _bus(ctx), groups(container(ctx).broker_prefix)[ctx.query["group"]]
    try:
        messages = await bus.parked(group, int(ctx.query.get("limit", "100")))
    except Exception as exc:  # any broker failure is "unavailable", never a 500
        raise _broker_down(exc) from exc
    return {"group": group.name, "items": [ParkedMessage.of(m).as_json() for m in messages]}


@API.route(
    "POST",
    "/api/v1/admin/parked/replay",
    summary="把停放的消息放回队列重新处理",
    tag=TAG,
    roles=ADMIN,
    body=obj(["group"], group=GROUP, limit={"type": "integer", "minimum": 1, "maximum": 1000}),
    response=obj(["group", "replayed"], group=STR, replayed=INT),
    errors={503},
)
async def replay_parked(ctx: Ctx) -> JSON:
    bus, group = _bus(ctx), groups(container(ctx).broker_prefix)[ctx.body["group"]]
    try:
        replayed = await bus.replay(group, ctx.body.get("limit", 100))
    except Exception as exc:  # any broker failure is "unavailable", never a 500
        raise _broker_down(exc) from exc
    audit(ctx, "parked.replayed", f"{group.name}:{replayed}")
    return {"group": group.name, "replayed": replayed}


# =========================================================================== the lead's inbox (待阅)

INBOX_ITEM = obj(
    ["case_id", "case_no", "matter", "state", "state_zh", "note", "copied_at", "remark", "remarked_at"],
    case_id=STR,
    case_no=STR,
    matter=obj(["id", "name"], id=STR, name=STR),
    state=STR,
    state_zh=STR,
    note=STR,
    copied_at=STR,
    remark=STR,
    remarked_at=nullable(STR),
)


@API.route(
    "GET",
    "/api/v1/lead/inbox",
    summary="分管领导待阅：抄送给本人的办件，未批阅的在前，新的在前",
    tag="分管领导",
    roles={Role.DEPT_LEAD},
    query={"cursor": {"type": "string"}, "limit": {"type": "integer", "minimum": 1, "maximum": 200}},
    response=obj(
        ["items", "next_cursor", "unremarked"],
        items=array(INBOX_ITEM, max_items=200),
        next_cursor=nullable(STR),
        unremarked=INT,
    ),
)
async def lead_inbox(ctx: Ctx) -> JSON:
    c, who = container(ctx), ctx.who
    limit = int(ctx.query.get("limit", "50"))
    try:
        after = queries.decode_inbox_cursor(ctx.query["cursor"]) if ctx.query.get("cursor") else None
    except (ValueError, TypeError) as exc:
        raise Problem(422, "分页游标无效") from exc
    office_ids = None if who.scope.everything else sorted(who.scope.offices)
    prefixes = None if who.scope.everything else list(who.scope.regions)
    async with c.engine.connect() as conn:
        rows = await queries.lead_inbox(
            conn, lead=who.user_id, office_ids=office_ids, region_prefixes=prefixes, after=after, limit=limit + 1
        )
        unremarked = await queries.unremarked_count(
            conn, lead=who.user_id, office_ids=office_ids, region_prefixes=prefixes
        )
    more, rows = len(rows) > limit, rows[:limit]
    items = [
        {
            "case_id": r["case_id"],
            "case_no": r["case_no"] or "",
            "matter": {"id": r["matter_id"], "name": r["matter_name"]},
            "state": r["state"],
            "state_zh": STATE_ZH[r["state"]],
            "note": r["note"],
            "copied_at": iso(r["copied_at"]),
            "remark": r["remark"],
            "remarked_at": iso(r["remarked_at"]),
        }
        for r in rows
    ]
    cursor = None
    if more and rows:
        last = rows[-1]
        cursor = queries.encode_inbox_cursor(
            last["remarked_at"] is not None, last["copied_at"], last["case_id"], last["seq"]
        )
    return {"items": items, "next_cursor": cursor, "unremarked": unremarked}
