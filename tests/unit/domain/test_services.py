"""The handlers, run for real against the in-memory unit of work."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handoff.case import CaseState, MaterialSubmission
from handoff.codes import TrackingTokens
from handoff.errors import IllegalTransition, MissingMaterials
from handoff.matter import Delivery, Mode
from handoff.package import PackageState
from handoff.ports import Office
from handoff.services import (
    CaseCommand,
    CourierReport,
    Deps,
    HandOverBatch,
    NotFound,
    RegisterCase,
    SealOutbound,
    ShipResult,
    SignPackage,
    dispatch,
)
from tests.fakes.uow import FixedClock, MemoryUnitOfWork, Store

from .conftest import BUILDING, LIGHTNING

WINDOW = Office("win-441581", "陆丰市政务服务中心市域通办窗口", "window", "441581", 22.945, 115.644)
DEPT = Office("dept-441500-zj", "汕尾市住房和城乡建设局", "department", "441500", 22.786, 115.375)
QX = Office("dept-441500-qx", "汕尾市气象局", "department", "441500", 22.786, 115.375)


@pytest.fixture
def world(calendar):
    store = Store(matters={m.id: m for m in (BUILDING, LIGHTNING)}, offices={o.id: o for o in (WINDOW, DEPT, QX)})
    clock = FixedClock()
    ids = iter(f"id-{n}" for n in range(1, 1000))
    deps = Deps(clock=clock, calendar=calendar, tracking=TrackingTokens(b"t" * 32), new_id=lambda: next(ids))
    return store, clock, deps


def register(matter=BUILDING, delivery=Delivery.MAIL_TO_APPLICANT, **kw):
    return RegisterCase(
        matter_id=matter.id,
        mode=Mode.PROXY_COLLECT,
        delivery=delivery,
        applicant_name="张小三",
        applicant_phone="13812345678",
        applicant_address="陆丰市东海街道人民路 8 号",
        window_office_id=WINDOW.id,
        materials=[MaterialSubmission(m.name, pages=2) for m in matter.materials if m.required],
        actor="clerk",
        **kw,
    )


async def test_one_case_travels_from_the_window_to_the_applicant(world):
    store, clock, deps = world

    async def run(cmd):
        clock.at += timedelta(minutes=30)
        return await dispatch(cmd, MemoryUnitOfWork(store), deps)

    [collected] = await run(register())
    case_id = collected.case_id
    assert store.cases[case_id].tracking_token_hash == deps.tracking.hash_for(case_id)
    assert store.cases[case_id].case_no.startswith("441581-20260302-0001-")
    await run(SealOutbound(case_id=case_id, actor="clerk"))
    [package] = store.packages.values()
    assert str(package.code).startswith("441581-20260302-0002-"), "case numbers and package codes share a sequence"
    assert store.cases[case_id].state is CaseState.COLLECTED, "sealed is not yet forwarded"
    events = await run(HandOverBatch(office_id=WINDOW.id, courier="c-07", package_ids=[package.id], actor="clerk"))
    assert [e.type for e in events] == ["case.forwarded", "package.picked_up"]
    await run(CourierReport(package_id=package.id, step="delivered", courier="c-07", actor="c-07"))
    events = await run(SignPackage(package_id=package.id, office_id=DEPT.id, actor="dept-clerk"))
    assert [e.type for e in events] == ["case.received", "package.signed"]
    for name, args in [("accept", {}), ("decide", {"outcome": "approved", "opinion": "同意"})]:
        await run(CaseCommand(case_id=case_id, name=name, actor="dept-clerk", args=args))
    events = await run(ShipResult(case_id=case_id, actor="dept-clerk"))
    assert [e.type for e in events] == ["package.created", "package.sealed"]
    assert store.cases[case_id].state is CaseState.DECIDED, "sealed is not yet shipped"
    with pytest.raises(IllegalTransition, match="已封装"):
        await run(ShipResult(case_id=case_id, actor="dept-clerk"))
    result = next(p for p in store.packages.values() if p.id != package.id)
    events = await run(CourierReport(package_id=result.id, step="picked_up", courier="c-07", actor="c-07"))
    assert [e.type for e in events] == ["case.result_shipped", "package.picked_up"]
    assert store.cases[case_id].result_package_id == result.id
    await run(CaseCommand(case_id=case_id, name="deliver", actor="c-07"))
    assert store.cases[case_id].state is CaseState.DELIVERED
    assert len(store.packages) == 2 and store.packages[package.id].state is PackageState.SIGNED
    assert len({e.event_id for e in store.outbox}) == len(store.outbox) == 15
    assert all(e.case_id == case_id for e in store.outbox)


async def test_a_refused_command_changes_nothing_and_publishes_nothing(world):
    store, _, deps = world
    incomplete = RegisterCase(
        matter_id=LIGHTNING.id,
        mode=Mode.PROXY_COLLECT,
        delivery=Delivery.PICKUP_AT_WINDOW,
        applicant_name="李四",
        applicant_phone="13800138000",
        window_office_id=WINDOW.id,
        materials=[MaterialSubmission("防雷装置竣工图纸")],
        actor="clerk",
    )
    with pytest.raises(MissingMaterials):
        await dispatch(incomplete, MemoryUnitOfWork(store), deps)
    [collected] = await dispatch(register(), MemoryUnitOfWork(store), deps)
    with pytest.raises(IllegalTransition):
        await dispatch(CaseCommand(case_id=collected.case_id, name="accept", actor="d"), MemoryUnitOfWork(store), deps)
    assert [e.type for e in store.outbox] == ["case.collected"]
    assert store.cases[collected.case_id].state is CaseState.COLLECTED


async def test_tolerated_materials_get_a_due_date_on_the_working_day_calendar(world):
    store, _, deps = world
    cmd = RegisterCase(
        matter_id=LIGHTNING.id,
        mode=Mode.PROXY_COLLECT,
        delivery=Delivery.PICKUP_AT_WINDOW,
        applicant_name="李四",
        applicant_phone="13800138000",
        window_office_id=WINDOW.id,
        materials=[MaterialSubmission("《防雷装置竣工验收申请书》"), MaterialSubmission("防雷装置竣工图纸")],
        tolerated=["施工单位的资质证", "授权委托书"],
        actor="clerk",
    )
    [collected] = await dispatch(cmd, MemoryUnitOfWork(store), deps)
    assert collected.ious == (("施工单位的资质证", "2026-03-09"), ("授权委托书", "2026-03-09"))


async def test_unknown_objects_are_not_found(world):
    store, _, deps = world
    with pytest.raises(NotFound):
        await dispatch(CaseCommand(case_id="nope", name="accept", actor="d"), MemoryUnitOfWork(store), deps)
    with pytest.raises(NotFound):
        await dispatch(
            register(delivery=Delivery.ELECTRONIC, case_id="x").__class__(
                **{**register().__dict__, "window_office_id": DEPT.id}
            ),
            MemoryUnitOfWork(store),
            deps,
        )
