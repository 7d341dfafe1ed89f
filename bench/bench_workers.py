"""Events/s handled by the real consumer groups on PostgreSQL and RabbitMQ, beside the machine's raw
rates measured in the same run:
  * aio-pika consumed acks/s (prefetch 256) — the broker side of any consumer;
  * asyncpg transactions/s of one 10-statement read transaction plus a 2-row write (8 connections)
    — about what one projection or deadline step costs the database (load a case, write a row).

The case events are made first (cases registered, forwarded, received, accepted and decided
through the real services), then the relay publishes them and the chosen groups drain the queue.

Run:  .venv/bin/python bench/bench_workers.py [--cases 400] [--runs 3] [--group projections --group deadlines]
Needs PostgreSQL on 127.0.0.1:5432 and RabbitMQ on 127.0.0.1:5672 (scripts/services.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aio_pika
import asyncpg
from sqlalchemy import event, func, select

from adapters.broker.rabbit import RabbitBus
from adapters.broker.topology import groups
from adapters.calendar import LiveCalendar
from adapters.crypto import IdCipher
from adapters.db.engine import make_engine
from adapters.db.migrate import upgrade
from adapters.db.outbox import write_outbox
from adapters.db.repositories import SqlUnitOfWork
from adapters.db.tables import outbox
from adapters.demo import load_demo_world
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
from worker.deadlines import DeadlineSettings, DeadlineWatcher
from worker.group import start_groups, stop_tickers
from worker.projections import Projector
from worker.relay import OutboxRelay

PG = "postgresql://postgres@127.0.0.1:5432"
AMQP = "amqp://guest:guest@127.0.0.1:5672/"
CIPHER = IdCipher({"b1": b"0" * 32}, hash_key=b"h" * 32)


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


async def raw_consume(count: int) -> float:
    connection = await aio_pika.connect(AMQP)
    channel = await connection.channel(publisher_confirms=True)
    queue = await channel.declare_queue(f"bench_raw_{uuid.uuid4().hex[:6]}", durable=True)
    body = b'{"type":"case.accepted","case_id":"c"}' * 8
    for start in range(0, count, 256):
        await asyncio.gather(
            *(
                channel.default_exchange.publish(aio_pika.Message(body=body), routing_key=queue.name)
                for _ in range(min(256, count - start))
            )
        )
    consume = await connection.channel()
    await consume.set_qos(prefetch_count=256)
    consume_queue = await consume.get_queue(queue.name)
    finished = asyncio.Event()
    seen = 0

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal seen
        await message.ack()
        seen += 1
        if seen >= count:
            finished.set()

    start_at = time.perf_counter()
    await consume_queue.consume(on_message)
    await finished.wait()
    rate = count / (time.perf_counter() - start_at)
    await queue.delete(if_unused=False, if_empty=False)
    await connection.close()
    return rate


async def raw_read_and_write(seconds: float, conc: int = 8) -> float:
    name = f"bench_raw_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{PG}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    pool = await asyncpg.create_pool(f"{PG}/{name}", min_size=conc, max_size=conc)
    await pool.execute("CREATE TABLE c (id text primary key, v jsonb)")
    await pool.execute("CREATE TABLE f (id text primary key, n int)")
    await pool.executemany("INSERT INTO c VALUES ($1, $2)", [(f"c{i}", '{"a": 1}') for i in range(500)])
    done = 0
    end = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        async with pool.acquire() as conn:
            while time.perf_counter() < end:
                key = f"c{(done * 7 + w) % 500}"
                async with conn.transaction():
                    for _ in range(10):
                        await conn.fetchrow("SELECT v FROM c WHERE id = $1", key)
                    await conn.execute("INSERT INTO f VALUES ($1, 1) ON CONFLICT (id) DO UPDATE SET n = f.n + 1", key)
                done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(conc)))
    rate = done / (time.perf_counter() - start)
    await pool.close()
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()
    return rate


async def workers(cases: int, names: list[str]) -> tuple[int, float, str]:
    name = f"bench_work_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{PG}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", pool_size=8)
    await upgrade(engine)
    async with engine.begin() as conn:
        await load_demo_world(conn)
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
    async with engine.connect() as conn:
        events = (
            await conn.execute(select(func.count()).where(outbox.c.type.like("case.%") | outbox.c.type.like("stage.%")))
        ).scalar_one()  # what both groups are bound to
    prefix = f"b{uuid.uuid4().hex[:6]}"
    bus = RabbitBus(AMQP, prefix=prefix)
    await bus.start()
    chosen = {n: groups(prefix)[n] for n in names}
    built = {
        "projections": Projector(engine, CIPHER, calendar, clock, interval=3600),
        "deadlines": DeadlineWatcher(engine, CIPHER, calendar, deps, uow, DeadlineSettings(scan_seconds=3600)),
    }
    for group in chosen.values():
        await bus.declare(group)
    relay = OutboxRelay(engine, bus, batch=500, poll_seconds=0.01)
    await relay.run_once()  # every event on the queues before the clock starts
    while await relay.run_once():
        pass
    started = time.perf_counter()
    tickers = await start_groups(bus, chosen, {n: built[n] for n in names})
    # from here on (the groups' recovery at start is done): round trips to the database, and the
    # units handled meanwhile (a group consumes while the next one recovers)
    trips = {"statements": 0, "begin": 0, "end": 0}
    units_before = sum(c.units for c in bus._consumers)

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _statement(*_: object) -> None:
        trips["statements"] += 1  # an executemany counts once: asyncpg pipelines it

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(*_: object) -> None:
        trips["begin"] += 1

    @event.listens_for(engine.sync_engine, "commit")
    def _commit(*_: object) -> None:
        trips["end"] += 1

    @event.listens_for(engine.sync_engine, "rollback")
    def _rollback(*_: object) -> None:
        trips["end"] += 1

    while any([await bus.depth(g) for g in chosen.values()]):
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    await stop_tickers(tickers)
    consumers = bus._consumers
    await bus.close()
    units = sum(c.units for c in consumers)
    messages = sum(c.messages for c in consumers)
    multiple = sum(c.ack_frames[0] for c in consumers)
    single = sum(c.ack_frames[1] for c in consumers)
    counted = max(units - units_before, 1)
    batching = (
        f"{messages / max(units, 1):.1f} messages a unit (batch), "
        f"ack frames {multiple} multiple + {single} single for {messages} messages; "
        f"per unit {sum(trips.values()) / counted:.1f} round trips to the database "
        f"({trips['statements'] / counted:.1f} statements, {trips['begin'] / counted:.1f} transactions)"
    )
    await engine.dispose()
    connection = await aio_pika.connect(AMQP)
    channel = await connection.channel()
    for group in chosen.values():
        for queue in [group.queue, group.parked, *(group.retry_queue(i + 1) for i in range(group.max_attempts))]:
            await channel.queue_delete(queue)
    await channel.exchange_delete(f"{prefix}.events")
    await connection.close()
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()
    return events * len(names), elapsed, batching


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--group", action="append", choices=["projections", "deadlines"])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--runs", type=int, default=1, help="runs; the medians are printed last")
    args = parser.parse_args()
    names = args.group or ["projections", "deadlines"]
    rows: list[tuple[float, float, float]] = []
    for run in range(1, args.runs + 1):
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        consume = await raw_consume(10_000)
        pg = await raw_read_and_write(args.seconds)
        handled, elapsed, batching = await workers(args.cases, names)
        ours = handled / elapsed
        rows.append((consume, pg, ours))
        print(f"run {run} (load average {load}):")
        print(f"  raw aio-pika consumed acks/s (prefetch 256):        {consume:9.0f}")
        print(f"  raw asyncpg 10 reads + 1 upsert per tx (8 conns):   {pg:9.0f} tx/s")
        print(f"  groups {'+'.join(names)}: {handled} deliveries in {elapsed:5.1f} s = {ours:9.0f} events/s")
        print(f"  ratio ours / raw database step:                     {ours / pg:9.1%}")
        print(f"  consumers: {batching}")
    consume, pg, ours = (statistics.median(column) for column in zip(*rows, strict=True))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"medians of {len(rows)} (load average now {load}):")
    print(f"  ours {ours:.0f} events/s, raw {pg:.0f} tx/s (consume {consume:.0f} acks/s), ratio {ours / pg:.1%}")


if __name__ == "__main__":
    asyncio.run(main())
