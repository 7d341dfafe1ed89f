"""No SMS left in limbo (SQLite and PostgreSQL): a notification left ``created`` by a crash is sent
once by the sweeper; a send cut off in the provider call is settled by asking the provider (Alibaba
QuerySendDetails, Tencent PullSmsSendStatusByPhoneNumber, against the signature-checking fakes),
never sent again; two sweepers at once on PostgreSQL never send one row twice."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update

from adapters.db import domain_tables as t
from adapters.db import notifications as rows
from adapters.db.engine import make_engine
from adapters.sms.alibaba import AlibabaSms
from adapters.sms.console import ConsoleSms
from adapters.sms.settings import AlibabaSmsSettings, ConsoleSmsSettings, TencentSmsSettings
from adapters.sms.tencent import TencentSms
from handoff.ports import SmsReceipt, SmsStatus
from tests.fakes.sms_servers import FakeAlibabaSms, FakeTencentSms
from tests.integration.workers.conftest import World
from worker.notifications import UNKNOWN_NO_QUERY, UNKNOWN_NO_RECORD, Notifier, SweepSettings

pytestmark = pytest.mark.integration

APPLICANT = "13812345678"
TEMPLATES = {"receipt": "SMS_271525576", "decided": "SMS_271525580"}
SWEEP = SweepSettings(created_grace=timedelta(minutes=2), sending_grace=timedelta(minutes=10))


class RecordingSms:
    """A fake of our own SmsSender port that yields to the event loop mid-send (so that two
    sweepers really interleave) and records every SMS."""

    name = "fake"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, str], str]] = []

    async def send(self, phone, template_key, params, *, reference=""):
        await asyncio.sleep(0.001)
        self.sent.append((phone, template_key, dict(params), reference))
        return SmsReceipt("fake", f"m-{len(self.sent)}", SmsStatus.SENDING)


def link(world: World, case_id: str) -> str:
    return f"https://hf.cn/t/{world.tracking.token_for(case_id)}"


def notifier(world: World, sender, **kw) -> Notifier:
    return Notifier(
        world.engine,
        sender,
        lambda: world.calendar,
        lambda cid: link(world, cid),
        clock=world.clock.now,
        sweep=SWEEP,
        **kw,
    )


async def left_created(world: World, case_id: str, template: str = "receipt", params=None) -> str:
    """A row written as the consumer writes it, then the process dies before sending it."""
    row_id = str(uuid.uuid4())
    async with world.engine.begin() as conn:
        assert await rows.insert(
            conn,
            {
                "id": row_id,
                "event_id": str(uuid.uuid4()),
                "case_id": case_id,
                "recipient": APPLICANT,
                "audience": "applicant",
                "user_id": None,
                "template_key": template,
                "params": params or {},
                "status": "created",
                "reason": "",
                "created_at": world.clock.now(),
                "updated_at": world.clock.now(),
            },
        )
    return row_id


async def cut_off_after_claim(world: World, case_id: str) -> str:
    """Claimed (``sending``), then the process died before the provider was called."""
    row_id = await left_created(world, case_id)
    async with world.engine.begin() as conn:
        assert await rows.claim(conn, row_id, world.clock.now(), (await rows.get(conn, row_id))["reference"])
    return row_id


async def row(world: World, row_id: str) -> dict:
    async with world.engine.connect() as conn:
        found = await rows.get(conn, row_id)
    assert found is not None
    return found


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def serve(app) -> tuple[TestServer, str]:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server, str(server.make_url("/"))


async def test_a_notification_left_created_by_a_crash_is_sent_once_with_its_link_recomputed(world):
    world.at(2026, 3, 2)
    case_id = await world.register()
    row_id = await left_created(world, case_id)
    sms = RecordingSms()
    sweeper = notifier(world, sms)
    assert await sweeper.sweep() == (0, 0)  # within the grace: its own sender may still be at it
    world.clock.at += timedelta(minutes=3)
    assert await sweeper.sweep() == (1, 0)
    assert await sweeper.sweep() == (0, 0)
    [(phone, template, params, reference)] = sms.sent
    assert (phone, template, params) == (APPLICANT, "receipt", {"link": link(world, case_id)})
    stored = await row(world, row_id)
    assert reference == stored["reference"] and len(reference) == 32
    assert (stored["status"], stored["provider_message_id"]) == ("sending", "m-1")
    assert stored["params"] == {}  # the link is never written down
    assert sweeper.counter.counts[("swept", "sending")] == 1


async def test_a_worker_starting_after_a_crash_sends_what_was_left_created_at_once(world):
    world.at(2026, 3, 2)
    case_id = await world.register()
    await left_created(world, case_id)
    sms = RecordingSms()
    await notifier(world, sms).recover()
    assert [template for _, template, _, _ in sms.sent] == ["receipt"]


@pytest.mark.parametrize("signature", ["acs3", "rpc"])
async def test_a_send_cut_off_at_alibaba_is_settled_by_query_send_details(world, session, signature):
    fake = FakeAlibabaSms(world.clock.now, {"LTAI5tHandoff": "s3cr3t-alibaba"})
    server, url = await serve(fake.app)
    settings = AlibabaSmsSettings(
        access_key_id="LTAI5tHandoff",
        access_key_secret="s3cr3t-alibaba",
        sign_name="汕尾政务",
        templates=TEMPLATES,
        endpoint=url,
        signature=signature,
        timeout_seconds=0.1,
    )
    alibaba = AlibabaSms(settings, session, world.clock)
    worker = notifier(world, alibaba, queries={"alibaba": alibaba})
    world.at(2026, 3, 2)
    case_id = await world.register()
    row_id = await left_created(world, case_id)
    fake.mode = "timeout"  # Alibaba takes the SMS; its answer comes after our timeout
    assert await worker.dispatch.send(await row(world, row_id)) == "sending"
    cut = await row(world, row_id)
    assert (cut["status"], cut["provider"], cut["provider_message_id"]) == ("sending", "alibaba", None)
    assert fake.received[-1]["OutId"] == cut["reference"]
    fake.mode = "ok"
    assert await worker.sweep() == (0, 0)  # too early to ask
    world.clock.at += timedelta(minutes=11)
    assert await worker.sweep() == (0, 1)
    settled = await row(world, row_id)
    assert settled["status"] == "delivered" and "DELIVERED" in settled["reason"]
    assert len(fake.received) == 1  # asked, never sent again
    assert worker.counter.counts[("resolved", "delivered")] == 1
    await server.close()


async def test_a_send_cut_off_at_tencent_is_settled_by_pulling_its_status(world, session):
    fake = FakeTencentSms(world.clock.now, {"AKIDhandoff": "s3cr3t-tencent"})
    server, url = await serve(fake.app)
    settings = TencentSmsSettings(
        secret_id="AKIDhandoff",
        secret_key="s3cr3t-tencent",
        sdk_app_id="1400006666",
        sign_name="汕尾政务",
        templates=TEMPLATES,
        endpoint=url,
        timeout_seconds=0.1,
    )
    tencent = TencentSms(settings, session, world.clock)
    worker = notifier(world, tencent, queries={"tencent": tencent})
    world.at(2026, 3, 2)
    case_id = await world.register()
    row_id = await left_created(world, case_id)
    fake.mode = "timeout"
    await worker.dispatch.send(await row(world, row_id))
    fake.mode, fake.report = "ok", "failed"
    world.clock.at += timedelta(minutes=11)
    assert await worker.sweep() == (0, 1)
    settled = await row(world, row_id)
    assert settled["status"] == "permanent_failure"
    assert settled["provider_message_id"] == fake.messages[0].message_id  # the SerialNo we never got
    assert [q["Action"] for q in fake.queries] == ["PullSmsSendStatusByPhoneNumber"]
    assert len(fake.received) == 1
    await server.close()


async def test_a_provider_that_refuses_our_signature_is_asked_again_and_never_resent(world, session):
    fake = FakeAlibabaSms(world.clock.now, {"LTAI5tHandoff": "s3cr3t-alibaba"})
    server, url = await serve(fake.app)
    good = AlibabaSmsSettings(
        access_key_id="LTAI5tHandoff",
        access_key_secret="s3cr3t-alibaba",
        sign_name="汕尾政务",
        templates=TEMPLATES,
        endpoint=url,
        timeout_seconds=0.1,
    )
    sender = AlibabaSms(good, session, world.clock)
    wrong = AlibabaSms(replace(good, access_key_secret="rotated-away"), session, world.clock)
    worker = notifier(world, sender, queries={"alibaba": wrong})
    world.at(2026, 3, 2)
    case_id = await world.register()
    row_id = await left_created(world, case_id)
    fake.mode = "timeout"
    await worker.dispatch.send(await row(world, row_id))
    fake.mode = "ok"
    world.clock.at += timedelta(minutes=11)
    assert await worker.sweep() == (0, 0)  # the fake refused the query: ask again later
    assert (await row(world, row_id))["status"] == "sending" and fake.queries == []
    world.clock.at += timedelta(hours=25)
    assert await worker.sweep() == (0, 1)
    given_up = await row(world, row_id)
    assert given_up["status"] == "technical_failure" and "无法向服务商查询" in given_up["reason"]
    assert len(fake.received) == 1
    await server.close()


async def test_when_the_provider_has_no_record_the_row_becomes_a_technical_failure(world, session):
    fake = FakeAlibabaSms(world.clock.now, {"LTAI5tHandoff": "s3cr3t-alibaba"})
    server, url = await serve(fake.app)
    settings = AlibabaSmsSettings(
        access_key_id="LTAI5tHandoff",
        access_key_secret="s3cr3t-alibaba",
        sign_name="汕尾政务",
        templates=TEMPLATES,
        endpoint=url,
    )
    alibaba = AlibabaSms(settings, session, world.clock)
    worker = notifier(world, alibaba, queries={"alibaba": alibaba})
    world.at(2026, 3, 2)
    case_id = await world.register()
    row_id = await cut_off_after_claim(world, case_id)  # died before the call: no provider knows it
    world.clock.at += timedelta(minutes=11)
    assert await worker.sweep() == (0, 1)
    failed = await row(world, row_id)
    assert (failed["status"], failed["reason"]) == ("technical_failure", UNKNOWN_NO_RECORD)
    assert fake.received == [] and len(fake.queries) == 1
    await server.close()


async def test_the_console_provider_cannot_tell_so_a_cut_off_send_is_a_technical_failure(world, tmp_path):
    console = ConsoleSms(ConsoleSmsSettings(file=str(tmp_path / "sms.jsonl")), world.clock)
    worker = notifier(world, console)
    world.at(2026, 3, 2)
    case_id = await world.register()
    row_id = await cut_off_after_claim(world, case_id)
    world.clock.at += timedelta(minutes=11)
    assert await worker.sweep() == (0, 1)
    assert (await row(world, row_id))["reason"] == UNKNOWN_NO_QUERY
    assert not (tmp_path / "sms.jsonl").exists()


async def test_a_console_send_cut_off_after_its_line_was_written_is_settled_from_the_file_and_never_sent_again(
    world, tmp_path
):
    """A worker killed (or a database gone) between the console's write and recording the answer:
    the file is the console's record, so the row is delivered, not a technical failure to resend."""
    path = tmp_path / "sms.jsonl"
    console = ConsoleSms(ConsoleSmsSettings(file=str(path)), world.clock)
    worker = notifier(world, console, queries={"console": console})
    world.at(2026, 3, 2)
    case_id = await world.register()
    written = await cut_off_after_claim(world, case_id)
    cut = await row(world, written)
    await console.send(cut["recipient"], "receipt", {"link": "https://hf.cn/t/x"}, reference=cut["reference"])
    never_written = await cut_off_after_claim(world, case_id)
    world.clock.at += timedelta(minutes=11)
    assert await worker.sweep() == (0, 2)
    settled = await row(world, written)
    assert settled["status"] == "delivered" and settled["provider"] == "console"
    unknown = await row(world, never_written)
    assert (unknown["status"], unknown["reason"]) == ("technical_failure", UNKNOWN_NO_RECORD)
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1  # nothing sent again


async def test_an_sms_whose_predecessor_was_left_unsent_by_a_crash_waits_for_it_and_goes_after_it(world):
    """The case's receipt was committed but its worker died before sending it; the next event's
    SMS must not overtake it: it is left to the sweeper, which sends both, the older first."""
    world.at(2026, 3, 2)
    case_id = await world.register()
    sms = RecordingSms()
    steps = itertools.count()  # a clock that moves between events, as a real one does
    worker = Notifier(
        world.engine,
        sms,
        lambda: world.calendar,
        lambda cid: link(world, cid),
        clock=lambda: world.clock.now() + timedelta(milliseconds=next(steps)),
        sweep=SWEEP,
    )
    feed = world.feed(worker.handle)
    await feed()
    assert [t for _, t, _, _ in sms.sent] == ["receipt"]
    sms.sent.clear()
    async with world.engine.begin() as conn:  # as if that send never happened
        await conn.execute(update(t.notifications).values(status="created", provider_message_id=None))
    world.clock.at += timedelta(hours=1)
    await world.to_department(case_id)  # handed over: the applicant's "forwarded" SMS, then "signed"
    await feed()
    assert [t for phone, t, _, _ in sms.sent if phone == APPLICANT] == []  # both wait behind the receipt
    world.clock.at += timedelta(minutes=3)
    await worker.sweep()
    assert [t for phone, t, _, _ in sms.sent if phone == APPLICANT] == ["receipt", "forwarded", "signed"]


async def test_two_sweepers_at_once_on_postgresql_never_send_one_row_twice(pg_world):
    world = pg_world
    world.at(2026, 3, 2)
    case_id = await world.register()
    ids = [await left_created(world, case_id, "decided") for _ in range(60)]
    world.clock.at += timedelta(minutes=3)
    # the other sweeper runs on its own engine, as another process would
    other_engine = make_engine(world.engine.url.render_as_string(hide_password=False), pool_size=8)
    first_sms, second_sms = RecordingSms(), RecordingSms()
    one = notifier(world, first_sms)
    two = Notifier(
        other_engine,
        second_sms,
        lambda: world.calendar,
        lambda cid: link(world, cid),
        clock=world.clock.now,
        sweep=SWEEP,
    )
    results = await asyncio.gather(one.sweep(), two.sweep(), one.sweep(), two.sweep())
    await other_engine.dispose()
    references = [r for *_, r in first_sms.sent + second_sms.sent]
    assert len(references) == len(set(references)) == 60
    assert sum(sent for sent, _ in results) == 60
    assert first_sms.sent and second_sms.sent  # both really took part
    async with world.engine.connect() as conn:
        statuses = set(
            (await conn.execute(select(t.notifications.c.status).where(t.notifications.c.id.in_(ids)))).scalars()
        )
    assert statuses == {"sending"}
