"""Messages of several cases that arrive together (SQLite and PostgreSQL): their SMS are written in
one transaction and sent case by case — each case's in order and never two at once, different
cases at the same time — and each once, whatever is delivered again."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from adapters.broker.bus import Incoming
from adapters.db.tables import outbox
from handoff.ports import SmsReceipt, SmsStatus
from worker.notifications import Notifier

pytestmark = pytest.mark.integration


class SlowSms:
    """A fake of our SmsSender port that takes a while to answer, and notes how many SMS were in
    flight at once — in all, and per phone (an applicant's phone is one case's; a clerk's is
    every case's)."""

    name = "fake"

    def __init__(self, seconds: float = 0.05) -> None:
        self.seconds = seconds
        self.sent: list[tuple[str, str]] = []
        self.flying: dict[str, int] = {}
        self.most = 0
        self.most_per_phone: dict[str, int] = {}

    async def send(self, phone, template_key, params, *, reference=""):
        self.flying[phone] = self.flying.get(phone, 0) + 1
        self.most = max(self.most, sum(self.flying.values()))
        self.most_per_phone[phone] = max(self.most_per_phone.get(phone, 0), self.flying[phone])
        try:
            await asyncio.sleep(self.seconds)
        finally:
            self.flying[phone] -= 1
        self.sent.append((phone, template_key))
        return SmsReceipt("fake", f"m-{len(self.sent)}", SmsStatus.SENDING)


async def all_messages(engine) -> list[Incoming]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(outbox).order_by(outbox.c.seq))).mappings().all()
    return [
        Incoming(
            message_id=r["id"],
            routing_key=r["type"],
            body=json.dumps(r["payload"], ensure_ascii=False).encode(),
            ordering_key=r["ordering_key"],
            seq=r["key_seq"],
        )
        for r in rows
    ]


async def test_a_batch_of_several_cases_sends_each_cases_sms_in_order_once_and_the_cases_at_once(world):
    world.at(2026, 3, 2)
    phones = [f"1390000000{n}" for n in range(4)]
    for phone in phones:
        case_id = await world.register(applicant_phone=phone)
        await world.to_department(case_id)
        await world.case("accept", case_id)
    sms = SlowSms()
    notifier = Notifier(
        world.engine, sms, lambda: world.calendar, lambda cid: "https://hf.cn/t/x", clock=world.clock.now
    )
    messages = await all_messages(world.engine)

    await notifier.handle_batch(messages)
    for phone in phones:
        assert [t for p, t in sms.sent if p == phone] == ["receipt", "forwarded", "signed", "accepted"]
    assert [sms.most_per_phone[p] for p in phones] == [1] * len(phones), "a case's SMS one after another"
    assert sms.most > 1, "different cases at once"

    sent = len(sms.sent)
    await notifier.handle_batch(messages)  # all delivered again
    await notifier.handle(messages[0])
    assert len(sms.sent) == sent
