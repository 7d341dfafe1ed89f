"""Events/s through commit → outbox relay → RabbitMQ → idempotent consumer writing to PostgreSQL,
beside the machine's raw rates measured in the same run:
  * asyncpg transactions/s inserting two rows (8 connections),
  * aio-pika confirmed publishes/s (pipelined) and consumed acks/s (prefetch 256).

Run:  .venv/bin/python bench/bench_pipeline.py [--events 20000] [--runs 3]
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
from sqlalchemy import Column, MetaData, String, Table, func, insert, select

from adapters.broker.rabbit import RabbitBus
from adapters.broker.topology import Group
from adapters.db.engine import make_engine
from adapters.db.migrate import upgrade
from adapters.db.outbox import write_outbox
from handoff import events as ev
from worker.consumer import idempotent, idempotent_batch
from worker.relay import OutboxRelay

PG = "postgresql://postgres@127.0.0.1:5432"
AMQP = "amqp://guest:guest@127.0.0.1:5672/"


async def raw_postgres(seconds: float, conc: int = 8) -> float:
    name = f"bench_raw_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{PG}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    pool = await asyncpg.create_pool(f"{PG}/{name}", min_size=conc, max_size=conc)
    await pool.execute("CREATE TABLE state (id text primary key, v int)")
    await pool.execute("CREATE TABLE box (id text primary key, payload jsonb)")
    done = 0
    end = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        async with pool.acquire() as conn:
            while time.perf_counter() < end:
                key = uuid.uuid4().hex
                async with conn.transaction():
                    await conn.execute("INSERT INTO state VALUES ($1, 1)", key)
                    await conn.execute("INSERT INTO box VALUES ($1, $2)", key, '{"a": 1}')
                done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    rate = done / (time.perf_counter() - start)
    await pool.close()
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()
    return rate


async def raw_rabbit(count: int) -> tuple[float, float]:
    connection = await aio_pika.connect(AMQP)
    channel = await connection.channel(publisher_confirms=True)
    queue = await channel.declare_queue(
        f"bench.raw.{uuid.uuid4().hex[:6]}", durable=True, arguments={"x-queue-type": "quorum"}
    )
    body = b'{"id":"x","type":"case.accepted","data":{}}' + b" " * 250
    start = time.perf_counter()
    window = 256
    for offset in range(0, count, window):
        await asyncio.gather(
            *(
                channel.default_exchange.publish(
                    aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=queue.name
                )
                for _ in range(min(window, count - offset))
            )
        )
    publish_rate = count / (time.perf_counter() - start)
    consume_channel = await connection.channel()
    await consume_channel.set_qos(prefetch_count=256)
    consume_queue = await consume_channel.get_queue(queue.name)
    got = 0
    finished = asyncio.Event()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal got
        await message.ack()
        got += 1
        if got == count:
            finished.set()

    start = time.perf_counter()
    await consume_queue.consume(on_message)
    await finished.wait()
    consume_rate = count / (time.perf_counter() - start)
    await queue.delete(if_unused=False, if_empty=False)
    await connection.close()
    return publish_rate, consume_rate


async def pipeline(count: int) -> tuple[float, str]:
    name = f"bench_pipe_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{PG}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", pool_size=8)
    await upgrade(engine)
    meta = MetaData()
    effects = Table("bench_effects", meta, Column("event_id", String(64), primary_key=True))
    async with engine.begin() as conn:
        await conn.run_sync(meta.create_all)
    prefix = f"b{uuid.uuid4().hex[:6]}"
    bus = RabbitBus(AMQP, prefix=prefix)
    await bus.start()
    group = Group("bench", ("case.#",), prefix=prefix, prefetch=256)

    async def effect(envelope: dict, conn) -> None:  # type: ignore[no-untyped-def]
        await conn.execute(insert(effects).values(event_id=envelope["id"]))

    await bus.consume(group, idempotent(engine, group.name, effect), idempotent_batch(engine, group.name, effect))
    relay = OutboxRelay(engine, bus, batch=500, poll_seconds=0.01)
    relay_task = asyncio.create_task(relay.run())
    start = time.perf_counter()
    # The API commits in its own process, as in production; this process is the worker.
    api = await asyncio.create_subprocess_exec(sys.executable, __file__, "--produce", name, str(count))
    while True:
        async with engine.connect() as conn:
            n = (await conn.execute(select(func.count()).select_from(effects))).scalar_one()
        if n >= count:
            break
        await asyncio.sleep(0.05)
    rate = count / (time.perf_counter() - start)
    await api.wait()
    relay.stop()
    await relay_task
    consumers = bus._consumers
    await bus.close()
    units = sum(c.units for c in consumers)
    messages = sum(c.messages for c in consumers)
    multiple = sum(c.ack_frames[0] for c in consumers)
    single = sum(c.ack_frames[1] for c in consumers)
    batching = (
        f"{messages / max(units, 1):.1f} messages a unit (transaction), "
        f"ack frames {multiple} multiple + {single} single for {messages} messages"
    )
    await engine.dispose()
    connection = await aio_pika.connect(AMQP)
    channel = await connection.channel()
    for queue in [group.queue, group.parked, *(group.retry_queue(i + 1) for i in range(group.max_attempts))]:
        await channel.queue_delete(queue)
    await channel.exchange_delete(f"{prefix}.events")
    await connection.close()
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()
    return rate, batching


async def produce(database: str, count: int) -> None:
    """The API's side: one transaction per event (state change + outbox row), 8 at a time."""
    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}", pool_size=8)
    now = datetime.now(UTC)

    async def producer(p: int) -> None:
        for i in range(p, count, 8):
            async with engine.begin() as conn:
                await write_outbox(
                    conn,
                    [
                        ev.CaseAccepted(
                            occurred_at=now,
                            actor="bench",
                            case_id=f"case-{i % 500}",
                            accepted_on=now.date(),
                            promised_limit=20,
                            tolerated=False,
                        )
                    ],
                )

    await asyncio.gather(*(producer(p) for p in range(8)))
    await engine.dispose()


async def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--produce":
        await produce(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--runs", type=int, default=1, help="runs; the medians are printed last")
    args = parser.parse_args()
    rows: list[tuple[float, float, float, float]] = []
    for run in range(1, args.runs + 1):
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        pg = await raw_postgres(args.seconds)
        publish, consume = await raw_rabbit(args.events)
        ours, batching = await pipeline(args.events)
        slower = min(pg, publish, consume)
        rows.append((pg, publish, consume, ours))
        print(f"run {run} (load average {load}):")
        print(f"  raw asyncpg 2-row transactions/s (8 conns): {pg:9.0f}")
        print(f"  raw aio-pika confirmed publishes/s:          {publish:9.0f}")
        print(f"  raw aio-pika consumed acks/s:                {consume:9.0f}")
        print(f"  pipeline commit→relay→RabbitMQ→consumer→PG:  {ours:9.0f} events/s")
        print(f"  ratio pipeline / slower raw rate:            {ours / slower:9.1%}")
        print(f"  consumer: {batching}")
    pg, publish, consume, ours = (statistics.median(column) for column in zip(*rows, strict=True))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"medians of {len(rows)} (load average now {load}):")
    print(
        f"  ours {ours:.0f} events/s, raw {min(pg, publish, consume):.0f} (slower of pg {pg:.0f}, "
        f"publish {publish:.0f}, consume {consume:.0f}), ratio {ours / min(pg, publish, consume):.1%} (goal ≥ 50 %)"
    )


if __name__ == "__main__":
    asyncio.run(main())
