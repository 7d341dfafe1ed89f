"""Events/s through our pipeline — commit → outbox relay → RabbitMQ → idempotent consumer writing to
PostgreSQL — beside a raw pipeline of the same shape run in the same run, on the same cores.

What is compared (the ratio printed is ours / raw pipeline, both measured in the same run):
  * **ours**: a producer process (the API's side) commits one event a transaction through
    ``write_outbox`` (the case's sequence counter bumped, the outbox row inserted; 8 connections,
    500 cases); this process (the worker's side) runs ``OutboxRelay`` (batch 500, polling every
    10 ms, no LISTEN) publishing through ``RabbitBus`` (confirms), and a consumer group on a quorum
    queue (prefetch 256) with the inbox handlers (``idempotent`` / ``idempotent_batch``): one
    transaction a batch, the inbox insert, then the effect — one row inserted — for each event.
  * **raw pipeline**: the same three stages in bare asyncpg and aio-pika, no framework, running
    concurrently on the same cores, split between two processes the same way: a producer process
    committing the same two statements a transaction on 8 connections (counter upsert, outbox row);
    in this process a relay claiming up to 500 rows ``FOR UPDATE SKIP LOCKED``, publishing them with
    publisher confirms awaited together and marking them sent, and a consumer (quorum queue,
    prefetch 256) taking whatever has arrived, inserting its inbox rows and then its effects with one
    statement each in one transaction, and one ``ack(multiple=True)`` (:func:`raw_pipeline`). Its
    tables carry only the indexes it needs (ours carry the outbox's other indexes); it keeps no
    per-case order across relays and no retry, hold or parking, which ours do.
  Both are timed the same way: from starting the producer process (its imports included) to the
  last effect row being visible (polled every 50 ms), over ``--events`` events. Each also prints
  its producer's own rate (events/s until its last commit): when that is close to the pipeline's,
  the producer is what bounds it.

The raw stages measured alone are printed too, for reference (not used in the ratio):
  * asyncpg transactions/s inserting two rows (8 connections),
  * aio-pika confirmed publishes/s (gathered 256 at a time) and consumed acks/s (prefetch 256).

Each run prints the load average; the last lines are the medians of ``--runs``.

Run:  .venv/bin/python bench/bench_pipeline.py [--events 20000] [--runs 3]
Needs PostgreSQL on 127.0.0.1:5432 and RabbitMQ on 127.0.0.1:5672 (scripts/services.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
    tag = await consume_queue.consume(on_message)
    await finished.wait()
    consume_rate = count / (time.perf_counter() - start)
    await consume_queue.cancel(tag)
    await queue.delete(if_unused=False, if_empty=False)
    await connection.close()
    return publish_rate, consume_rate


RAW_SCHEMA = """
CREATE TABLE counters (ordering_key text PRIMARY KEY, last_seq bigint NOT NULL);
CREATE TABLE outbox (
    seq bigserial PRIMARY KEY, id text NOT NULL UNIQUE, type text NOT NULL, ordering_key text NOT NULL,
    key_seq int NOT NULL, payload json NOT NULL, created_at timestamptz NOT NULL, published_at timestamptz
);
CREATE INDEX ON outbox (published_at, seq);
CREATE TABLE inbox (
    message_id text, consumer text, handled_at timestamptz NOT NULL, PRIMARY KEY (message_id, consumer)
);
CREATE TABLE effects (event_id text PRIMARY KEY);
"""


async def raw_pipeline(count: int) -> tuple[float, float]:
    """The same shape as ours in bare asyncpg and aio-pika, every stage running at once: a producer
    process commits one event a transaction (the case's counter bumped, the outbox row inserted; 8
    connections); here a relay claims up to 500 unpublished rows (``FOR UPDATE SKIP LOCKED``),
    publishes them with confirms (all awaited together) and marks them sent, and a consumer
    (prefetch 256) takes whatever has arrived, inserts the inbox rows and the effects with one
    statement each in one transaction and acknowledges the batch with one ``ack(multiple=True)``."""
    name = f"bench_rawpipe_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{PG}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    pool = await asyncpg.create_pool(f"{PG}/{name}", min_size=2, max_size=3)
    await pool.execute(RAW_SCHEMA)
    prefix = f"r{uuid.uuid4().hex[:6]}"
    connection = await aio_pika.connect(AMQP)
    publish_channel = await connection.channel(publisher_confirms=True)
    exchange = await publish_channel.declare_exchange(f"{prefix}.events", aio_pika.ExchangeType.TOPIC, durable=True)
    consume_channel = await connection.channel()
    await consume_channel.set_qos(prefetch_count=256)
    queue = await consume_channel.declare_queue(f"{prefix}.bench", durable=True, arguments={"x-queue-type": "quorum"})
    await queue.bind(f"{prefix}.events", "case.#")
    stopping = False

    async def relay() -> None:
        async with pool.acquire() as conn:
            while not stopping:
                async with conn.transaction():
                    rows = await conn.fetch(
                        "SELECT seq, id, type, payload FROM outbox WHERE published_at IS NULL "
                        "ORDER BY seq LIMIT 500 FOR UPDATE SKIP LOCKED"
                    )
                    if rows:
                        await asyncio.gather(
                            *(
                                exchange.publish(
                                    aio_pika.Message(
                                        r["payload"].encode(),
                                        message_id=r["id"],
                                        content_type="application/json",
                                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                    ),
                                    routing_key=r["type"],
                                )
                                for r in rows
                            )
                        )
                        await conn.execute(
                            "UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])",
                            [r["seq"] for r in rows],
                        )
                if not rows:
                    await asyncio.sleep(0.01)

    pending: list[aio_pika.abc.AbstractIncomingMessage] = []
    arrived = asyncio.Event()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        pending.append(message)
        arrived.set()

    async def consumer() -> None:
        async with pool.acquire() as conn:
            while not stopping:
                await arrived.wait()
                arrived.clear()
                batch = pending[:]
                pending.clear()
                if not batch:
                    continue
                async with conn.transaction():
                    fresh = await conn.fetch(
                        "INSERT INTO inbox (message_id, consumer, handled_at) SELECT m, 'bench', now() "
                        "FROM unnest($1::text[]) AS m ON CONFLICT DO NOTHING RETURNING message_id",
                        [m.message_id for m in batch],
                    )
                    await conn.execute(
                        "INSERT INTO effects (event_id) SELECT unnest($1::text[])", [r[0] for r in fresh]
                    )
                await batch[-1].ack(multiple=len(batch) > 1)

    consumer_tag = await queue.consume(on_message)
    tasks = [asyncio.create_task(relay()), asyncio.create_task(consumer())]
    start = time.perf_counter()
    producer = await asyncio.create_subprocess_exec(sys.executable, __file__, "--produce-raw", name, str(count))
    committing = asyncio.create_task(_commit_rate(producer, count, start))
    async with pool.acquire() as conn:
        while await conn.fetchval("SELECT count(*) FROM effects") < count:
            await asyncio.sleep(0.05)
    rate = count / (time.perf_counter() - start)
    commit_rate = await committing
    stopping = True
    arrived.set()
    await asyncio.gather(*tasks)
    await queue.cancel(consumer_tag)
    await queue.delete(if_unused=False, if_empty=False)
    await exchange.delete()
    await connection.close()
    await pool.close()
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()
    return rate, commit_rate


async def _commit_rate(producer: asyncio.subprocess.Process, count: int, start: float) -> float:
    """Events/s committed by the producer process (it ends when its last event is committed)."""
    await producer.wait()
    return count / (time.perf_counter() - start)


async def produce_raw(database: str, count: int) -> None:
    """The raw producer: one transaction per event (the case's counter, the outbox row), 8 at a time."""
    pool = await asyncpg.create_pool(f"{PG}/{database}", min_size=8, max_size=8)
    now = datetime.now(UTC)

    async def producer(p: int) -> None:
        async with pool.acquire() as conn:
            for i in range(p, count, 8):
                key = f"case-{i % 500}"
                event_id = str(uuid.uuid4())
                async with conn.transaction():
                    seq = await conn.fetchval(
                        "INSERT INTO counters VALUES ($1, 1) ON CONFLICT (ordering_key) "
                        "DO UPDATE SET last_seq = counters.last_seq + 1 RETURNING last_seq",
                        key,
                    )
                    payload = {
                        "id": event_id,
                        "type": "case.accepted",
                        "version": 1,
                        "occurred_at": now.isoformat(),
                        "case_id": key,
                        "package_id": None,
                        "actor": "bench",
                        "data": {"accepted_on": now.date().isoformat(), "promised_limit": 20, "tolerated": False},
                        "ordering_key": key,
                        "seq": seq,
                    }
                    await conn.execute(
                        "INSERT INTO outbox (id, type, ordering_key, key_seq, payload, created_at) "
                        "VALUES ($1, 'case.accepted', $2, $3, $4, $5)",
                        event_id,
                        key,
                        seq,
                        json.dumps(payload),
                        now,
                    )

    await asyncio.gather(*(producer(p) for p in range(8)))
    await pool.close()


async def pipeline(count: int) -> tuple[float, float, str]:
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

    insert_effect = insert(effects)  # built once, as a handler's statements are

    async def effect(envelope: dict, conn) -> None:  # type: ignore[no-untyped-def]
        await conn.execute(insert_effect, {"event_id": envelope["id"]})

    await bus.consume(group, idempotent(engine, group.name, effect), idempotent_batch(engine, group.name, effect))
    relay = OutboxRelay(engine, bus, batch=500, poll_seconds=0.01)
    relay_task = asyncio.create_task(relay.run())
    start = time.perf_counter()
    # The API commits in its own process, as in production; this process is the worker.
    api = await asyncio.create_subprocess_exec(sys.executable, __file__, "--produce", name, str(count))
    committing = asyncio.create_task(_commit_rate(api, count, start))
    while True:
        async with engine.connect() as conn:
            n = (await conn.execute(select(func.count()).select_from(effects))).scalar_one()
        if n >= count:
            break
        await asyncio.sleep(0.05)
    rate = count / (time.perf_counter() - start)
    commit_rate = await committing
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
    return rate, commit_rate, batching


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
    if len(sys.argv) == 4 and sys.argv[1] == "--produce-raw":
        await produce_raw(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of the raw asyncpg stage alone")
    parser.add_argument("--runs", type=int, default=1, help="runs; the medians are printed last")
    args = parser.parse_args()
    rows: list[tuple[float, float, float, float, float]] = []
    for run in range(1, args.runs + 1):
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        pg = await raw_postgres(args.seconds)
        publish, consume = await raw_rabbit(args.events)
        raw, raw_commits = await raw_pipeline(args.events)
        ours, our_commits, batching = await pipeline(args.events)
        rows.append((pg, publish, consume, raw, ours))
        print(f"run {run} (load average {load} at its start, {_load()} at its end):")
        print(f"  stage alone: raw asyncpg 2-row transactions/s (8 conns): {pg:9.0f}")
        print(f"  stage alone: raw aio-pika confirmed publishes/s:          {publish:9.0f}")
        print(f"  stage alone: raw aio-pika consumed acks/s:                {consume:9.0f}")
        print(f"  raw pipeline, stages together (asyncpg + aio-pika):        {raw:9.0f} events/s")
        print(f"  ours, commit→relay→RabbitMQ→consumer→PG:                  {ours:9.0f} events/s")
        print(f"  ratio ours / raw pipeline:                                {ours / raw:9.1%}")
        print(f"  producers (events/s until their last commit): raw {raw_commits:.0f}, ours {our_commits:.0f}")
        print(f"  consumer: {batching}", flush=True)
    pg, publish, consume, raw, ours = (statistics.median(column) for column in zip(*rows, strict=True))
    print(f"medians of {len(rows)} (load average now {_load()}):")
    print(
        f"  ours {ours:.0f} events/s, raw pipeline {raw:.0f} events/s, ratio {ours / raw:.1%} (goal ≥ 50 %); "
        f"stages alone: pg {pg:.0f} tx/s, publish {publish:.0f}/s, consume {consume:.0f}/s"
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    asyncio.run(main())
