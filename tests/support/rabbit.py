"""RabbitMQ for integration tests: a unique name prefix per test (so runs never collide) and the
queues and exchange deleted afterwards. With CI=true an unreachable broker fails the test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika

from adapters.broker.rabbit import RabbitBus
from adapters.broker.topology import Group, exchange_name
from tests.support.db import service_missing

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


async def rabbit_prefix() -> AsyncIterator[str]:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    try:
        connection = await aio_pika.connect(AMQP_URL, timeout=5)
    except (OSError, aio_pika.exceptions.AMQPConnectionError) as exc:
        service_missing("RabbitMQ on 127.0.0.1:5672", exc)
        raise
    await connection.close()
    try:
        yield prefix
    finally:
        await cleanup(prefix)


TEST_GROUPS: list[Group] = []


async def cleanup(prefix: str) -> None:
    connection = await aio_pika.connect(AMQP_URL, timeout=5)
    try:
        for group in [g for g in TEST_GROUPS if g.prefix == prefix]:
            for name in group.queues:
                channel = await connection.channel()
                try:
                    await channel.queue_delete(name)
                except Exception:
                    pass
                if not channel.is_closed:
                    await channel.close()
        channel = await connection.channel()
        try:
            await channel.exchange_delete(exchange_name(prefix))
        except Exception:
            pass
    finally:
        await connection.close()


def group(prefix: str, name: str = "effects", delays: tuple[int, ...] = (50, 100, 200), prefetch: int = 64) -> Group:
    g = Group(name, ("case.#", "stage.#", "package.#"), retry_delays_ms=delays, prefix=prefix, prefetch=prefetch)
    TEST_GROUPS.append(g)
    return g


def bus(prefix: str) -> RabbitBus:
    return RabbitBus(AMQP_URL, prefix=prefix, publish_timeout=5.0)
