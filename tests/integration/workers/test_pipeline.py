"""The workers on the real backbone (PostgreSQL, the outbox relay, RabbitMQ): an admin's calendar
upload through the API moves the due dates of open cases; a supplement not brought in time closes
its case and the applicant is told by SMS."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date

import aiohttp
import pytest
from sqlalchemy import select

from adapters.blobs import FileBlobStore
from adapters.broker.topology import groups
from adapters.db.worker_tables import case_clocks
from adapters.sms.factory import build_sender
from adapters.sms.wrappers import RecordedMetrics
from api.app import create_app
from api.container import Container
from handoff.codes import KeyRing, ScanSigner
from tests.support.db import CIPHER, postgres_engine
from tests.support.rabbit import TEST_GROUPS, bus, rabbit_prefix
from worker.deadlines import DeadlineSettings, DeadlineWatcher
from worker.group import start_groups, stop_tickers
from worker.notifications import Notifier
from worker.relay import OutboxRelay

from .conftest import make_world

pytestmark = pytest.mark.integration

SCHEDULE_2027 = """year = 2027
source = "国务院办公厅关于2027年部分节假日安排的通知"
holidays = ["2027-01-01", "2027-01-02", "2027-01-03"]
workdays = []
"""


@pytest.fixture
async def stack(tmp_path, aiohttp_client):
    pg_gen, prefix_gen = postgres_engine(), rabbit_prefix()
    engine = await pg_gen.__anext__()
    prefix = await prefix_gen.__anext__()
    world = await make_world(engine)
    consumer_groups = groups(prefix)
    TEST_GROUPS.extend(consumer_groups.values())
    b = bus(prefix)
    await b.start()
    relay = OutboxRelay(engine, b, poll_seconds=0.05)
    session = aiohttp.ClientSession()
    sms_file = tmp_path / "sms.jsonl"
    sender = build_sender(
        {"HANDOFF_SMS_PROVIDERS": "console", "HANDOFF_SMS_CONSOLE_FILE": str(sms_file)},
        session,
        world.clock,
        RecordedMetrics(),
    )
    tracking_url = lambda cid: f"https://hf.cn/t/{world.tracking.token_for(cid)}"  # noqa: E731
    watcher = DeadlineWatcher(
        engine, CIPHER, world.calendar, world.deps, world.uow, DeadlineSettings(scan_seconds=3600)
    )
    workers = {
        "deadlines": watcher,
        "notifications": Notifier(engine, sender, lambda: world.calendar, tracking_url, clock=world.clock.now),
    }
    tickers = await start_groups(b, {n: consumer_groups[n] for n in workers}, workers)
    relay_task = asyncio.create_task(relay.run())
    container = Container(
        engine=engine,
        uow=world.uow,
        deps=world.deps,
        signer=ScanSigner(KeyRing({"T1": b"scan-key-for-tests-only-32-bytes"}), "https://hf.cn"),
        cipher=CIPHER,
        blobs=FileBlobStore(tmp_path / "blobs"),
        public_base_url="https://hf.cn",
    )
    client = await aiohttp_client(create_app(container))
    yield world, client, watcher, sms_file
    relay.stop()
    await relay_task
    await stop_tickers(tickers)
    await b.close()
    await session.close()
    await prefix_gen.aclose()
    await pg_gen.aclose()


async def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_a_calendar_upload_through_the_api_moves_the_due_dates_of_open_cases(stack):
    world, client, _, _ = stack
    world.at(2026, 12, 10)
    case_id = await world.register()
    await world.to_department(case_id)
    await world.case("accept", case_id)

    async def clock_row():
        async with world.engine.connect() as conn:
            return (await conn.execute(select(case_clocks).where(case_clocks.c.case_id == case_id))).mappings().first()

    async def accepted_clock():
        row = await clock_row()
        return row is not None and row["due_on"] is not None

    await wait_for(accepted_clock)
    assert (await clock_row())["due_on"] == date(2027, 1, 7) and (await clock_row())["provisional"]

    admin = {"Authorization": "Bearer tok-admin"}
    response = await client.post("/api/v1/admin/calendar", json={"toml": SCHEDULE_2027}, headers=admin)
    assert response.status == 201, await response.text()

    async def moved():
        row = await clock_row()
        return row["due_on"] == date(2027, 1, 8) and not row["provisional"]

    await wait_for(moved)
    dept = {"Authorization": "Bearer tok-dept-zj"}
    view = await (await client.get(f"/api/v1/cases/{case_id}/clock", headers=dept)).json()
    assert view["clock"]["due_date"] == "2027-01-08" and not view["clock"]["provisional"]


async def test_an_expired_supplement_closes_the_case_and_the_applicant_is_told(stack):
    world, _, watcher, sms_file = stack
    world.at(2026, 3, 2)
    case_id = await world.register()
    await world.to_department(case_id)
    await world.case("request_supplement", case_id, items=["土地权属证明（原件）"], due_on=date(2026, 3, 6))

    async def clocked():
        async with world.engine.connect() as conn:
            row = (
                await conn.execute(select(case_clocks.c.supplement_due_on).where(case_clocks.c.case_id == case_id))
            ).first()
        return row is not None and row[0] == date(2026, 3, 6)

    await wait_for(clocked)
    world.at(2026, 3, 9)
    assert (await watcher.scan())["closed"] == 1

    async def told():
        if not sms_file.exists():
            return False
        lines = [json.loads(line) for line in sms_file.read_text(encoding="utf-8").splitlines()]
        return any(m["template"] == "closed_unsupplemented" for m in lines)

    await wait_for(told)
    lines = [json.loads(line) for line in sms_file.read_text(encoding="utf-8").splitlines()]
    applicant = [m["template"] for m in lines if m["phone"] == "13812345678"]
    assert applicant == ["receipt", "forwarded", "signed", "supplement_requested", "closed_unsupplemented"]
    async with world.uow() as uow:
        assert (await uow.cases.get(case_id)).state.value == "closed_unsupplemented"
