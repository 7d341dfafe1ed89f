"""Who am I, the matters and their checklists, and the pickers' lists of staff."""

from __future__ import annotations

from typing import Any

from adapters.db import queries
from api.auth import ROLE_ZH, Role, Scope
from api.routes.common import (
    API,
    COURIER,
    STAFF,
    container,
    in_scope,
)
from api.routing import (
    BOOL,
    INT,
    STR,
    Ctx,
    array,
    obj,
)
from handoff.errors import DomainError
from handoff.services import (
    NotFound,
)

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
        office_names=obj([], extra=True),
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
        # every office's name (public facts), so that screens show names, never ids, for the
        # other end of a package or case too
        "office_names": {o.id: o.name for o in known.values()},
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
    version=INT,
    retired=BOOL,
    implementations=array(
        obj(
            ["region_code", "department_office_id", "scope"],
            region_code=STR,
            department_office_id=STR,
            scope=array(STR),
        ),
        max_items=500,
    ),
)


@API.route(
    "GET",
    "/api/v1/matters",
    summary="事项目录（可按名称查找；不含已停止办理的事项；给出 window_office_id 时只列该窗口通办范围内的事项）",
    tag="事项",
    roles=STAFF,
    query={"q": {"type": "string"}, "window_office_id": {"type": "string"}},
    response=obj(["items"], items=array(MATTER_VIEW, max_items=1000)),
)
async def list_matters(ctx: Ctx) -> dict[str, Any]:
    from adapters.db.repositories import matter_to_json

    c = container(ctx)
    window_region = None
    if "window_office_id" in ctx.query:
        regions = await c.office_regions()
        window_id = ctx.query["window_office_id"]
        if window_id not in regions or not await in_scope(ctx, window_id):
            raise NotFound(f"代收窗口 {window_id} 不存在")
        window_region = regions[window_id]
    async with c.engine.connect() as conn:
        ids = await queries.matter_ids(conn, ctx.query.get("q", ""))
    async with c.uow() as uow:
        found = [await uow.matters.get(i) for i in ids]
    return {
        "items": [
            matter_to_json(m)
            for m in found
            if m is not None and not m.retired and (window_region is None or m.collectable_at(window_region) != ())
        ]
    }


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
