"""Events/s through commit → outbox relay → RabbitMQ → idempotent consumer writing to PostgreSQL,
beside the machine's raw rate measured in the same run: the raw stages run together on the same
cores, as the pipeline's stages do —
  * commit: asyncpg transactions inserting two rows (8 connections), in another process (the
    pipeline's API side commits in its own process too),
  * publish: aio-pika confirmed publishes (pipelined, 256 in flight) to a quorum queue,
  * consume: aio-pika consumed acks (prefetch 256) from that queue, while it is being filled —
the raw rate is events / time until the last stage is done. Each stage alone is printed too.
Ours and raw alternate, three times each; medians, with the 1-minute load average.

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


async def raw_commits(dsn: str, count: int, conc: int = 8) -> None:
    """The raw commit stage: ``count`` transactions of two inserts over ``conc`` connections."""
    pool = await asyncpg.create_pool(dsn, min_size=conc, max_size=conc)
    left = iter(range(count))

    async def worker() -> None:
        async with pool.acquire() as conn:
            for _ in left:
                key = uuid.uuid4().hex
                async with conn.transaction():
                    await conn.execute("INSERT INTO state VALUES ($1, 1)", key)
                    await conn.execute("INSERT INTO box VALUES ($1, $2)", key, '{"a": 1}')

    await asyncio.gather(*(worker() for _ in range(conc)))
    await pool.close()


async def raw_together(count: int) -> tuple[float, float, float, float]:
    """(raw stages together events/s, then each stage alone: commits/s, publishes/s, acks/s)."""
    name = f"bench_raw_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{PG}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    setup = await asyncpg.connect(f"{PG}/{name}")
    await setup.execute("CREATE TABLE state (id text primary key, v int)")
    await setup.execute("CREATE TABLE box (id text primary key, payload jsonb)")
    await setup.close()
    connection = await aio_pika.connect(AMQP)
    channel = await connection.channel(publisher_confirms=True)
    queue = await channel.declare_queue(
        f"bench.raw.{uuid.uuid4().hex[:6]}", durable=True, arguments={"x-queue-type": "quorum"}
    )
    body = b'{"id":"x","type":"case.accepted","data":{}}' + b" " * 250
    consume_channel = await connection.channel()
    await consume_channel.set_qos(prefetch_count=256)
    consume_queue = await consume_channel.get_queue(queue.name)

    async def publish_all() -> float:
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
        return time.perf_counter() - start

    got = 0
    finished = asyncio.Event()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal got
        await message.ack()
        got += 1
        if got == count:
            finished.set()

    async def consume_all() -> float:
        start = time.perf_counter()
        await consume_queue.consume(on_message)
        await finished.wait()
        return time.perf_counter() - start

    async def commit_all() -> float:
        start = time.perf_counter()
        child = await asyncio.create_subprocess_exec(sys.executable, __file__, "--raw-commit", name, str(count))
        await child.wait()
        return time.perf_counter() - start

    start = time.perf_counter()
    committed, published, consumed = await asyncio.gather(commit_all(), publish_all(), consume_all())
    together = count / (time.perf_counter() - start)
    await queue.delete(if_unused=False, if_empty=False)
    await connection.close()
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()
    return together, count / committed, count / published, count / consumed


async def pipeline(count: int) -> float:
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
    print(f"  ours: {rate:7.0f} events/s, {consumer_stats(bus)}; load {load():4.2f}", flush=True)
    await api.wait()
    relay.stop()
    await relay_task
    await bus.close()
    await engine.dispose()
    connection = await aio_pika.connect(AMQP)
    channel = await connection.channel()
    for queue in [group.queue, group.parked, *(group.retry_queue(i + 1) for i in range(group.max_attempts))]:
        await channel.queue_delete(queue)
    await channel.exchange_delete(f"{prefix}.events")
    await connection.close()
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()
    return rate


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


def consumer_stats(bus: RabbitBus) -> str:
    """Messages per consumer transaction and how they were acknowledged (what the consumer counts)."""
    parts = []
    for consumer in bus._consumers:
        units, messages, acks = (getattr(consumer, n, None) for n in ("units", "messages", "ack_frames"))
        if units is None or acks is None:
            parts.append(f"{consumer.group.name}: (not counted)")
            continue
        parts.append(
            f"{consumer.group.name}: {messages / max(units, 1):4.1f} messages per unit, "
            f"acks {acks[0]} multiple + {acks[1]} single"
        )
    return "; ".join(parts)


def load() -> float:
    return os.getloadavg()[0]


async def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--produce":
        await produce(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--raw-commit":
        await raw_commits(f"{PG}/{sys.argv[2]}", int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    raws, ours, loads = [], [], []
    for n in range(args.runs):
        raw = await raw_together(args.events)
        print(
            f"  raw #{n + 1}: together {raw[0]:7.0f} events/s (alone: commits {raw[1]:6.0f}/s, "
            f"publishes {raw[2]:6.0f}/s, acks {raw[3]:6.0f}/s); load {load():4.2f}",
            flush=True,
        )
        raws.append(raw)
        ours.append(await pipeline(args.events))
        loads.append(load())
    raw_rate = statistics.median(r[0] for r in raws)
    rate = statistics.median(ours)
    print(f"{'figure (median of ' + str(args.runs) + ')':<52} {'ours':>8} {'raw':>8} {'ratio':>7} {'load':>5}")
    print(
        f"{'pipeline commit→relay→RabbitMQ→consumer→PG ev/s':<52} {rate:8.0f} {raw_rate:8.0f} "
        f"{rate / raw_rate:7.1%} {statistics.median(loads):5.2f}"
    )
    print(
        "raw = commit (asyncpg 2-row tx, 8 conns, own process) + confirmed publish + consume/ack, run together; "
        "goal ≥ 50 %"
    )


if __name__ == "__main__":
    asyncio.run(main())
