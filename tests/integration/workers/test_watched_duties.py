"""The watched duties of DESIGN §5 on SQLite and PostgreSQL, through the deadline watcher and the
notifications consumer: the 预审 clock, the legal limit, 容缺 IOUs, the special stages' own limits
and the forwarding promise that ends at the department's signature. Each is announced once at its
time, never before, and its SMS reaches the right people once."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.sms.settings import SettingsError
from handoff.case import MaterialSubmission
from handoff.services import HandOverBatch
from tests.integration.workers.test_deadlines import announced, clock_of
from tests.integration.workers.test_staff_sms import RecordingSms, notifier
from worker.deadlines import DeadlineSettings, DeadlineWatcher, reminder_day

pytestmark = pytest.mark.integration

APPLICANT = "13812345678"
WINDOW_CLERK, DEPT_CLERK, DEPT_LEAD, OTHER_DEPT_CLERK = "13800000001", "13800000002", "13800000003", "13800000004"
KEPT_MATERIALS = ("建设工程规划许可申请表", "建设工程设计方案")  # 土地权属证明 may come later (容缺)


def setup(world, settings: DeadlineSettings | None = None):
    sms, settings = RecordingSms(), settings or DeadlineSettings()
    watcher = DeadlineWatcher(world.engine, world.uow().cipher, world.calendar, world.deps, world.uow, settings)
    return watcher, sms, world.feed(watcher.handle, notifier(world, sms).handle)


def staff_sms(sms: RecordingSms, phone: str) -> list[tuple[str, dict[str, str]]]:
    """What one staff member was sent, without the incoming-package notices of the set-up."""
    return [(t, p) for ph, t, p in sms.sent if ph == phone and t != "incoming_package"]


async def case_no(world, case_id: str) -> str:
    async with world.uow() as uow:
        return (await uow.cases.get(case_id)).case_no


async def scans(world, watcher, feed, kind: str, *days: tuple[int, int]) -> list[int]:
    """Scan on each (month, day) of 2026 and feed what was announced; how many of ``kind`` each time."""
    counts = []
    for month, day in days:
        world.at(2026, month, day)
        counts.append((await watcher.scan())[kind])
        await feed()
    return counts


def test_the_prereview_days_come_from_the_environment_and_nonsense_is_refused():
    assert DeadlineSettings.from_env({}).prereview_days == 3
    assert DeadlineSettings.from_env({"HANDOFF_PREREVIEW_DAYS": "5"}).prereview_days == 5
    for bad in ("0", "61", "三"):
        with pytest.raises(SettingsError, match="HANDOFF_PREREVIEW_DAYS"):
            DeadlineSettings.from_env({"HANDOFF_PREREVIEW_DAYS": bad})


def test_an_iou_reminder_comes_when_two_working_days_are_left(world):
    assert reminder_day(world.calendar, date(2026, 3, 6)) == date(2026, 3, 4)  # Friday: from Wednesday
    assert reminder_day(world.calendar, date(2026, 3, 9)) == date(2026, 3, 5)  # Monday: from Thursday
    assert reminder_day(world.calendar, date(2026, 3, 8)) == date(2026, 3, 4)  # a Sunday: Thu and Fri left


async def test_a_prereview_left_past_its_working_days_warns_the_departments_clerks_once(world):
    watcher, sms, feed = setup(world)
    world.at(2026, 3, 2)
    late, on_time = await world.register(), await world.register()
    for case_id in (late, on_time):
        await world.to_department(case_id)
    await feed()
    assert (await clock_of(world, late))["prereview_due_on"] == date(2026, 3, 5)
    world.at(2026, 3, 5)
    await world.case("accept", on_time)  # on its last day: in time
    assert await scans(world, watcher, feed, "prereview", (3, 5), (3, 6), (3, 6), (3, 9)) == [0, 1, 0, 0]
    [warning] = await announced(world, "case.prereview_overdue")
    assert warning["case_id"] == late and warning["data"]["due_on"] == "2026-03-05"
    assert (await clock_of(world, late))["prereview_overdue"] is True
    assert (await clock_of(world, on_time))["prereview_overdue"] is False
    assert staff_sms(sms, DEPT_CLERK) == [
        ("action_needed", {"case_no": await case_no(world, late), "action": "预审已超时限"})
    ]
    assert staff_sms(sms, DEPT_LEAD) == [] and staff_sms(sms, OTHER_DEPT_CLERK) == []


async def test_the_prereview_follows_its_setting_and_a_supplied_supplement_starts_a_new_one(world):
    watcher, _, feed = setup(world, DeadlineSettings(prereview_days=1))
    world.at(2026, 3, 2)
    case_id = await world.register()
    await world.to_department(case_id)
    await world.case("request_supplement", case_id, items=["土地权属证明（原件）"], due_on=date(2026, 3, 13))
    await feed()
    assert (await clock_of(world, case_id))["prereview_due_on"] is None  # the department has spoken
    world.at(2026, 3, 9)
    await world.case("supplement_supplied", case_id)
    await feed()
    assert (await clock_of(world, case_id))["prereview_due_on"] == date(2026, 3, 10)
    assert await scans(world, watcher, feed, "prereview", (3, 10), (3, 11), (3, 12)) == [0, 1, 0]
    assert [p["data"]["due_on"] for p in await announced(world, "case.prereview_overdue")] == ["2026-03-10"]


async def test_the_legal_limit_is_kept_beside_the_promised_and_its_overdue_reaches_clerks_and_lead_once(world):
    watcher, sms, feed = setup(world)
    world.at(2026, 3, 2)
    case_id = await world.register()  # 建设工程规划许可: promised 20, legal 30 working days
    await world.to_department(case_id)
    await world.case("accept", case_id)
    await feed()
    row = await clock_of(world, case_id)
    assert (row["due_on"], row["legal_due_on"], row["legal_overdue"]) == (date(2026, 3, 30), date(2026, 4, 14), False)
    assert await scans(world, watcher, feed, "legal_overdue", (3, 31), (4, 14), (4, 15), (4, 15), (4, 16)) == [
        0,
        0,
        1,
        0,
        0,
    ]
    [legal] = await announced(world, "case.legal_overdue")
    assert legal["data"] == {"due_on": "2026-04-14", "used": 31, "department_office_id": "dept-441500-zj"}
    no = await case_no(world, case_id)
    legal_sms = ("action_needed", {"case_no": no, "action": "已超法定期限"})
    assert staff_sms(sms, DEPT_CLERK) == [("overdue", {"case_no": no, "days": "1"}), legal_sms]
    assert staff_sms(sms, DEPT_LEAD) == [("overdue", {"case_no": no, "days": "1"}), legal_sms]
    assert staff_sms(sms, OTHER_DEPT_CLERK) == [] and staff_sms(sms, WINDOW_CLERK) == []

    world.at(2026, 4, 17)
    await world.case("decide", case_id, outcome="approved", opinion="同意")
    await feed()
    assert (await clock_of(world, case_id))["legal_overdue"] is False


async def test_an_iou_reminds_the_applicant_two_working_days_before_and_warns_the_window_once_past_due(world):
    watcher, sms, feed = setup(world)
    world.at(2026, 3, 2)
    owing, brought = [
        await world.register(materials=[MaterialSubmission(n) for n in KEPT_MATERIALS], tolerated=["土地权属证明"])
        for _ in range(2)
    ]
    for case_id in (owing, brought):
        await world.to_department(case_id)
        await world.case("accept", case_id)
    await feed()
    row = await clock_of(world, owing)
    assert row["iou_due_on"] == date(2026, 3, 9)  # the matter's 5 working days
    assert row["ious_owed"] == [{"material": "土地权属证明", "due_on": "2026-03-09", "remind_on": "2026-03-05"}]
    world.at(2026, 3, 4)
    await world.case("fulfil_iou", brought, material="土地权属证明")
    await feed()
    assert (await clock_of(world, brought))["iou_due_on"] is None
    days = ((3, 4), (3, 5), (3, 6), (3, 9), (3, 10), (3, 11))
    reminded, late = [], []
    for month, day in days:
        world.at(2026, month, day)
        done = await watcher.scan()
        reminded.append(done["iou_reminded"])
        late.append(done["iou_overdue"])
        await feed()
    assert reminded == [0, 1, 0, 0, 0, 0]
    assert late == [0, 0, 0, 0, 1, 0]  # the due day itself still counts
    [reminder] = await announced(world, "case.iou_due_soon")
    assert reminder["case_id"] == owing and reminder["data"]["materials"] == ["土地权属证明"]
    assert [(t, p) for ph, t, p in sms.sent if ph == APPLICANT and t == "iou_reminder"] == [
        ("iou_reminder", {"due": "2026-03-09", "material": "土地权属证明"})
    ]
    assert [(t, p) for t, p in staff_sms(sms, WINDOW_CLERK)] == [
        ("action_needed", {"case_no": await case_no(world, owing), "action": "催交容缺材料"})
    ]
    assert staff_sms(sms, DEPT_CLERK) == []


async def test_an_open_stage_that_reaches_its_own_limit_warns_the_department_once(world):
    watcher, sms, feed = setup(world)
    world.at(2026, 3, 2)
    limited, unlimited = await world.register(), await world.register()
    for case_id in (limited, unlimited):
        await world.to_department(case_id)
        await world.case("accept", case_id)
    world.at(2026, 3, 3)
    basis = "行政许可法第四十五条"
    await world.case("open_stage", limited, stage_type="expert_review", reason="方案评审", legal_basis=basis)
    await world.case("open_stage", unlimited, stage_type="inspection", reason="现场勘验", legal_basis=basis)
    await feed()
    [stage] = (await clock_of(world, limited))["stage_limits"]
    assert (stage["stage_type"], stage["limit"], stage["reached_on"]) == ("expert_review", 10, "2026-03-17")
    assert (await clock_of(world, unlimited))["stage_limits"] == []  # this matter sets no limit for 勘验
    assert await scans(world, watcher, feed, "stage_limit", (3, 16), (3, 17), (3, 18), (3, 31)) == [0, 1, 0, 0]
    [reached] = await announced(world, "stage.limit_reached")
    assert reached["case_id"] == limited and reached["data"]["limit"] == 10
    assert reached["data"]["stage_id"] == stage["stage_id"] and reached["data"]["reached_on"] == "2026-03-17"
    no = await case_no(world, limited)
    assert ("action_needed", {"case_no": no, "action": "专家评审已达时限"}) in staff_sms(sms, DEPT_CLERK)
    assert [p for _, p in staff_sms(sms, DEPT_CLERK) if "已达时限" in p.get("action", "")] == [
        {"case_no": no, "action": "专家评审已达时限"}
    ]
    assert staff_sms(sms, DEPT_LEAD) == []


async def test_the_forwarding_promise_is_kept_only_when_the_department_signs(world):
    watcher, sms, feed = setup(world)
    world.at(2026, 3, 2)  # Monday: the promise runs to Wednesday the 4th
    on_the_road, signed = await world.register(), await world.register()
    package = await world.seal(on_the_road)
    await world.run(HandOverBatch(office_id="win-441581", courier="courier-07", package_ids=[package], actor="c"))
    world.at(2026, 3, 4)
    await world.to_department(signed)  # signed on the last day: kept
    await feed()
    assert (await clock_of(world, on_the_road))["state"] == "forwarded"  # it left the window: not enough
    assert await scans(world, watcher, feed, "forwarding", (3, 4), (3, 5), (3, 5)) == [0, 1, 0]
    [late] = await announced(world, "case.forwarding_overdue")
    assert late["case_id"] == on_the_road and late["data"]["due_on"] == "2026-03-04"
    assert staff_sms(sms, WINDOW_CLERK) == [
        ("action_needed", {"case_no": await case_no(world, on_the_road), "action": "逾期未转报"})
    ]
