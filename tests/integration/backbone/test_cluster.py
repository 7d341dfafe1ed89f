"""A RabbitMQ cluster (DESIGN §8, §11): the pipeline — outbox rows committed in PostgreSQL, the
outbox relay, RabbitBus with every node's URL, a consumer group behind its inbox and the ordering
gate — runs on a private 3-node cluster with its queues replicated on all three, and the node that
leads the group's queue is killed (``kill -9``) mid-stream. Publisher and consumer fail over to a
live node; nothing is lost, no effect happens twice, every case's events are applied in order.

This test once stalled: after the kill the publisher's new channel on a surviving node, opened
while the queue elected its new leader, was refused (nacked) every message from then on, and the
relay sent them again on it until "broker did not confirm in time". The bus now sends what was
refused or left unconfirmed again on a new channel (adapters/broker/rabbit.py)."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, func, insert, select

from adapters.broker.bus import Outgoing
from adapters.broker.rabbit import RabbitBus
from adapters.db.outbox import write_outbox
from adapters.db.tables import outbox
from handoff.events import to_envelope
from tests.integration.backbone.order_consumer import effects_group
from tests.support.db import service_missing
from tests.support.rabbit_cluster import RabbitCluster, available
from worker.consumer import OrderGate, idempotent, idempotent_batch
from worker.relay import OutboxRelay

from .test_order import note

pytestmark = pytest.mark.integration

CASES, PER_CASE = 40, 20
KILL_AFTER = 300
"""Confirmed messages before the leader is killed."""

cluster_meta = MetaData()
cluster_applied = Table(
    "test_cluster_applied",
    cluster_meta,
    Column("n", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    # no unique key: a duplicated effect must show as a second row
    Column("event_id", String(64), nullable=False),
    Column("ordering_key", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
)


@pytest.fixture
async def cluster():
    if not available():
        service_missing("RabbitMQ (/usr/lib/rabbitmq/bin)", FileNotFoundError("rabbitmq-server"))
    nodes = RabbitCluster(Path(tempfile.mkdtemp(prefix="handoff-rmq-")), size=3)
    try:
        await asyncio.to_thread(nodes.start)
        yield nodes
    finally:
        await asyncio.to_thread(nodes.stop)


class Confirms:
    """The relay's publisher, timed: when each batch was confirmed and how many messages so far."""

    def __init__(self, bus: RabbitBus) -> None:
        self.bus = bus
        self.count = 0
        self.times: list[tuple[float, int]] = []

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        await self.bus.publish(messages)
        self.count += len(messages)
        self.times.append((time.monotonic(), self.count))


async def wait_for(predicate, timeout: float, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(every)
    raise AssertionError("condition not reached in time")


@dataclass
class Figures:
    killed_at: int
    """How many messages were confirmed when the node was killed."""
    recovery: float
    """Seconds from the last confirm before the kill to the first after it."""
    lost: int
    duplicated: int
    unpublished: int
    out_of_order: dict[str, list[int]]
    cases: int
    parked: int


class Pipeline:
    """Outbox rows in PostgreSQL → OutboxRelay → RabbitBus(urls) → the ``effects`` group behind its
    inbox and the ordering gate, recording each applied effect; the relay and the consumers each
    on a bus of their own, as in separate processes."""

    def __init__(self, pg, urls: list[str], prefix: str = "cluster") -> None:
        self.pg = pg
        self.group = effects_group(prefix)
        self.consumer_bus = RabbitBus(urls, prefix=prefix, publish_timeout=5.0, reconnect_interval=0.2)
        self.publisher_bus = RabbitBus(urls, prefix=prefix, publish_timeout=5.0, reconnect_interval=0.2)
        self.confirms = Confirms(self.publisher_bus)
        self.relay = OutboxRelay(pg, self.confirms, batch=50, poll_seconds=0.05, max_backoff=0.5)
        self._relay_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async with self.pg.begin() as conn:
            await conn.run_sync(cluster_meta.create_all)

        async def record(envelope, conn) -> None:
            await conn.execute(
                insert(cluster_applied).values(
                    event_id=envelope["id"], ordering_key=envelope["ordering_key"], seq=envelope["seq"]
                )
            )

        await self.consumer_bus.start()
        gate = OrderGate(self.pg, self.group)
        single, batch = idempotent(self.pg, self.group.name, record), idempotent_batch(self.pg, self.group.name, record)
        await self.consumer_bus.consume(self.group, gate.handler(single), gate.batch(batch))
        await self.publisher_bus.start()

    async def run(self, kill: Callable[[], Awaitable[None]]) -> Figures:
        """Commit the cases' events (interleaved over many commits) while the relay publishes them;
        ``kill`` once KILL_AFTER are confirmed; wait for every effect; count."""
        self._relay_task = asyncio.create_task(self.relay.run())
        confirms, killed_at = self.confirms, None
        for n in range(1, PER_CASE + 1):
            async with self.pg.begin() as conn:
                await write_outbox(conn, [note(f"case-{c}", n) for c in range(CASES)])
            self.relay.wake()
            if killed_at is None and n * CASES >= KILL_AFTER + 2 * CASES:
                await wait_for(lambda: _true(confirms.count >= KILL_AFTER), 30)
                killed_at = (time.monotonic(), confirms.count)
                await kill()
            await asyncio.sleep(0.05)
        assert killed_at is not None
        total = CASES * PER_CASE
        await wait_for(lambda: _applied_at_least(self.pg, total), 60, every=0.2)
        await wait_for(lambda: _true(confirms.count >= total), 30)
        await asyncio.sleep(1.0)  # late redeliveries, if any, would add rows now
        self.relay.stop()
        await self._relay_task
        self._relay_task = None

        kill_time, kill_number = killed_at
        before = max(t for t, _ in confirms.times if t <= kill_time)
        after = min(t for t, _ in confirms.times if t > kill_time)
        async with self.pg.connect() as conn:
            committed = set((await conn.execute(select(outbox.c.id))).scalars())
            unpublished = (
                await conn.execute(select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None)))
            ).scalar_one()
            rows = (
                await conn.execute(
                    select(cluster_applied.c.event_id, cluster_applied.c.ordering_key, cluster_applied.c.seq).order_by(
                        cluster_applied.c.n
                    )
                )
            ).all()
        applied_ids = [r.event_id for r in rows]
        by_case: dict[str, list[int]] = {}
        for row in rows:
            by_case.setdefault(row.ordering_key, []).append(row.seq)
        figures = Figures(
            killed_at=kill_number,
            recovery=after - before,
            lost=len(committed - set(applied_ids)),
            duplicated=len(applied_ids) - len(set(applied_ids)),
            unpublished=int(unpublished),
            out_of_order={k: v for k, v in by_case.items() if v != list(range(1, PER_CASE + 1))},
            cases=len(by_case),
            parked=len(await self.consumer_bus.parked(self.group)),
        )
        print(
            f"\nkilled at message {figures.killed_at} of {total}; recovered in {figures.recovery:.2f} s "
            f"(last confirm before the kill → first after); resent {self.publisher_bus.resent}; "
            f"lost {figures.lost}, duplicated {figures.duplicated}, cases out of order {len(figures.out_of_order)}"
        )
        return figures

    async def close(self) -> None:
        if self._relay_task is not None:
            self._relay_task.cancel()
            await asyncio.gather(self._relay_task, return_exceptions=True)
        await self.publisher_bus.close()
        await self.consumer_bus.close()


def assert_nothing_lost_twice_or_out_of_order(figures: Figures) -> None:
    assert (figures.lost, figures.duplicated, figures.unpublished, figures.parked) == (0, 0, 0, 0)
    assert figures.out_of_order == {}, str(list(figures.out_of_order.items())[:2])
    assert figures.cases == CASES


async def test_killing_the_leader_of_the_queue_mid_stream_loses_repeats_and_reorders_nothing(pg, cluster):
    pipeline = Pipeline(pg, cluster.urls)
    try:
        await pipeline.start()
        group = pipeline.group
        queues = {q["name"]: q for q in await asyncio.to_thread(cluster.queues)}
        assert set(group.queues) <= set(queues)
        node_names = {n.name for n in cluster.nodes}
        for name in group.queues:  # the retry and hold queues too: a classic one would die with its node
            assert queues[name]["type"] == "quorum" and set(queues[name]["members"]) == node_names, queues[name]
        leader = cluster.node_named(queues[group.queue]["leader"])

        async def kill_leader() -> None:
            cluster.kill(leader)

        figures = await pipeline.run(kill_leader)
        print(
            f"leader {leader.name} killed; failovers: publisher {pipeline.publisher_bus.supervisor.failovers}, "
            f"consumer {pipeline.consumer_bus.supervisor.failovers}"
        )
        # both were connected to the leader (the queue is led by the node its declarer is on)
        assert pipeline.publisher_bus.supervisor.failovers >= 1 and pipeline.consumer_bus.supervisor.failovers >= 1
        assert_nothing_lost_twice_or_out_of_order(figures)
    finally:
        await pipeline.close()


@pytest.fixture
async def single_node():
    if not available():
        service_missing("RabbitMQ (/usr/lib/rabbitmq/bin)", FileNotFoundError("rabbitmq-server"))
    nodes = RabbitCluster(Path(tempfile.mkdtemp(prefix="handoff-rmq-")), size=1)
    try:
        await asyncio.to_thread(nodes.start)
        yield nodes
    finally:
        await asyncio.to_thread(nodes.stop)


async def test_with_one_url_the_bus_reconnects_to_its_node_after_a_kill_and_restart_and_loses_nothing(pg, single_node):
    [node] = single_node.nodes
    pipeline = Pipeline(pg, [node.url])
    try:
        await pipeline.start()

        async def kill_and_restart() -> None:
            single_node.kill(node)
            await asyncio.to_thread(single_node.restart, node)

        figures = await pipeline.run(kill_and_restart)
        assert pipeline.publisher_bus.supervisor.failovers == 0  # aio-pika's robust connection did it
        assert_nothing_lost_twice_or_out_of_order(figures)
    finally:
        await pipeline.close()


async def _true(value: bool) -> bool:
    return value


async def _applied_at_least(engine, count: int) -> bool:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(cluster_applied))).scalar_one()) >= count


async def test_a_node_that_does_not_answer_is_passed_over_for_the_next_one_in_the_list(pg, prefix):
    from tests.support.rabbit import AMQP_URL, group
    from tests.support.rabbit_cluster import spare_port

    from .conftest import commit_events, effect_count, numbered, record_effect

    down = f"amqp://guest:guest@127.0.0.1:{spare_port()}/"  # nothing listens there
    b = RabbitBus([down, AMQP_URL], prefix=prefix, publish_timeout=5.0, reconnect_interval=0.2)
    await b.start()
    try:
        assert b.supervisor.node == AMQP_URL and b.connected
        g = group(prefix)
        await b.consume(g, idempotent(pg, g.name, record_effect))
        await commit_events(pg, [numbered("case-a", 1), numbered("case-a", 2)])
        assert await OutboxRelay(pg, b).run_once() == 2

        async def both() -> bool:
            return await effect_count(pg) == 2

        await wait_for(both, 20)
    finally:
        await b.close()


async def test_a_consumer_whose_channel_refuses_its_retries_consumes_on_a_new_channel_and_applies_the_message(
    pg, prefix
):
    """The consumer's side of the stalled channel: one that nacks every retry it publishes (as a
    channel opened during a leader election does) would send the message round until its delivery
    limit parks it; the consumer takes a new channel instead."""
    from aiormq.exceptions import DeliveryError
    from pamqp.commands import Basic

    from adapters.broker.bus import Incoming, RetryLater
    from tests.support.rabbit import AMQP_URL, group

    from .conftest import commit_events, effect_count, numbered, record_effect

    b = RabbitBus(AMQP_URL, prefix=prefix, publish_timeout=5.0, reconnect_interval=0.2)
    await b.start()
    try:
        g = group(prefix)
        apply = idempotent(pg, g.name, record_effect)

        async def first_attempt_fails(message: Incoming) -> None:
            if message.attempt == 0:
                raise RetryLater("the first attempt fails")
            await apply(message)

        await b.consume(g, first_attempt_fails)
        [consumer] = b._consumers
        refusing = consumer._channel
        assert refusing is not None

        async def refuse(*args, **kwargs):
            raise DeliveryError(None, Basic.Nack())

        refusing.default_exchange.publish = refuse  # type: ignore[method-assign]
        await commit_events(pg, [numbered("case-a", 1)])
        assert await OutboxRelay(pg, b).run_once() == 1

        async def applied() -> bool:
            return await effect_count(pg) == 1

        await wait_for(applied, 20)
        assert consumer._channel is not refusing
        assert await b.parked(g) == []
    finally:
        await b.close()


@pytest.mark.parametrize("nodes", [1, 2])
async def test_a_publishing_channel_that_refuses_is_not_used_again(pg, prefix, nodes):
    """The publisher's side: a channel that nacks everything (as one opened during a leader
    election does) is dropped. With several URLs (here the one node listed twice) the batch is
    sent again on a new channel within the same call; with one URL the call fails and the next
    batch goes out on a new channel."""
    from aiormq.exceptions import DeliveryError
    from pamqp.commands import Basic

    from adapters.broker.rabbit import PublishFailed
    from tests.support.rabbit import AMQP_URL, group

    from .conftest import effect_count, numbered, record_effect

    b = RabbitBus([AMQP_URL] * nodes, prefix=prefix, publish_timeout=5.0, reconnect_interval=0.2)
    await b.start()
    try:
        g = group(prefix)
        await b.consume(g, idempotent(pg, g.name, record_effect))
        stale = b._publish_channel
        assert stale is not None

        class Refusing:
            async def publish(self, *args, **kwargs):
                raise DeliveryError(None, Basic.Nack())

        async def refusing_exchange(*args, **kwargs):
            return Refusing()

        stale.get_exchange = refusing_exchange  # type: ignore[method-assign]

        def outgoing(n: int) -> Outgoing:
            body = {**to_envelope(numbered("case-a", n)), "ordering_key": "case-a", "seq": n}
            return Outgoing(
                message_id=body["id"],
                routing_key=body["type"],
                body=json.dumps(body).encode(),
                ordering_key="case-a",
                seq=n,
            )

        if nodes == 1:
            with pytest.raises(PublishFailed):
                await b.publish([outgoing(1)])
            await b.publish([outgoing(1)])
        else:
            await b.publish([outgoing(1)])
            assert b.resent == 1
        assert b._publish_channel is not stale

        async def applied() -> bool:
            return await effect_count(pg) == 1

        await wait_for(applied, 20)
    finally:
        await b.close()
