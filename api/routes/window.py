"""The proxy window (代收窗口): registration, sealing, supplements, hand-over to a courier, pickup of results."""

from __future__ import annotations

from typing import Any

from adapters.db import queries
from adapters.logistics.internal import NAME as INTERNAL_CARRIER
from api.auth import Role, Scope
from api.authority import Authority
from api.routes.common import (
    API,
    CASE_VIEW,
    PACKAGE_VIEW,
    WINDOW,
    container,
    in_scope,
    package_answer,
    party_error,
    run_case,
    today,
    visible_package,
)
from api.routing import (
    BOOL,
    STR,
    Ctx,
    array,
    enum,
    obj,
    text,
)
from api.views import case_view
from handoff.case import ID_TYPES, PICKUP_METHODS, Case, MaterialSubmission
from handoff.matter import Delivery, Mode
from handoff.package import Item, Package
from handoff.services import (
    HandOverBatch,
    NotFound,
    RegisterCase,
    SealOutbound,
    TakeInAtWindow,
    dispatch,
)

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
        region_code={"type": "string", "pattern": "^[1-9][0-9]{5}$"},
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
    summary=(
        "收件登记（材料不全时一次性告知全部缺少的材料）。applicant.region_code 为申请人所属区划，"
        "按事项的属地实施确定审批部门（不填则由事项的主管部门办理）；本窗口不在通办范围内的事项不予登记（422）"
    ),
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
            applicant_region_code=applicant.get("region_code"),
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


async def named_courier(ctx: Ctx, courier: str, packages: list[Package]) -> str:
    """The courier of a hand-over: an active courier user whose scope covers both ends of every
    package, or the carrier the packages were sealed for. Its name, for the answer."""
    from adapters.logistics.factory import CARRIERS
    from handoff.labels_zh import CARRIER_ZH

    if courier in CARRIERS and courier != INTERNAL_CARRIER:
        wrong = [str(p.code) for p in packages if (p.carrier or INTERNAL_CARRIER) != courier]
        if wrong:
            carrier = CARRIER_ZH.get(courier, courier)
            raise party_error("courier", f"材料包 {'、'.join(wrong)} 不是交由 {carrier} 承运的")
        return CARRIER_ZH.get(courier, courier)
    member = await queries.staff_member(ctx.uow.conn, courier)
    if member is None or member.role != Role.COURIER.value or not member.active:
        raise party_error("courier", f"快递员 “{courier}” 不存在或已停用，请从快递员名单中选择")
    scope = Scope.parse(member.scope)
    regions = await container(ctx).office_regions()
    for package in packages:
        ends = [o for o in (_office_of(package.from_party), _office_of(package.to_party)) if o]
        if not all(scope.covers_office(o, regions.get(o, "")) for o in ends):
            raise party_error("courier", f"快递员 {member.name} 不负责材料包 {package.code} 的线路")
        if (package.carrier or INTERNAL_CARRIER) != INTERNAL_CARRIER:
            raise party_error("courier", f"材料包 {package.code} 已交由承运商寄递，不能交给本单位快递员")
    return member.name


def _office_of(party: str) -> str | None:
    return party.split(":", 1)[1] if party.startswith("office:") else None


@API.route(
    "POST",
    "/api/v1/cases/{case_id}/pickup",
    summary=("发放登记（本人或代领）：证件类型与号码（本人领取且不填号码时，以登记的身份证号为准）、领取方式、意见"),
    tag="代收窗口",
    roles={Role.WINDOW_CLERK, Role.DEPT_CLERK},
    body=obj(
        ["office_id", "receiver_name", "by_proxy"],
        office_id=text(64),
        receiver_name=text(100),
        receiver_id_number=text(20, 5),
        by_proxy=BOOL,
        id_type=enum(list(ID_TYPES)),
        method=enum(list(PICKUP_METHODS)),
        note=text(500, 0),
    ),
    response=CASE_VIEW,
    unit=True,
    authority=Authority.PICKUP_OFFICE,
)
async def register_pickup(ctx: Ctx) -> dict[str, Any]:
    return await run_case(ctx, "register_pickup", dict(ctx.body))
