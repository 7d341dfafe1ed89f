"""The matter catalogue (issue 18): 属地 routing per region, 通办范围 refusal, versioned terms,
retirement and the 电子证照 that spares a material (免提交)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handoff.case import CaseState, MaterialSubmission
from handoff.codes import TrackingTokens
from handoff.errors import InvalidInput
from handoff.matter import Delivery, Implementation, MaterialRequirement, MatterRetired, Mode, OutsideScope
from handoff.ports import Office
from handoff.regions import region_covers
from handoff.services import Deps, RegisterCase, dispatch
from handoff.stats import Point, case_facts, distance_km
from tests.fakes.uow import FixedClock, MemoryUnitOfWork, Store

from .conftest import LIGHTNING

# 汕尾: the city bureau decides for 城区 (and any district without its own), each county for its own.
IMPLEMENTED = replace(
    LIGHTNING,
    implementations=(
        Implementation("441500", "dept-441500-qx", ("441500",)),
        Implementation("441521", "dept-441521-qx", ("441502", "441581")),
        Implementation("441581", "dept-441581-qx", ("441500",)),
    ),
)
WINDOWS = {
    code: Office(f"win-{code}", f"{name}窗口", "window", code, lat, lon)
    for code, name, lat, lon in [
        ("441502", "城区", 22.7787, 115.3652),
        ("441521", "海丰县", 22.9668, 115.3232),
        ("441523", "陆河县", 23.3015, 115.6600),
        ("441581", "陆丰市", 22.9452, 115.6443),
    ]
}
DEPARTMENTS = {
    o.id: o
    for o in [
        Office("dept-441500-qx", "汕尾市气象局", "department", "441500", 22.7862, 115.3751),
        Office("dept-441521-qx", "海丰县气象局", "department", "441521", 22.9668, 115.3232),
        Office("dept-441581-qx", "陆丰市气象局", "department", "441581", 22.9452, 115.6443),
        Office("dept-441581-sj", "陆丰市市场监督管理局", "department", "441581", 22.9452, 115.6443),
    ]
}
NAMES = {"441500": "汕尾市", "441502": "城区", "441521": "海丰县", "441523": "陆河县", "441581": "陆丰市"}


def test_region_codes_cover_the_districts_below_them_and_nothing_else():
    assert region_covers("441500", "441581") and region_covers("441500", "441500")
    assert region_covers("440000", "441581") and not region_covers("441500", "440000")
    assert region_covers("441581", "441581") and not region_covers("441581", "441521")


def test_each_applicant_goes_to_the_department_of_their_own_region_and_others_to_the_city():
    assert IMPLEMENTED.implementation_for("441521").department_office_id == "dept-441521-qx"
    assert IMPLEMENTED.implementation_for("441581").department_office_id == "dept-441581-qx"
    # 城区 and 陆河 have no bureau of their own here: the city's implementation covers them
    assert IMPLEMENTED.implementation_for("441502").department_office_id == "dept-441500-qx"
    assert IMPLEMENTED.implementation_for("441523").department_office_id == "dept-441500-qx"
    # no region given: the matter's own department
    assert IMPLEMENTED.implementation_for(None).department_office_id == "dept-441500-qx"
    # a matter without implementations has one department for all
    assert LIGHTNING.implementation_for("441521") is None


def test_without_a_region_a_matter_whose_own_department_implements_nothing_asks_for_one():
    elsewhere = replace(IMPLEMENTED, implementations=IMPLEMENTED.implementations[1:])
    with pytest.raises(OutsideScope, match="请选择申请人所属区划"):
        elsewhere.route(None, "441581", NAMES)


def test_an_applicant_of_a_region_nobody_implements_is_refused_in_chinese():
    with pytest.raises(OutsideScope, match="申请人所属区划（440300）没有实施部门"):
        IMPLEMENTED.route("440300", "441581", NAMES)


def test_a_window_outside_the_implementations_scope_is_refused_and_told_where_it_may_be_collected():
    # 海丰's implementation may be collected in 海丰, 城区 and 陆丰, not in 陆河
    assert IMPLEMENTED.route("441521", "441581", NAMES).department_office_id == "dept-441521-qx"
    with pytest.raises(OutsideScope) as refused:
        IMPLEMENTED.route("441521", "441523", NAMES)
    assert refused.value.title == (
        "本窗口所在区划（陆河县）不在事项“防雷装置竣工验收”（海丰县实施）的通办范围内，不能代收。"
        "可代收的区划：海丰县、城区、陆丰市"
    )


def test_a_retired_matter_takes_no_new_case():
    with pytest.raises(MatterRetired, match="已停止办理"):
        replace(IMPLEMENTED, retired=True).route("441521", "441521")


def test_the_catalogue_refuses_elements_a_window_could_not_use():
    with pytest.raises(InvalidInput, match="同一区划只能有一个实施部门"):
        replace(LIGHTNING, implementations=(Implementation("441521", "a"), Implementation("441521", "b")))
    with pytest.raises(InvalidInput, match="事项类型"):
        replace(LIGHTNING, matter_type="随便")
    with pytest.raises(InvalidInput, match="服务对象"):
        replace(LIGHTNING, service_objects=("外星人",))
    with pytest.raises(InvalidInput, match="电子证照目录名称"):
        MaterialRequirement("营业执照", exempt=True)
    with pytest.raises(InvalidInput, match="区划代码"):
        Implementation("4415", "dept")


@pytest.fixture
def world(calendar):
    store = Store(
        matters={IMPLEMENTED.id: IMPLEMENTED},
        offices={**{w.id: w for w in WINDOWS.values()}, **DEPARTMENTS},
        entrusted={("441581", IMPLEMENTED.id): "dept-441581-sj"},
        regions=NAMES,
    )
    ids = iter(f"id-{n}" for n in range(1, 1000))
    deps = Deps(clock=FixedClock(), calendar=calendar, tracking=TrackingTokens(b"t" * 32), new_id=lambda: next(ids))
    return store, deps


def registration(window: str, region: str | None, mode: Mode = Mode.PROXY_COLLECT, **kw) -> RegisterCase:
    return RegisterCase(
        matter_id=IMPLEMENTED.id,
        mode=mode,
        delivery=Delivery.PICKUP_AT_WINDOW,
        applicant_name="张小三",
        applicant_phone="13812345678",
        window_office_id=f"win-{window}",
        materials=kw.pop("materials", [MaterialSubmission(m.name) for m in IMPLEMENTED.materials]),
        actor="clerk",
        applicant_region_code=region,
        **kw,
    )


async def test_registration_routes_the_case_to_the_department_of_the_applicants_region(world):
    store, deps = world
    [collected] = await dispatch(registration("441581", "441521"), MemoryUnitOfWork(store), deps)
    case = store.cases[collected.case_id]
    assert (case.department_office_id, case.home_office_id) == ("dept-441521-qx", "dept-441521-qx")
    assert case.applicant.region_code == "441521"
    [collected] = await dispatch(registration("441581", "441502"), MemoryUnitOfWork(store), deps)
    assert store.cases[collected.case_id].department_office_id == "dept-441500-qx"


async def test_registration_outside_the_windows_scope_registers_nothing(world):
    store, deps = world
    with pytest.raises(OutsideScope, match="陆河县"):
        await dispatch(registration("441523", "441521"), MemoryUnitOfWork(store), deps)
    assert store.cases == {} and store.outbox == []


async def test_an_entrusted_unit_decides_and_the_trip_saved_is_the_one_to_the_home_department(world, calendar):
    store, deps = world
    delegated = replace(IMPLEMENTED, modes=IMPLEMENTED.modes | {Mode.DELEGATED})
    store.matters[delegated.id] = delegated
    [collected] = await dispatch(registration("441581", "441521", Mode.DELEGATED), MemoryUnitOfWork(store), deps)
    case = store.cases[collected.case_id]
    assert (case.department_office_id, case.home_office_id) == ("dept-441581-sj", "dept-441521-qx")
    points = {o.id: Point(o.lat, o.lon) for o in [*WINDOWS.values(), *DEPARTMENTS.values()]}
    facts = case_facts(case, calendar, case.collected_at.date(), points)
    assert facts.distance_km == pytest.approx(distance_km(points["win-441581"], points["dept-441521-qx"]))
    assert facts.distance_km > 30, "陆丰 to 海丰 is some 33 km, not the 0 km to the local entrusted unit"


async def test_a_case_keeps_the_terms_it_was_registered_under(world):
    store, deps = world
    [collected] = await dispatch(registration("441581", "441521"), MemoryUnitOfWork(store), deps)
    store.matters[IMPLEMENTED.id] = replace(IMPLEMENTED, version=2, promised_limit=5, legal_limit=20)
    case = store.cases[collected.case_id]
    assert (case.matter.version, case.matter.promised_limit) == (1, 1)
    [later] = await dispatch(registration("441581", "441521"), MemoryUnitOfWork(store), deps)
    assert (store.cases[later.case_id].matter.version, store.cases[later.case_id].matter.promised_limit) == (2, 5)


async def test_a_material_replaced_by_an_electronic_licence_need_not_be_handed_in(world):
    store, deps = world
    licensed = replace(
        IMPLEMENTED,
        materials=(
            *IMPLEMENTED.materials[:2],
            MaterialRequirement("施工单位的资质证", original=False, licence="建筑业企业资质证书", exempt=True),
        ),
    )
    store.matters[licensed.id] = licensed
    handed = [MaterialSubmission(m.name) for m in licensed.materials[:2]]
    [collected] = await dispatch(registration("441581", "441581", materials=handed), MemoryUnitOfWork(store), deps)
    assert store.cases[collected.case_id].state is CaseState.COLLECTED
