"""SMS/s sent by the ``notifications`` group on PostgreSQL and RabbitMQ through the real Alibaba
adapter to the signature-checking fake Alibaba server (tests/fakes/sms_servers.py), which answers
each request after ``--latency`` seconds (a real provider answers in tens to hundreds of ms), beside
the raw rate of that fake server alone: the adapter's sends, ``--raw-concurrency`` at a time, with
nothing else around them.

The case events are made first (cases registered, forwarded, received, accepted and decided
through the real services: about seven SMS per case to the applicant and the clerks), then the
relay puts them all on the queue and one consumer (as in one ``handoff worker`` process) drains it.

Run:  .venv/bin/python bench/bench_notifications.py [--cases 150] [--latency 0.05]
Needs PostgreSQL on 127.0.0.1:5432 and RabbitMQ on 127.0.0.1:5672 (scripts/services.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aio_pika
import aiohttp
import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from adapters.broker.rabbit import RabbitBus
from adapters.broker.topology import groups
from adapters.calendar import LiveCalendar
from adapters.crypto import IdCipher
from adapters.db import domain_tables as t
from adapters.db.engine import make_engine
from adapters.db.migrate import upgrade
from adapters.db.outbox import write_outbox
from adapters.db.repositories import SqlUnitOfWork
from adapters.demo import load_demo_world
from adapters.sms.alibaba import AlibabaSms
from adapters.sms.settings import AlibabaSmsSettings
from adapters.sms.templates import TEMPLATES
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
    SignPackage,
    dispatch,
)
from tests.fakes.sms_servers import FakeAlibabaSms
from worker.group import start_groups, stop_tickers
from worker.notifications import Notifier, SweepSettings
from worker.relay import OutboxRelay

PG = "postgresql://postgres@127.0.0.1:5432"
AMQP = "amqp://guest:guest@127.0.0.1:5672/"
CIPHER = IdCipher({"b1": b"0" * 32}, hash_key=b"h" * 32)
KEYS = {"LTAI5tBench": "bench-secret"}


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


class RealClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SlowAlibaba(FakeAlibabaSms):
    """The fake Alibaba server, answering after ``latency`` seconds."""

    def __init__(self, latency: float) -> None:
        super().__init__(lambda: datetime.now(UTC), dict(KEYS))
        self.latency = latency

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(self.latency)
        return await super().handle(request)


def alibaba_settings(url: str) -> AlibabaSmsSettings:
    [(key_id, secret)] = KEYS.items()
    return AlibabaSmsSettings(
        access_key_id=key_id,
        access_key_secret=secret,
        sign_name="汕尾政务",
        templates={key: f"SMS_{271525000 + n}" for n, key in enumerate(TEMPLATES)},
        endpoint=url,
        timeout_seconds=10.0,
    )


async def raw_provider(sms: AlibabaSms, count: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        async with gate:
            await sms.send(f"139{n:08d}", "receipt", {"link": "https://hf.cn/t/x"}, reference=uuid.uuid4().hex)

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    return count / (time.perf_counter() - started)


async def make_events(engine, cases: int) -> None:  # type: ignore[no-untyped-def]
    clock, calendar = Clock(), LiveCalendar()
    deps = Deps(clock=clock, calendar=calendar, tracking=TrackingTokens(b"t" * 32))

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, CIPHER, write_outbox)

    async def one_case(n: int) -> None:
        [collected] = await dispatch(
            RegisterCase(
                matter_id="m-jsgc-xk",
                mode=Mode.PROXY_COLLECT,
                delivery=Delivery.PICKUP_AT_WINDOW,
                applicant_name="张小三",
                applicant_phone=f"139{n:08d}",
                window_office_id="win-441581",
                actor="clerk-lf",
                materials=[
                    MaterialSubmission(m) for m in ("建设工程规划许可申请表", "建设工程设计方案", "土地权属证明")
                ],
            ),
            uow(),
            deps,
        )
        case_id = collected.case_id
        assert case_id is not None
        sealed = await dispatch(SealOutbound(case_id=case_id, actor="clerk-lf"), uow(), deps)
        pid = next(e.package_id for e in sealed if e.type == "package.created")
        assert pid is not None
        await dispatch(HandOverBatch(office_id="win-441581", courier="c", package_ids=[pid], actor="c"), uow(), deps)
        await dispatch(CourierReport(package_id=pid, step="delivered", courier="c", actor="c"), uow(), deps)
        await dispatch(SignPackage(package_id=pid, office_id="dept-441500-zj", actor="d"), uow(), deps)
        for command, args in (("accept", {}), ("decide", {"outcome": "approved", "opinion": "同意"})):
            await dispatch(CaseCommand(case_id=case_id, name=command, actor="d", args=args), uow(), deps)

    for start in range(0, cases, 8):
        await asyncio.gather(*(one_case(n) for n in range(start, min(cases, start + 8))))


async def settled(engine) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(rows, rows still created or sending without a provider id)."""
    n = t.notifications
    async with engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(n))).scalar_one()
        open_rows = (
            await conn.execute(
                select(func.count())
                .select_from(n)
                .where((n.c.status == "created") | ((n.c.status == "sending") & n.c.provider_message_id.is_(None)))
            )
        ).scalar_one()
    return int(total), int(open_rows)


async def ours(cases: int, url: str, fake: SlowAlibaba, session: aiohttp.ClientSession) -> tuple[int, float]:
    name = f"bench_sms_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{PG}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", pool_size=10)
    prefix = f"b{uuid.uuid4().hex[:6]}"
    bus = RabbitBus(AMQP, prefix=prefix)
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            await load_demo_world(conn)
        await make_events(engine, cases)
        await bus.start()
        group = groups(prefix)["notifications"]
        await bus.declare(group)
        relay = OutboxRelay(engine, bus, batch=500, poll_seconds=0.01)
        while await relay.run_once():
            pass
        sms = AlibabaSms(alibaba_settings(url), session, RealClock())
        notifier = Notifier(
            engine,
            sms,
            lambda: LiveCalendar(),
            lambda case_id: f"https://hf.cn/t/{case_id[:8]}",
            queries={"alibaba": sms},
            # as in the fault pass: what a send cut off leaves is settled within the run
            sweep=SweepSettings(interval=2, created_grace=timedelta(seconds=5), sending_grace=timedelta(seconds=5)),
        )
        before = len(fake.messages)
        started = time.perf_counter()
        tickers = await start_groups(bus, {"notifications": group}, {"notifications": notifier})
        last, last_at = -1, time.perf_counter()
        while True:  # drained, every row settled, and no SMS for 5 s (none in hand; not counted)
            total, open_rows = await settled(engine)
            if len(fake.messages) != last:
                last, last_at = len(fake.messages), time.perf_counter()
            if not await bus.depth(group) and total and not open_rows and time.perf_counter() - last_at > 5.0:
                break
            await asyncio.sleep(0.05)
        elapsed = last_at - started
        sent = len(fake.messages) - before
        total, _ = await settled(engine)
        assert sent == total, f"{sent} SMS sent for {total} rows"
        await stop_tickers(tickers)
        swept = {k: v for k, v in notifier.counter.counts.items() if k[0] in ("swept", "resolved")}  # type: ignore[attr-defined]
        if swept:
            print(f"settled by the sweeper (a send cut off, its successors left for it): {swept}")
    finally:
        await bus.close()
        await engine.dispose()
        connection = await aio_pika.connect(AMQP)
        channel = await connection.channel()
        for queue in groups(prefix)["notifications"].queues:
            await channel.queue_delete(queue)
        await channel.exchange_delete(f"{prefix}.events")
        await connection.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
    return sent, elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=150)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake provider takes to answer")
    parser.add_argument("--raw-concurrency", type=int, default=16)
    args = parser.parse_args()
    fake = SlowAlibaba(args.latency)
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("/"))
    load = os.getloadavg()
    async with aiohttp.ClientSession() as session:
        raw = await raw_provider(AlibabaSms(alibaba_settings(url), session, RealClock()), 400, args.raw_concurrency)
        sent, elapsed = await ours(args.cases, url, fake, session)
    await server.close()
    rate = sent / elapsed
    after = os.getloadavg()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load)}; after: {' '.join(f'{x:.2f}' for x in after)}")
    print(f"raw fake Alibaba, latency {args.latency * 1000:.0f} ms, {args.raw_concurrency} at a time: {raw:8.1f} SMS/s")
    print(f"notifications group: {sent} SMS in {elapsed:6.1f} s = {rate:8.1f} SMS/s ({rate * 60:.0f} a minute)")
    print(f"ratio ours / raw provider:                        {rate / raw:8.1%}")


if __name__ == "__main__":
    asyncio.run(main())
