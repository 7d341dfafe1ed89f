"""A consumer process for the order tests: ``python -m tests.integration.backbone.order_consumer
DB_URL PREFIX PROCESS [batched]``. It consumes the test group ``effects`` through the ordering gate (the same
OrderGate that worker/group.py puts around every group) and records each applied event, with its
key and sequence, in ``test_applied`` — one row per effect, in the order they were applied.

The events say how to misbehave: a note ``retry`` fails its first attempt (a delayed retry), a
note ``park`` always fails (it is parked)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.broker.bus import Handler, Incoming, Park, RetryLater
from adapters.broker.rabbit import RabbitBus
from adapters.broker.topology import Group
from adapters.db.engine import make_engine
from tests.support.rabbit import AMQP_URL
from worker.consumer import InboxBatch, OrderGate, idempotent, idempotent_batch

applied_meta = MetaData()
applied = Table(
    "test_applied",
    applied_meta,
    Column("n", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("ordering_key", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("process", String(16), nullable=False),
)


def effects_group(prefix: str) -> Group:
    return Group("effects", ("case.#", "stage.#", "package.#"), retry_delays_ms=(100, 200), prefix=prefix)


def recorder(engine: AsyncEngine, group: Group, process: str) -> Handler:
    """The effect (inbox + one ``test_applied`` row), misbehaving as the events ask."""

    async def record(envelope: dict[str, Any], conn: AsyncConnection) -> None:
        await conn.execute(
            insert(applied).values(
                event_id=envelope["id"], ordering_key=envelope["ordering_key"], seq=envelope["seq"], process=process
            )
        )

    effect = idempotent(engine, group.name, record)

    async def handle(message: Incoming) -> None:
        note = json.loads(message.body)["data"].get("note")
        if note == "park":
            raise Park("这条消息无法处理")
        if note == "retry" and message.attempt == 0:
            raise RetryLater("第一次尝试失败")
        await effect(message)

    return handle


def batch_recorder(engine: AsyncEngine, group: Group, process: str) -> InboxBatch:
    """The effect for batches, misbehaving likewise: a batch holds only first attempts (the
    consumer takes a retried message alone), so a ``retry`` fails the batch as it fails its first
    attempt; the consumer then splits the batch down to the bad message."""

    async def record(envelope: dict[str, Any], conn: AsyncConnection) -> None:
        note = envelope["data"].get("note")
        if note == "park":
            raise Park("这条消息无法处理")
        if note == "retry":
            raise RetryLater("第一次尝试失败")
        await conn.execute(
            insert(applied).values(
                event_id=envelope["id"], ordering_key=envelope["ordering_key"], seq=envelope["seq"], process=process
            )
        )

    return idempotent_batch(engine, group.name, record)


async def consume(engine: AsyncEngine, bus: RabbitBus, prefix: str, process: str, batched: bool = False) -> Group:
    group = effects_group(prefix)
    gate = OrderGate(engine, group)
    batch = gate.batch(batch_recorder(engine, group, process)) if batched else None
    await bus.consume(group, gate.handler(recorder(engine, group, process)), batch)
    return group


async def main(db_url: str, prefix: str, process: str, batched: bool) -> None:
    engine = make_engine(db_url)
    bus = RabbitBus(AMQP_URL, prefix=prefix, publish_timeout=5.0)
    await bus.start()
    await consume(engine, bus, prefix, process, batched)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await bus.close()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:] == ["batched"]))
