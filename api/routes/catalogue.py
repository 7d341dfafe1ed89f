"""The matter catalogue (事项清单): published to everyone (公布代收代办事项清单, seed 002), and the
admin's versions, retirement and implementations per region (属地 and 通办范围).

The published catalogue needs no login (rate limited like the tracking page): per region with a
proxy window, the matters its windows may collect, for applicants of which regions, decided by
which department, with their elements and material lists. A retired matter is not published and
takes no new case; cases registered under it keep their own copy of its terms.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from adapters.db import admin as db
from adapters.db import queries
from adapters.db.repositories import matter_to_json
from api.auth import Role
from api.container import Container
from api.problems import Problem
from api.routes.admin import CODE, ID, audit
from api.routes.common import API, container, in_scope
from api.routes.directory import MATTER_VIEW
from api.routing import DATETIME, INT, STR, Ctx, array, nullable, obj
from api.views import iso
from handoff.labels_zh import CASE_KIND_ZH, MODE_ZH, STAGE_TYPE_ZH
from handoff.matter import Implementation, Matter
from handoff.ports import Office
from handoff.services import NotFound

JSON = dict[str, Any]
ADMIN = {Role.ADMIN}
TAG = "事项清单"


# =========================================================================== the published catalogue

NAMED = obj(["code", "name"], code=STR, name=STR)
PUBLIC_MATTER = obj(
    ["id", "name", "list_name", "kind", "kind_zh", "legal_limit", "promised_limit", "materials", "implementations"],
    extra=True,
    id=STR,
    name=STR,
    list_name=STR,
    matter_type=STR,
    kind=STR,
    kind_zh=STR,
    legal_limit=INT,
    promised_limit=INT,
    visits=INT,
    conditions=STR,
    result_name=STR,
    version=INT,
    materials=array(obj(["name", "required", "tolerable", "exempt"], extra=True), max_items=100),
    special_procedures=array(obj(["type", "type_zh", "days"], type=STR, type_zh=STR, days=INT), max_items=20),
    implementations=array(
        obj(
            ["region_code", "region_name", "department_office_id", "department_name", "scope"],
            region_code=STR,
            region_name=STR,
            department_office_id=STR,
            department_name=STR,
            scope=array(NAMED, max_items=500),
        ),
        max_items=500,
    ),
)
PUBLIC_REGION = obj(
    ["code", "name", "windows", "matters"],
    code=STR,
    name=STR,
    windows=array(obj(["id", "name", "address", "phone"], id=STR, name=STR, address=STR, phone=STR), max_items=100),
    matters=array(
        obj(
            ["id", "name", "applicants"],
            id=STR,
            name=STR,
            applicants=array(
                obj(
                    ["region_code", "region_name", "department_name"],
                    region_code=nullable(STR),
                    region_name=STR,
                    department_name=STR,
                ),
                max_items=500,
            ),
        ),
        max_items=2000,
    ),
)


def public_matter(matter: Matter, offices: dict[str, Office], names: dict[str, str]) -> JSON:
    """A matter as the applicant reads it: its elements, materials and who decides where."""

    def office_name(office_id: str) -> str:
        office = offices.get(office_id)
        return office.name if office else office_id

    implementations = matter.implementations
    home = offices.get(matter.department_office_id)
    if not implementations and home is not None:  # one department for everyone
        implementations = (Implementation(home.region_code, home.id),)
    return {
        "id": matter.id,
        "name": matter.name,
        "list_name": matter.listed_name,
        "matter_type": matter.matter_type,
        "kind": matter.kind.value,
        "kind_zh": CASE_KIND_ZH[matter.kind.value],
        "legal_limit": matter.legal_limit,
        "promised_limit": matter.promised_limit,
        "service_objects": list(matter.service_objects),
        "visits": matter.visits,
        "conditions": matter.conditions,
        "modes_zh": [MODE_ZH[m.value] for m in sorted(matter.modes)],
        "result_name": matter.result_title,
        "result_licence": matter.result_licence,
        "version": matter.version,
        "materials": [
            {
                "name": m.name,
                "required": m.required,
                "tolerable": m.tolerable,
                "original": m.original,
                "copies": m.copies,
                "form": m.form,
                "notes": m.notes,
                "licence": m.licence,
                "exempt": m.exempt,
            }
            for m in matter.materials
        ],
        "special_procedures": [
            {"type": s.value, "type_zh": STAGE_TYPE_ZH[s.value], "days": days}
            for s, days in sorted(matter.stage_limits.items())
        ],
        "implementations": [
            {
                "region_code": i.region_code,
                "region_name": names.get(i.region_code, i.region_code),
                "department_office_id": i.department_office_id,
                "department_name": office_name(i.department_office_id),
                "scope": [{"code": c, "name": names.get(c, c)} for c in i.scope],
            }
            for i in implementations
        ],
    }


def published_regions(
    matters: list[Matter], offices: dict[str, Office], names: dict[str, str], only: str | None = None
) -> list[JSON]:
    """Per region with a proxy window: the matters its windows may collect (通办), and for each,
    the applicants' regions and the departments that decide for them (属地)."""
    regions: list[JSON] = []
    window_regions = sorted({o.region_code for o in offices.values() if o.kind == "window"})
    for code in window_regions:
        if only and code != only:
            continue
        listed = []
        for matter in matters:
            served = matter.collectable_at(code)
            if served is None:
                home = offices.get(matter.department_office_id)
                applicants = [
                    {"region_code": None, "region_name": "不限", "department_name": home.name if home else ""}
                ]
            elif served:
                applicants = [
                    {
                        "region_code": i.region_code,
                        "region_name": names.get(i.region_code, i.region_code),
                        "department_name": offices[i.department_office_id].name
                        if i.department_office_id in offices
                        else i.department_office_id,
                    }
                    for i in served
                ]
            else:
                continue
            listed.append({"id": matter.id, "name": matter.name, "applicants": applicants})
        windows = sorted(
            (o for o in offices.values() if o.kind == "window" and o.region_code == code), key=lambda o: o.id
        )
        regions.append(
            {
                "code": code,
                "name": names.get(code, code),
                "windows": [{"id": w.id, "name": w.name, "address": w.address, "phone": w.phone} for w in windows],
                "matters": listed,
            }
        )
    return regions


async def published_catalogue(c: Container, only: str | None = None) -> JSON:
    """The published catalogue (the JSON route and the page /matters alike)."""
    async with c.engine.connect() as conn:
        ids = await db.catalogue_ids(conn)
        offices = await queries.offices(conn)
        names = await queries.region_names(conn)
    async with c.uow() as uow:
        matters = [m for m in [await uow.matters.get(i) for i in ids] if m is not None]
    return {
        "items": [public_matter(m, offices, names) for m in matters],
        "regions": published_regions(matters, offices, names, only),
    }


@API.route(
    "GET",
    "/api/v1/public/matters",
    summary="公布代收代办事项清单：各区划窗口可代收的通办事项、属地审批部门及材料清单（无需登录）",
    tag="申请人",
    roles=None,
    query={"region": {"type": "string", "pattern": "^[1-9][0-9]{5}$"}},
    response=obj(["items", "regions"], items=array(PUBLIC_MATTER, max_items=2000), regions=array(PUBLIC_REGION)),
)
async def public_matters(ctx: Ctx) -> JSON:
    region = ctx.query.get("region") or None
    if region is not None and not (region.isascii() and region.isdigit() and len(region) == 6):
        raise Problem(422, "查询参数 region 应为 6 位区划代码")
    return await published_catalogue(container(ctx), region)


# =========================================================================== the admin's catalogue

VERSION_VIEW = obj(["version", "at", "actor", "terms"], version=INT, at=DATETIME, actor=STR, terms=MATTER_VIEW)


async def _visible(ctx: Ctx, matter: Matter) -> bool:
    offices = [matter.department_office_id, *(i.department_office_id for i in matter.implementations)]
    return await in_scope(ctx, *offices)


async def _matter(ctx: Ctx) -> Matter:
    matter_id = ctx.path["matter_id"]
    async with container(ctx).uow() as uow:
        matter = await uow.matters.get(matter_id)
    if matter is None or not await _visible(ctx, matter):
        raise NotFound(f"事项 {matter_id} 不存在")
    return matter


@API.route(
    "GET",
    "/api/v1/admin/matters",
    summary="事项清单（含已停止办理的事项、各区划的实施与通办范围；按管理范围）",
    tag=TAG,
    roles=ADMIN,
    query={"retired": {"type": "string", "enum": ["0", "1"]}},
    response=obj(["items"], items=array(MATTER_VIEW, max_items=2000)),
)
async def admin_matters(ctx: Ctx) -> JSON:
    c = container(ctx)
    async with c.engine.connect() as conn:
        ids = await db.catalogue_ids(conn, retired=ctx.query.get("retired", "1") == "1")
    async with c.uow() as uow:
        found = [m for m in [await uow.matters.get(i) for i in ids] if m is not None]
    return {"items": [matter_to_json(m) for m in found if await _visible(ctx, m)]}


@API.route(
    "GET",
    "/api/v1/admin/matters/{matter_id}/versions",
    summary="事项的历次版本（每次修改生成新版本；办件按登记时的版本办理）",
    tag=TAG,
    roles=ADMIN,
    response=obj(["items"], items=array(VERSION_VIEW, max_items=10000)),
)
async def matter_versions(ctx: Ctx) -> JSON:
    matter = await _matter(ctx)
    async with container(ctx).engine.connect() as conn:
        found = await db.matter_versions(conn, matter.id)
    return {"items": [{"version": v.version, "at": iso(v.at), "actor": v.actor, "terms": v.terms} for v in found]}


@API.route(
    "POST",
    "/api/v1/admin/matters/{matter_id}/retire",
    summary="停止办理事项（不再受理新办件；已登记的办件照常办理、照常查询）",
    tag=TAG,
    roles=ADMIN,
    response=MATTER_VIEW,
)
async def retire_matter(ctx: Ctx) -> JSON:
    matter = await _matter(ctx)
    if not await in_scope(ctx, matter.department_office_id):
        raise Problem(403, f"事项“{matter.name}”的主管部门不在本人的管理范围内，不能停止办理")
    c = container(ctx)
    async with c.engine.begin() as conn:
        if not await db.retire_matter(conn, matter.id, c.deps.clock.now()):
            raise db.Conflict(f"事项“{matter.name}”已经停止办理")
    audit(ctx, "matter.retired", matter.id)
    return matter_to_json(replace(matter, retired=True))


async def _new_implementations(ctx: Ctx, matter: Matter, implementations: tuple[Implementation, ...]) -> JSON:
    c = container(ctx)
    changed = replace(matter, implementations=implementations, version=matter.version + 1)
    async with c.engine.begin() as conn:
        await db.update_matter(conn, changed, at=c.deps.clock.now(), actor=ctx.who.user_id)
    return matter_to_json(changed)


def _own_region(ctx: Ctx, region_code: str) -> None:
    if not ctx.who.scope.covers_region(region_code):
        raise Problem(403, f"区划 {region_code} 不在本人的管理范围内")


@API.route(
    "PUT",
    "/api/v1/admin/matters/{matter_id}/implementations/{region_code}",
    summary="设置事项在某区划的实施：为该区划申请人审批的部门（属地）及可代收的区划（通办范围）；生成新版本",
    tag=TAG,
    roles=ADMIN,
    body=obj(
        ["department_office_id"],
        department_office_id=ID,
        scope={**array(CODE, max_items=500), "uniqueItems": True},
    ),
    response=MATTER_VIEW,
)
async def set_implementation(ctx: Ctx) -> JSON:
    region_code, b = ctx.path["region_code"], ctx.body
    if not (region_code.isascii() and region_code.isdigit() and len(region_code) == 6):
        raise Problem(422, "区划代码应为 6 位数字")
    _own_region(ctx, region_code)
    async with container(ctx).uow() as uow:
        matter = await uow.matters.get(ctx.path["matter_id"])
    if matter is None:  # the catalogue is public: any admin may implement a matter in their region
        raise NotFound(f"事项 {ctx.path['matter_id']} 不存在")
    if not await in_scope(ctx, b["department_office_id"]):
        raise db.UnknownReference("department_office_id", f"审批部门 {b['department_office_id']} 不存在")
    was = next((i for i in matter.implementations if i.region_code == region_code), None)
    if was is not None and not await in_scope(ctx, was.department_office_id):
        raise Problem(403, f"区划 {region_code} 的现有实施部门不在本人的管理范围内")
    implementation = Implementation(region_code, b["department_office_id"], tuple(b.get("scope", ())))
    others = tuple(i for i in matter.implementations if i.region_code != region_code)
    answer = await _new_implementations(
        ctx, matter, tuple(sorted((*others, implementation), key=lambda i: i.region_code))
    )
    audit(ctx, "matter.implementation.set", f"{matter.id}/{region_code}")
    return answer


@API.route(
    "DELETE",
    "/api/v1/admin/matters/{matter_id}/implementations/{region_code}",
    summary="取消事项在某区划的实施；生成新版本",
    tag=TAG,
    roles=ADMIN,
    response=MATTER_VIEW,
)
async def remove_implementation(ctx: Ctx) -> JSON:
    region_code = ctx.path["region_code"]
    _own_region(ctx, region_code)
    matter = await _matter(ctx)
    was = next((i for i in matter.implementations if i.region_code == region_code), None)
    if was is None or not await in_scope(ctx, was.department_office_id):
        raise NotFound(f"事项 {matter.id} 在区划 {region_code} 没有实施")
    answer = await _new_implementations(
        ctx, matter, tuple(i for i in matter.implementations if i.region_code != region_code)
    )
    audit(ctx, "matter.implementation.removed", f"{matter.id}/{region_code}")
    return answer
