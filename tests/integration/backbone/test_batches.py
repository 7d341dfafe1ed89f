"""Batches across cases on real PostgreSQL and RabbitMQ (adapters/broker/rabbit.py ``_Consumer``,
worker/consumer.py): a backlog of several cases is one transaction and one ``ack(multiple=True)``;
a message that must wait for its predecessor is held alone while the rest of its batch commits; a
bad message costs its neighbours only their half of the batch; and a channel that refuses the
retries of many messages in hand is renewed without a frame sent on it after its close."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from sqlalchemy import event, select

from adapters.broker.bus import Incoming, Outgoing, Park, RetryLater
from adapters.broker.rabbit import RabbitBus
from adapters.db.tables import outbox
from tests.support.rabbit import AMQP_URL, group
from worker.consumer import InboxBatch, OrderGate, idempotent
from worker.relay import OutboxRelay

from .conftest import commit_events, effect_count, effect_rows, numbered, record_effect

pytestmark = pytest.mark.integration


async def wait_for(predicate, timeout: float = 30.0, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(every)
    raise AssertionError("condition not reached in time")


class CountingBatch(InboxBatch):
    """The inbox batch, remembering the size of every batch it applied (committed or not)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sizes: list[int] = []

    async def within(self, conn, messages) -> None:
        await super().within(conn, messages)
        self.sizes.append(len(messages))


async def outgoing(engine, ids: list[str] | None = None) -> list[Outgoing]:
    """The committed events as the relay publishes them (all, or these ids in this order)."""
    async with engine.connect() as conn:
        rows = {r["id"]: r for r in (await conn.execute(select(outbox).order_by(outbox.c.seq))).mappings()}
    return [
        Outgoing(r["id"], r["type"], json.dumps(r["payload"]).encode(), r["ordering_key"], r["key_seq"])
        for r in (rows[i] for i in (ids if ids is not None else list(rows)))
    ]


async def event_ids(engine) -> dict[tuple[str, int], str]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.ordering_key, outbox.c.key_seq, outbox.c.id))
        return {(k, s): i for k, s, i in rows}


async def test_a_backlog_of_twelve_cases_is_one_transaction_and_one_multiple_ack(pg, prefix):
    await commit_events(pg, [numbered(f"case-{n:02d}", n) for n in range(1, 13)])
    b = RabbitBus(AMQP_URL, prefix=prefix, linger=0.5)  # long enough for the backlog to arrive
    await b.start()
    g = group(prefix)
    await b.declare(g)
    assert await OutboxRelay(pg, b).run_once() == 12
    begins: list[int] = []

    def began(conn) -> None:
        begins.append(1)

    event.listen(pg.sync_engine, "begin", began)
    gate = OrderGate(pg, g)
    batch = CountingBatch(pg, g.name, record_effect)
    try:
        await b.consume(g, gate.handler(idempotent(pg, g.name, record_effect)), gate.batch(batch))
        [consumer] = b._consumers

        async def acknowledged() -> bool:
            return consumer.ack_frames != (0, 0)

        await wait_for(acknowledged)
        # verdicts, inbox, effects and positions: one transaction; the twelve: one ack frame
        assert batch.sizes == [12] and len(begins) == 1
        assert consumer.ack_frames == (1, 0)
        assert await effect_count(pg) == 12
    finally:
        event.remove(pg.sync_engine, "begin", began)
        await b.close()
    again = RabbitBus(AMQP_URL, prefix=prefix)
    await again.start()
    try:
        assert await again.depth(g) == 0  # the one frame acknowledged all twelve
    finally:
        await again.close()


async def test_a_message_ahead_of_its_predecessor_is_held_alone_and_its_batch_commits(pg, prefix):
    await commit_events(pg, [numbered("case-a", 1), numbered("case-b", 1)])
    await commit_events(pg, [numbered("case-a", 2), numbered("case-b", 2)])
    ids = await event_ids(pg)
    b = RabbitBus(AMQP_URL, prefix=prefix, linger=0.5)
    await b.start()
    g = group(prefix)
    await b.declare(g)
    # case-b's first event comes late: its second is delivered with case-a's two
    await b.publish(await outgoing(pg, [ids["case-a", 2], ids["case-b", 2], ids["case-a", 1]]))
    gate = OrderGate(pg, g)
    batch = CountingBatch(pg, g.name, record_effect)
    try:
        await b.consume(g, gate.handler(idempotent(pg, g.name, record_effect)), gate.batch(batch))

        async def applied(n: int) -> bool:
            return await effect_count(pg) == n

        await wait_for(lambda: applied(2))
        assert batch.sizes[:1] == [2]  # case-a's two committed together, case-b's second held
        assert [(r.case_id, r.n) for r in await effect_rows(pg)] == [("case-a", 1), ("case-a", 2)]
        await b.publish(await outgoing(pg, [ids["case-b", 1]]))
        await wait_for(lambda: applied(4))
        rows = [(r.case_id, r.n) for r in await effect_rows(pg)]
        assert [n for c, n in rows if c == "case-b"] == [1, 2]
        assert await b.parked(g) == []
    finally:
        await b.close()


async def test_one_bad_message_costs_its_neighbours_only_their_half_of_the_batch(pg, prefix):
    await commit_events(pg, [numbered(f"case-{n:02d}", n) for n in range(1, 17)])
    b = RabbitBus(AMQP_URL, prefix=prefix, linger=0.5)
    await b.start()
    g = group(prefix, delays=(50,))
    await b.declare(g)
    assert await OutboxRelay(pg, b).run_once() == 16

    async def effect(envelope, conn):
        if envelope["data"]["note"] == "7":
            raise Park("第 7 条消息无法处理")
        await record_effect(envelope, conn)

    singles: list[str] = []
    single = idempotent(pg, g.name, effect)

    async def one(message: Incoming) -> None:
        singles.append(json.loads(message.body)["data"]["note"])
        await single(message)

    gate = OrderGate(pg, g)
    batch = CountingBatch(pg, g.name, effect)
    try:
        await b.consume(g, gate.handler(one), gate.batch(batch))
        await wait_for(lambda: _is(effect_count(pg), 15))
        await wait_for(lambda: _parked(b, g, 1))
        # the 16, in case order, fail (7 is bad): 1–4 commit, then 5–6; 7 and 8 go alone; 9–16 commit
        assert batch.sizes == [4, 2, 8]  # the batches whose effects all ran (the failing ones raise)
        assert singles == ["7", "8"]
        parked = await b.parked(g)
        assert [json.loads(m.body)["data"]["note"] for m in parked] == ["7"]
        assert sorted(r.n for r in await effect_rows(pg)) == [n for n in range(1, 17) if n != 7]
    finally:
        await b.close()


async def _is(value, expected) -> bool:
    return await value == expected


async def _parked(b: RabbitBus, g, count: int) -> bool:
    return len(await b.parked(g)) == count


@pytest.mark.parametrize("nodes", [1, 2])
async def test_a_channel_that_refuses_the_retries_of_many_messages_in_hand_is_renewed_and_all_apply(pg, prefix, nodes):
    """Twenty messages in hand fail their first attempt together, and the channel refuses their
    retries: the first refusal nacks its message and renews the channel; nothing more is sent on
    the old one (a frame on a closed channel would end the connection: CHANNEL_ERROR 504), the
    others come again on the new channel, and every message is applied once."""
    from aiormq.exceptions import DeliveryError
    from pamqp.commands import Basic

    await commit_events(pg, [numbered(f"case-{n:02d}", n) for n in range(1, 21)])
    # one URL: aio-pika's robust connection; two (the node twice): the supervisor's plain one
    b = RabbitBus([AMQP_URL] * nodes, prefix=prefix, publish_timeout=5.0, reconnect_interval=0.2, linger=0.2)
    await b.start()
    g = group(prefix)
    await b.declare(g)
    assert await OutboxRelay(pg, b).run_once() == 20
    apply = idempotent(pg, g.name, record_effect)

    async def first_attempt_fails(message: Incoming) -> None:
        if message.attempt == 0:
            await asyncio.sleep(0.01 * (hash(message.message_id) % 5))  # finish in a scattered order
            raise RetryLater("the first attempt fails")
        await apply(message)

    async def batch_fails(messages) -> None:
        raise RetryLater("the batch fails")

    transport = b.connection.transport
    try:
        await b.consume(g, first_attempt_fails, batch_fails)
        [consumer] = b._consumers
        refusing = consumer._channel
        assert refusing is not None

        async def refuse(*args, **kwargs):
            raise DeliveryError(None, Basic.Nack())

        refusing.default_exchange.publish = refuse  # type: ignore[method-assign]

        async def all_applied() -> bool:
            return await effect_count(pg) == 20

        await wait_for(all_applied, 60)
        assert consumer._channel is not refusing
        # the connection lived through the renewal (a frame on a closed channel would have ended it)
        assert b.connection.transport is transport and not b.connection.is_closed
        assert b.supervisor.failovers == 0
        assert await b.parked(g) == []
        rows = await effect_rows(pg)
        assert len(rows) == len({r.event_id for r in rows}) == 20
    finally:
        await b.close()


async def test_the_inbox_insert_is_one_prepared_statement_whatever_the_batch_size(pg):
    from datetime import UTC, datetime

    from sqlalchemy import text

    from worker.consumer import first_deliveries

    async with pg.connect() as conn:
        for round, size in enumerate((1, 5, 17, 5)):
            ids = [f"m-{round}-{n}" for n in range(size)]
            async with conn.begin():
                assert await first_deliveries(conn, "sizes", ids, datetime.now(UTC)) == set(ids)
        async with conn.begin():
            again = await first_deliveries(conn, "sizes", ["m-1-0", "m-2-16", "new"], datetime.now(UTC))
            assert again == {"new"}  # those seen before are not fresh
            prepared = (
                await conn.execute(
                    text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO inbox%'")
                )
            ).scalar_one()
    assert prepared == 1
