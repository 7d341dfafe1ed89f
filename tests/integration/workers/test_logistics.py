"""The logistics group against a fake SF Express that checks signatures as SF does: a sealed package
is booked once, with its waybill on the package and its label stored; an SF outage fails over to the
next configured carrier; refusals everywhere tell the office; tracking polls become custody events
once; a package with no movement for more than 3 working days is announced once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pypdfium2
import pytest
import zxingcpp
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from adapters.blobs import FileBlobStore
from adapters.broker.bus import RetryLater
from adapters.broker.topology import groups
from adapters.db import domain_tables as t
from adapters.db.tables import outbox
from adapters.logistics.internal import InternalCourier
from adapters.logistics.settings import SfSettings
from adapters.logistics.sf import SfExpress
from handoff.codes import KeyRing, ScanSigner
from handoff.services import SealOutbound
from tests.fakes.carrier_servers import FakeSf
from tests.support.db import CIPHER
from tests.support.rabbit import TEST_GROUPS, bus, rabbit_prefix
from worker.group import start_groups, stop_tickers
from worker.logistics import Logistics, LogisticsSettings, courier_labels
from worker.relay import OutboxRelay

pytestmark = pytest.mark.integration

SIGNER = ScanSigner(KeyRing({"T1": b"scan-key-for-tests-only-32-bytes"}), "https://hf.test.cn")


async def _none(waybill: str):
    return ()


@pytest.fixture
async def sf() -> AsyncIterator[tuple[FakeSf, str]]:
    fake = FakeSf({"SWZW": "fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci"})
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    yield fake, str(server.make_url("/std/service"))
    await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def logistics(world, session, endpoint, tmp_path, failover=()) -> Logistics:
    client = SfExpress(
        SfSettings(
            partner_id="SWZW", check_word="fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci", endpoint=endpoint, timeout_seconds=0.2
        ),
        session,
        world.clock,
    )
    return Logistics(
        world.engine,
        CIPHER,
        world.calendar,
        world.deps,
        world.uow,
        {"sf": client, "internal": InternalCourier(_none)},
        {"sf": client},
        FileBlobStore(tmp_path / "blobs"),
        courier_labels(SIGNER, world.clock),
        LogisticsSettings(failover=tuple(failover)),
    )


async def sealed_by_sf(world) -> str:
    world.at(2026, 3, 2)
    case_id = await world.register()
    events = await world.run(SealOutbound(case_id=case_id, actor="clerk-lf", carrier="sf"))
    return next(e.package_id for e in events if e.type == "package.created")


async def shipment(world, package_id: str) -> dict:
    async with world.engine.connect() as conn:
        return dict(
            (await conn.execute(select(t.shipments).where(t.shipments.c.package_id == package_id))).mappings().one()
        )


async def types(world) -> list[str]:
    async with world.engine.connect() as conn:
        return list((await conn.execute(select(outbox.c.type).order_by(outbox.c.seq))).scalars())


async def test_a_sealed_package_is_booked_once_with_its_waybill_and_label(world, sf, session, tmp_path):
    fake, endpoint = sf
    worker = logistics(world, session, endpoint, tmp_path)
    package_id = await sealed_by_sf(world)
    feed = world.feed(worker.handle)
    await feed()
    feed.seen = 0
    await feed()  # every event again, as after a redelivery: no second order
    assert len(fake.orders) == 1
    [order] = [r for r in fake.received if r["service"] == "EXP_RECE_CREATE_ORDER"]
    sender, receiver = order["contactInfoList"]
    assert (sender["province"], sender["city"], sender["county"]) == ("广东省", "汕尾市", "陆丰市")
    assert receiver["company"] == "汕尾市住房和城乡建设局"
    row = await shipment(world, package_id)
    assert row["carrier"] == "sf" and row["waybill"] == "SF7444407670710" and row["status"] == "booked"
    async with world.uow() as uow:
        package = await uow.packages.get(package_id)
    assert package.waybill == "SF7444407670710" and package.state.value == "sealed"
    assert (await types(world)).count("package.booked") == 1
    label = await FileBlobStore(tmp_path / "blobs").get(row["label_sha256"])
    image = pypdfium2.PdfDocument(label)[0].render(scale=3).to_pil()
    decoded = {r.text for r in zxingcpp.read_barcodes(image)}
    assert "SF7444407670710" in decoded
    assert SIGNER.sign_package(package.code) in decoded


async def test_an_sf_outage_fails_over_to_the_next_configured_carrier(world, sf, session, tmp_path):
    fake, endpoint = sf
    fake.mode = "timeout"
    worker = logistics(world, session, endpoint, tmp_path, failover=["internal"])
    package_id = await sealed_by_sf(world)
    await world.feed(worker.handle)()
    row = await shipment(world, package_id)
    assert row["carrier"] == "internal"
    assert [(a["carrier"], a["retryable"]) for a in row["attempts"]] == [("sf", True), ("internal", False)]
    async with world.uow() as uow:
        package = await uow.packages.get(package_id)
    assert package.carrier == "internal" and package.waybill == package.code.compact


async def test_an_outage_with_nowhere_to_go_is_retried_later(world, sf, session, tmp_path):
    fake, endpoint = sf
    fake.mode = "rate_limit"
    worker = logistics(world, session, endpoint, tmp_path)
    await sealed_by_sf(world)
    with pytest.raises(RetryLater, match="sf"):
        await world.feed(worker.handle)()
    async with world.engine.connect() as conn:
        assert (await conn.execute(select(t.shipments))).first() is None


async def test_a_booking_every_carrier_refuses_tells_the_sending_office(world, sf, session, tmp_path):
    fake, endpoint = sf
    worker = logistics(world, session, endpoint, tmp_path)
    package_id = await sealed_by_sf(world)
    async with world.uow() as uow:
        code = (await uow.packages.get(package_id)).code.compact
    fake.orders[code] = "SF0000000000001"  # a booking made before a crash: SF says 重复下单
    await world.feed(worker.handle)()
    assert (await types(world))[-1] == "package.booking_failed"
    async with world.engine.connect() as conn:
        [payload] = (
            await conn.execute(select(outbox.c.payload).where(outbox.c.type == "package.booking_failed"))
        ).scalars()
    assert "重复下单" in payload["data"]["reason"]


async def test_polled_tracking_becomes_custody_events_once(world, sf, session, tmp_path):
    _, endpoint = sf
    worker = logistics(world, session, endpoint, tmp_path)
    package_id = await sealed_by_sf(world)
    await world.feed(worker.handle)()
    world.at(2026, 3, 11, 12)
    assert await worker.poll_tracking() == 3
    world.at(2026, 3, 11, 15)
    assert await worker.poll_tracking() == 0  # polled too recently
    world.at(2026, 3, 12, 15)
    assert await worker.poll_tracking() == 0  # the same movements again change nothing
    async with world.uow() as uow:
        package = await uow.packages.get(package_id)
    assert package.state.value == "arrived"
    assert [c.kind.value for c in package.custody] == ["created", "sealed", "picked_up", "in_transit", "delivered"]
    assert package.verify().ok
    assert (await shipment(world, package_id))["status"] == "delivered"


async def test_a_package_with_no_movement_for_more_than_three_working_days_is_announced_once(world, session, tmp_path):
    worker = logistics(world, session, "http://127.0.0.1:9/std/service", tmp_path)
    world.at(2026, 3, 2)
    case_id = await world.register()
    package_id = await world.seal(case_id)  # our own courier: nothing to book
    world.at(2026, 3, 5)
    assert await worker.announce_stalled() == 0
    world.at(2026, 3, 6)
    assert await worker.announce_stalled() == 1
    assert await worker.announce_stalled() == 0
    async with world.engine.connect() as conn:
        [payload] = (await conn.execute(select(outbox.c.payload).where(outbox.c.type == "package.stalled"))).scalars()
    assert payload["package_id"] == package_id and payload["data"]["working_days"] == 4


async def test_on_rabbitmq_an_sf_outage_fails_over_to_our_own_courier(pg_world, sf, session, tmp_path):
    """The same failover through the real backbone: outbox → relay → RabbitMQ → logistics group."""
    world = pg_world
    fake, endpoint = sf
    fake.mode = "timeout"
    prefix_gen = rabbit_prefix()
    prefix = await prefix_gen.__anext__()
    consumer_groups = groups(prefix)
    TEST_GROUPS.extend(consumer_groups.values())
    b = bus(prefix)
    await b.start()
    worker = logistics(world, session, endpoint, tmp_path, failover=["internal"])
    tickers = await start_groups(b, {"logistics": consumer_groups["logistics"]}, {"logistics": worker})
    relay = OutboxRelay(world.engine, b, poll_seconds=0.05)
    relay_task = asyncio.create_task(relay.run())
    try:
        package_id = await sealed_by_sf(world)
        deadline = time.monotonic() + 30
        while True:
            # the shipment row commits first, the waybill on the package (package.booked) just after
            async with world.engine.connect() as conn:
                row = (
                    await conn.execute(select(t.shipments.c.carrier).where(t.shipments.c.package_id == package_id))
                ).first()
            booked = (await types(world)).count("package.booked")
            if (row is not None and booked) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        assert row is not None and row[0] == "internal"
        await asyncio.sleep(0.5)  # a second booking, were there one, would have landed by now
        assert (await types(world)).count("package.booked") == 1
    finally:
        relay.stop()
        await relay_task
        await stop_tickers(tickers)
        await b.close()
        await prefix_gen.aclose()


async def test_a_booking_recorded_before_a_crash_is_finished_without_a_second_order(world, sf, session, tmp_path):
    fake, endpoint = sf
    worker = logistics(world, session, endpoint, tmp_path)
    package_id = await sealed_by_sf(world)
    async with world.engine.begin() as conn:  # the shipment was recorded, then the process died
        await conn.execute(
            t.shipments.insert().values(
                package_id=package_id,
                carrier="sf",
                waybill="SF7444407670799",
                booked_at=world.clock.now(),
                status="booked",
                raw={},
                attempts=[],
            )
        )
    await world.feed(worker.handle)()
    assert fake.orders == {}
    async with world.uow() as uow:
        assert (await uow.packages.get(package_id)).waybill == "SF7444407670799"
    assert (await types(world)).count("package.booked") == 1
