"""The staff's SMS (SQLite and PostgreSQL): the clerks whose scope covers the office, once per batch;
the lead a case was copied to; deadline warnings and overdue marks to the department; a failed SMS
shows on the case."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from adapters.db import domain_tables as t
from adapters.db import queries
from handoff.ports import ProviderError, SmsReceipt, SmsStatus
from handoff.services import HandOverBatch
from worker.deadlines import DeadlineSettings, DeadlineWatcher
from worker.notifications import Notifier

pytestmark = pytest.mark.integration
APPLICANT = "13812345678"


class RecordingSms:
    """A fake of our own SmsSender port: records, and fails for the numbers it is told to."""

    name = "fake"

    def __init__(self, failing: set[str] | None = None) -> None:
        self.sent: list[tuple[str, str, dict[str, str]]] = []
        self.failing = failing or set()

    async def send(self, phone, template_key, params, *, reference=""):
        if phone in self.failing:
            raise ProviderError("fake", SmsStatus.PERMANENT_FAILURE, "isv.MOBILE_NUMBER_ILLEGAL", "号码无效")
        self.sent.append((phone, template_key, dict(params)))
        return SmsReceipt("fake", f"m-{len(self.sent)}", SmsStatus.SENDING)


def notifier(world, sms: RecordingSms) -> Notifier:
    return Notifier(world.engine, sms, lambda: world.calendar, lambda cid: "https://hf.cn/t/x", clock=world.clock.now)


def to(sms: RecordingSms, phone: str) -> list[str]:
    return [template for p, template, _ in sms.sent if p == phone]


async def test_a_batch_of_three_gives_each_receiving_clerk_one_sms_counting_them(world):
    sms = RecordingSms()
    feed = world.feed(notifier(world, sms).handle)
    world.at(2026, 3, 2)
    cases = [await world.register() for _ in range(3)]
    packages = [await world.seal(c) for c in cases]
    await world.run(HandOverBatch(office_id="win-441581", courier="courier-07", package_ids=packages, actor="c"))
    await feed()
    dept_clerks = [(p, params) for p, template, params in sms.sent if template == "incoming_package"]
    # 林志强 (dept-zj, 市住建局) — not 周敏 (dept-qx), whose scope is the weather bureau
    assert dept_clerks == [("13800000002", {"count": "3", "office": "汕尾市住房和城乡建设局"})]
    assert to(sms, APPLICANT).count("forwarded") == 3
    feed.seen = 0
    await feed()  # redelivered: nothing twice
    assert [t for _, t, _ in sms.sent].count("incoming_package") == 1


async def test_deadlines_warn_the_department_and_overdue_reaches_its_lead_too(world):
    sms = RecordingSms()
    watcher = DeadlineWatcher(
        world.engine, world.uow().cipher, world.calendar, world.deps, world.uow, DeadlineSettings()
    )
    feed = world.feed(watcher.handle, notifier(world, sms).handle)
    world.at(2026, 3, 2)
    case_id = await world.register()
    await world.to_department(case_id)
    await world.case("accept", case_id)
    await world.case("copy_to_lead", case_id, lead="lead-zj", note="请阅")
    await feed()
    for day in (25, 31):
        world.at(2026, 3, day)
        await watcher.scan()
        await feed()
    async with world.uow() as uow:
        case_no = (await uow.cases.get(case_id)).case_no
    assert [(t, p) for ph, t, p in sms.sent if ph == "13800000002" and t != "incoming_package"] == [
        ("deadline_warning", {"case_no": case_no, "due": "2026-03-30", "days": "3"}),
        ("overdue", {"case_no": case_no, "days": "1"}),
    ]
    assert to(sms, "13800000003") == ["action_needed", "overdue"]  # the lead: copied, then overdue
    assert to(sms, "13800000004") == []  # the weather bureau's clerk is not told
    assert to(sms, "13800000005") == []  # a supervisor watches the board, not SMS


async def test_materials_not_forwarded_in_time_remind_the_window(world):
    sms = RecordingSms()
    watcher = DeadlineWatcher(
        world.engine, world.uow().cipher, world.calendar, world.deps, world.uow, DeadlineSettings()
    )
    feed = world.feed(watcher.handle, notifier(world, sms).handle)
    world.at(2026, 3, 2)
    await world.register()
    await feed()
    world.at(2026, 3, 5)
    await watcher.scan()
    await feed()
    [(template, params)] = [(t, p) for ph, t, p in sms.sent if ph == "13800000001" and t != "receipt"]
    assert template == "action_needed" and params["action"] == "逾期未转报"


async def test_a_failed_sms_shows_on_the_case(world):
    sms = RecordingSms(failing={APPLICANT})
    feed = world.feed(notifier(world, sms).handle)
    world.at(2026, 3, 2)
    case_id = await world.register()
    await feed()
    async with world.engine.connect() as conn:
        [row] = await queries.case_notifications(conn, case_id)
        status = (
            await conn.execute(select(t.notifications.c.status).where(t.notifications.c.case_id == case_id))
        ).scalar_one()
    assert row["template_key"] == "receipt" and status == "permanent_failure"
    assert "号码无效" in row["reason"]


async def test_a_supplement_request_tells_its_due_date(world):
    sms = RecordingSms()
    feed = world.feed(notifier(world, sms).handle)
    world.at(2026, 3, 2)
    case_id = await world.register()
    await world.to_department(case_id)
    await world.case("request_supplement", case_id, items=["土地权属证明（原件）"], due_on=date(2026, 3, 9))
    await feed()
    [params] = [p for ph, t, p in sms.sent if t == "supplement_requested"]
    assert params["due"] == "2026-03-09" and params["link"] == "https://hf.cn/t/x"
