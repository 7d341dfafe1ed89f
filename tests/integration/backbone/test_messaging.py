"""The backbone on real PostgreSQL and RabbitMQ: nothing lost, nothing twice, retries, parking,
order per case, and a broker restart in the middle of a stream."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import time

import pytest

from adapters.broker.bus import Incoming, Outgoing, RetryLater
from tests.support.rabbit import bus, group
from worker.consumer import idempotent
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


async def test_a_crash_after_commit_and_before_publish_loses_nothing(pg, prefix):
    await commit_events(pg, [numbered("case-a", 1), numbered("case-a", 2)])
    # The process "crashed" here: committed, never published. A new process starts:
    b = bus(prefix)
    await b.start()
    g = group(prefix)
    await b.consume(g, idempotent(pg, g.name, record_effect))
    relay = OutboxRelay(pg, b)
    assert await relay.run_once() == 2
    await wait_for(lambda: _count(pg, 2))
    assert [r.n for r in await effect_rows(pg)] == [1, 2]
    assert await relay.run_once() == 0
    await b.close()


async def _count(engine, n):
    return await effect_count(engine) == n


async def test_a_message_delivered_twice_has_its_effect_once(pg, prefix):
    b = bus(prefix)
    await b.start()
    g = group(prefix)
    await b.declare(g)
    envelope = {"id": "msg-1", "type": "case.copied_to_lead", "case_id": "case-b", "data": {"note": "7"}}
    body = json.dumps(envelope).encode()
    twice = [Outgoing("msg-1", "case.copied_to_lead", body, "case-b")] * 2
    await b.publish(twice)
    seen = []
    effect = idempotent(pg, g.name, record_effect)

    async def counting(message: Incoming) -> None:
        seen.append(message.message_id)
        await effect(message)

    await b.consume(g, counting)
    await wait_for(lambda: _true(len(seen) == 2))
    await asyncio.sleep(0.2)
    assert await effect_count(pg) == 1
    await b.close()


async def _true(value):
    return value


async def test_a_failing_handler_is_retried_with_growing_delays_then_parked_and_replayed(pg, prefix):
    b = bus(prefix)
    await b.start()
    g = group(prefix, delays=(100, 300, 600))
    attempts: list[float] = []
    healthy = {"yes": False}
    effect = idempotent(pg, g.name, record_effect)

    async def flaky(message: Incoming) -> None:
        if not healthy["yes"]:
            attempts.append(time.monotonic())
            raise RetryLater("短信服务商暂时不可用")
        await effect(message)

    await b.consume(g, flaky)
    await commit_events(pg, [numbered("case-c", 1)])
    await OutboxRelay(pg, b).run_once()
    parked = []

    async def is_parked():
        parked[:] = await b.parked(g)
        return len(parked) == 1

    await wait_for(is_parked, 20)
    assert len(attempts) == 4  # the first try and three retries
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.29 and gaps[2] >= 0.59
    assert gaps[0] < gaps[1] < gaps[2]
    assert "短信服务商暂时不可用" in str(parked[0].headers["x-handoff-last-error"])
    assert await effect_count(pg) == 0

    healthy["yes"] = True
    assert await b.replay(g) == 1
    await wait_for(lambda: _count(pg, 1))
    assert await b.parked(g) == []
    await b.close()


async def test_the_events_of_one_case_arrive_in_order_with_two_relays(pg, prefix):
    cases, per_case = 40, 25
    b = bus(prefix)
    await b.start()
    g = group(prefix)
    await b.consume(g, idempotent(pg, g.name, record_effect))
    # Interleave the cases' events over many commits, as real traffic does.
    for n in range(1, per_case + 1):
        await commit_events(pg, [numbered(f"case-{c}", n) for c in range(cases)])
    relays = [OutboxRelay(pg, b, batch=37, poll_seconds=0.05) for _ in range(2)]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    await wait_for(lambda: _count(pg, cases * per_case), 60)
    for r in relays:
        r.stop()
    await asyncio.gather(*tasks)
    assert all(r.published > 0 for r in relays), [r.published for r in relays]
    by_case: dict[str, list[int]] = {}
    for row in await effect_rows(pg):
        by_case.setdefault(row.case_id, []).append(row.n)
    wrong = {k: v for k, v in by_case.items() if v != list(range(1, per_case + 1))}
    assert wrong == {}, str(list(wrong.items())[:2])
    await b.close()


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


async def test_a_rabbitmq_restart_in_the_middle_of_ten_thousand_events_loses_and_repeats_nothing(pg, prefix):
    total = 10_000
    b = bus(prefix)
    await b.start()
    g = group(prefix, prefetch=200)
    await b.consume(g, idempotent(pg, g.name, record_effect))
    relay = OutboxRelay(pg, b, batch=250, poll_seconds=0.05, max_backoff=1.0)
    relay_task = asyncio.create_task(relay.run())
    for chunk in range(0, total, 500):
        await commit_events(pg, [numbered(f"case-{(chunk + i) % 300}", chunk + i) for i in range(500)])
        if chunk == 3_000:
            await asyncio.to_thread(rabbitmqctl, "stop_app")
        if chunk == 5_000:
            await asyncio.to_thread(rabbitmqctl, "start_app")
            await asyncio.to_thread(rabbitmqctl, "await_startup")
    await wait_for(lambda: _count(pg, total), 240, every=0.5)
    relay.stop()
    await relay_task
    rows = await effect_rows(pg)
    assert len(rows) == len({r.event_id for r in rows}) == total
    await b.close()


async def test_a_batch_with_one_bad_message_commits_the_others_and_parks_the_bad_one(pg, prefix):
    from adapters.broker.bus import Park
    from worker.consumer import idempotent_batch

    b = bus(prefix)
    await b.start()
    g = group(prefix, delays=(50,))

    async def effect(envelope, conn):
        if envelope["data"]["note"] == "13":
            raise Park("第 13 条消息无法处理")
        await record_effect(envelope, conn)

    await b.declare(g)  # a backlog, so that the lanes take batches
    await commit_events(pg, [numbered(f"case-{n % 3}", n) for n in range(1, 31)])
    await OutboxRelay(pg, b, batch=30).run_once()
    batched = idempotent_batch(pg, g.name, effect)
    committed_batches = []

    async def counting(messages):
        await batched(messages)
        committed_batches.append(len(messages))

    await b.consume(g, idempotent(pg, g.name, effect), counting)
    await wait_for(lambda: _count(pg, 29), 20)
    assert committed_batches and max(committed_batches) > 1  # the batch path ran, not only the fallback
    parked = await b.parked(g)
    assert [json.loads(m.body)["data"]["note"] for m in parked] == ["13"]
    assert sorted(r.n for r in await effect_rows(pg)) == [n for n in range(1, 31) if n != 13]
    await b.close()
