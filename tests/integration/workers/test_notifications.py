"""The notifications group on PostgreSQL and RabbitMQ: one case, collection to delivery, gives
exactly the expected SMS, in order, to the applicant; a redelivered stream sends nothing twice."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import func, select, update

from adapters.calendar import load_calendar
from adapters.db import domain_tables as t
from adapters.db.outbox import write_outbox
from adapters.db.repositories import SqlUnitOfWork
from adapters.db.tables import outbox
from adapters.demo import load_demo_world
from adapters.sms.factory import build_sender
from adapters.sms.wrappers import RecordedMetrics
from handoff.case import MaterialSubmission
from handoff.codes import TrackingTokens
from handoff.matter import Delivery, Mode
from handoff.services import (
    CaseCommand,
    CourierReport,
    Deps,
    HandOverBatch,
    RegisterCase,
    SealOutbound,
    ShipResult,
    SignPackage,
    dispatch,
)
from tests.fakes.uow import FixedClock
from tests.support.db import CIPHER, postgres_engine
from tests.support.rabbit import bus, group, rabbit_prefix
from worker.notifications import Notifier
from worker.relay import OutboxRelay

pytestmark = pytest.mark.integration

APPLICANT = "13812345678"
DEPT_CLERK = "13800002001"  # the demo 林志强 of 市住建局 (adapters/demo.py)
EXPECTED = {
    APPLICANT: [
        "receipt",
        "forwarded",
        "signed",
        "accepted",
        "stage_opened",
        "stage_closed",
        "decided",
        "result_shipped",
        "delivered",
        "rating_request",
    ],
    DEPT_CLERK: ["incoming_package"],
}
SENT = sum(len(v) for v in EXPECTED.values())


@pytest.fixture
async def pg():
    gen = postgres_engine()
    engine = await gen.__anext__()
    yield engine
    await gen.aclose()


@pytest.fixture
async def prefix():
    gen = rabbit_prefix()
    value = await gen.__anext__()
    yield value
    await gen.aclose()


async def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def sms_count(engine) -> int:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(func.count()).select_from(t.notifications).where(t.notifications.c.status != "created")
            )
        ).scalar_one()


async def test_one_case_from_collection_to_delivery_sends_the_expected_sms_once_each(pg, prefix, tmp_path):
    async with pg.begin() as conn:
        await load_demo_world(conn)
    clock = FixedClock()
    tracking = TrackingTokens(b"track-key-for-tests-only-32byte")
    deps = Deps(clock=clock, calendar=load_calendar(), tracking=tracking)
    b = bus(prefix)
    await b.start()
    relay = OutboxRelay(pg, b, poll_seconds=0.05)
    uow = lambda: SqlUnitOfWork(pg, CIPHER, write_outbox, after_commit=relay.wake)  # noqa: E731
    sms_file = tmp_path / "sms.jsonl"
    session = aiohttp.ClientSession()
    sender = build_sender(
        {"HANDOFF_SMS_PROVIDERS": "console", "HANDOFF_SMS_CONSOLE_FILE": str(sms_file)},
        session,
        clock,
        RecordedMetrics(),
    )
    notifier = Notifier(
        pg, sender, lambda: deps.calendar, lambda cid: f"https://hf.cn/t/{tracking.token_for(cid)}", clock=clock.now
    )
    await b.consume(group(prefix, "notifications"), notifier.handle)
    relay_task = asyncio.create_task(relay.run())

    async def run(cmd):
        clock.at += timedelta(minutes=30)
        return await dispatch(cmd, uow(), deps)

    [collected] = await run(
        RegisterCase(
            matter_id="m-jsgc-xk",
            mode=Mode.PROXY_COLLECT,
            delivery=Delivery.MAIL_TO_APPLICANT,
            applicant_name="张小三",
            applicant_phone="13812345678",
            applicant_address="陆丰市东海街道人民路 8 号",
            window_office_id="win-441581",
            actor="clerk-lf",
            materials=[MaterialSubmission(n) for n in ("建设工程规划许可申请表", "建设工程设计方案", "土地权属证明")],
        )
    )
    cid = collected.case_id
    events = await run(SealOutbound(case_id=cid, actor="clerk-lf"))
    pid = next(e.package_id for e in events if e.type == "package.created")
    await run(HandOverBatch(office_id="win-441581", courier="courier-07", package_ids=[pid], actor="courier-07"))
    await run(CourierReport(package_id=pid, step="delivered", courier="courier-07", actor="courier-07"))
    await run(SignPackage(package_id=pid, office_id="dept-441500-zj", actor="dept-zj"))
    await run(CaseCommand(case_id=cid, name="accept", actor="dept-zj"))
    await run(
        CaseCommand(
            case_id=cid,
            name="open_stage",
            actor="dept-zj",
            args={"stage_type": "expert_review", "reason": "评审", "legal_basis": "行政许可法第四十五条"},
        )
    )
    clock.at += timedelta(days=3)
    async with uow() as u:
        stage_id = (await u.cases.get(cid)).stages[0].id
    await run(CaseCommand(case_id=cid, name="close_stage", actor="dept-zj", args={"stage_id": stage_id}))
    await run(CaseCommand(case_id=cid, name="decide", actor="dept-zj", args={"outcome": "approved", "opinion": "同意"}))
    events = await run(ShipResult(case_id=cid, actor="dept-zj"))
    result_id = next(e.package_id for e in events if e.type == "package.created")
    await run(CourierReport(package_id=result_id, step="picked_up", courier="courier-07", actor="courier-07"))
    await run(CaseCommand(case_id=cid, name="deliver", actor="courier-07"))

    async def all_sent():
        return await sms_count(pg) == SENT

    await wait_for(all_sent)
    lines = [json.loads(line) for line in sms_file.read_text(encoding="utf-8").splitlines()]
    assert {phone: [m["template"] for m in lines if m["phone"] == phone] for phone in EXPECTED} == EXPECTED
    assert len(lines) == SENT
    [incoming] = [m for m in lines if m["phone"] == DEPT_CLERK]
    assert incoming["params"] == {"count": "1", "office": "汕尾市住房和城乡建设局"}
    accepted = next(m for m in lines if m["template"] == "accepted")
    assert accepted["params"]["due"] == "2026-03-30"
    assert lines[0]["params"]["link"].endswith(tracking.token_for(cid))
    assert next(m for m in lines if m["template"] == "stage_opened")["params"]["stage"] == "专家评审"

    # The whole stream again, as after a relay crash between publish and commit: nothing twice.
    async with pg.begin() as conn:
        await conn.execute(update(outbox).values(published_at=None))
    relay.wake()

    async def republished():
        async with pg.connect() as conn:
            return (
                await conn.execute(select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None)))
            ).scalar_one() == 0

    await wait_for(republished)
    await asyncio.sleep(1.0)
    assert len(sms_file.read_text(encoding="utf-8").splitlines()) == SENT
    assert await sms_count(pg) == SENT
    relay.stop()
    await relay_task
    await b.close()
    await session.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def migrated(request, tmp_path):
    from tests.support.db import sqlite_engine

    gen = sqlite_engine(tmp_path) if request.param == "sqlite" else postgres_engine()
    engine = await gen.__anext__()
    yield engine
    await gen.aclose()


async def test_the_migration_removes_the_tracking_links_stored_by_earlier_versions(migrated):
    from alembic import command
    from sqlalchemy import insert

    from adapters.db.migrate import alembic_config, upgrade

    async with migrated.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0004"))
    now = FixedClock().now()
    link = "https://hf.cn/t/7k2m9q4x8c3v"
    async with migrated.begin() as conn:
        for n, params, reason in [
            (1, {"due": "2026-03-30", "link": link}, ""),  # 0004's rows: the link in params
            (2, {}, json.dumps({"link": link})),  # older rows: the parameters kept in `reason`
            (3, {"count": "2", "office": "汕尾市住房和城乡建设局"}, "isv.X 失败"),
        ]:
            await conn.execute(
                insert(t.notifications).values(
                    id=f"n-{n}",
                    event_id=f"e-{n}",
                    case_id=None,
                    recipient="13812345678",
                    audience="applicant",
                    template_key="accepted",
                    params=params,
                    provider=None,
                    provider_message_id=None,
                    status="created",
                    reason=reason,
                    created_at=now,
                    updated_at=now,
                )
            )
    await upgrade(migrated)
    async with migrated.connect() as conn:
        stored = {
            r.id: (r.params, r.reason)
            for r in await conn.execute(
                select(t.notifications.c.id, t.notifications.c.params, t.notifications.c.reason).order_by(
                    t.notifications.c.id
                )
            )
        }
    assert stored == {
        "n-1": ({"due": "2026-03-30"}, ""),
        "n-2": ({}, "{}"),
        "n-3": ({"count": "2", "office": "汕尾市住房和城乡建设局"}, "isv.X 失败"),
    }
