"""Order by the data (DESIGN §8): every event carries its place in its case's stream, numbered at
commit; every consumer applies a case's events in that order whatever arrives first — messages
published in shuffled order, three competing processes, one of them killed, redeliveries,
retries through the delay queues — and a parked message lets its successors go on, with the gap
recorded, until it is replayed."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import pytest
from sqlalchemy import func, select, text

from adapters.broker.bus import Hold, Incoming, Outgoing
from adapters.broker.memory import MemoryBus
from adapters.broker.topology import Group
from adapters.db.outbox import write_outbox
from adapters.db.positions import gaps
from adapters.db.tables import outbox
from adapters.db.worker_tables import consumer_positions
from cli.admin import parked_report
from handoff import events as ev
from tests.support.rabbit import AMQP_URL, TEST_GROUPS, bus
from worker.consumer import BatchEffects, OrderGate, idempotent_batch

from .conftest import effect_count, effect_rows, record_effect
from .order_consumer import applied, applied_meta, consume, effects_group, recorder

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def note(case_id: str, n: object) -> ev.Event:
    return ev.CaseCopiedToLead(occurred_at=datetime.now(UTC), actor="test", case_id=case_id, lead="l", note=str(n))


def moved(case_id: str, place: str) -> ev.Event:
    return ev.PackageInTransit(
        occurred_at=datetime.now(UTC), actor="test", case_id=case_id, package_id=f"{case_id}-p", place=place
    )


async def create_applied(engine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(applied_meta.create_all)


async def commit_cases(engine, cases: int, per_case: int, special: dict[tuple[int, int], str] | None = None) -> None:
    """Each case's events over several commits, interleaved with the other cases' (as traffic is)."""
    special = special or {}
    for n in range(1, per_case + 1):
        async with engine.begin() as conn:
            await write_outbox(conn, [note(f"case-{c}", special.get((c, n), n)) for c in range(cases)])


async def shuffled_outbox(engine, seed: int = 7) -> list[Outgoing]:
    async with engine.connect() as conn:
        rows = list((await conn.execute(select(outbox).order_by(outbox.c.seq))).mappings())
    messages = [
        Outgoing(
            message_id=r["id"],
            routing_key=r["type"],
            body=json.dumps(r["payload"]).encode(),
            ordering_key=r["ordering_key"],
            seq=r["key_seq"],
        )
        for r in rows
    ]
    random.Random(seed).shuffle(messages)
    return messages


async def applied_by_key(engine) -> dict[str, list[int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(applied.c.ordering_key, applied.c.seq).order_by(applied.c.n))
        by_key: dict[str, list[int]] = {}
        for key, seq in rows:
            by_key.setdefault(key, []).append(seq)
        return by_key


async def applied_count(engine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM test_applied"))).scalar_one())


async def wait_for(predicate, timeout: float = 60.0, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(every)
    raise AssertionError("condition not reached in time")


def out_of_order(by_key: dict[str, list[int]], expected: list[int]) -> dict[str, list[int]]:
    return {k: v for k, v in by_key.items() if v != expected}


# =========================================================================== numbering


async def test_a_case_s_events_and_its_packages_events_are_numbered_one_by_one_in_commit_order(pg, lite):
    for engine in (pg, lite):
        async with engine.begin() as conn:
            await write_outbox(conn, [note("case-a", 1), moved("case-a", "深圳"), note("case-b", 1)])
        async with engine.begin() as conn:
            await write_outbox(conn, [moved("case-a", "汕尾")])
        calendar = ev.CalendarUpdated(occurred_at=datetime.now(UTC), actor="admin", year=2027, source="通知")
        async with engine.connect() as conn:
            transaction = await conn.begin()
            await write_outbox(conn, [note("case-a", "rolled back")])
            await transaction.rollback()
        async with engine.begin() as conn:
            await write_outbox(conn, [note("case-a", 4), calendar])
        async with engine.connect() as conn:
            rows = (await conn.execute(select(outbox).order_by(outbox.c.seq))).mappings().all()
        assert [(r["ordering_key"], r["key_seq"]) for r in rows] == [
            ("case-a", 1),
            ("case-a", 2),
            ("case-b", 1),
            ("case-a", 3),
            ("case-a", 4),  # the rolled-back transaction gave its number back
            (calendar.event_id, 1),  # no case, no package: a stream of its own
        ]
        assert all(r["payload"]["seq"] == r["key_seq"] for r in rows)
        assert all(r["payload"]["ordering_key"] == r["ordering_key"] for r in rows)


async def test_concurrent_writers_of_one_case_get_its_numbers_in_the_order_they_commit(pg):
    async def writer(n: int) -> None:
        async with pg.begin() as conn:
            await write_outbox(conn, [note("case-busy", n)])
            await asyncio.sleep(random.random() / 50)  # still holding the case's counter

    await asyncio.gather(*(writer(n) for n in range(24)))
    async with pg.connect() as conn:
        rows = (await conn.execute(select(outbox.c.key_seq).order_by(outbox.c.seq))).scalars().all()
    assert rows == list(range(1, 25))


# =========================================================================== RabbitMQ, three processes


def start_consumer(pg, prefix: str, name: str, log: Path, batched: bool = False) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "a", encoding="utf-8") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.backbone.order_consumer",
                pg.url.render_as_string(hide_password=False),
                prefix,
                name,
                *(["batched"] if batched else []),
            ],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    return process


async def wait_ready(log: Path, count: int, processes) -> None:
    async def ready():
        assert all(p.poll() is None for p in processes), log.read_text(encoding="utf-8")
        return log.read_text(encoding="utf-8").count("ready") >= count

    await wait_for(ready, 30)


@pytest.mark.parametrize("batched", [False, True], ids=["one-by-one", "batched"])
async def test_three_processes_apply_every_case_in_sequence_whatever_order_the_messages_come_in(
    pg, prefix, tmp_path, batched
):
    cases, per_case = 40, 6
    await create_applied(pg)
    group = effects_group(prefix)
    TEST_GROUPS.append(group)
    # some events fail their first attempt: they come back through the delay queues, after
    # their successors
    retries = {(c, 1 + c % per_case): "retry" for c in range(0, cases, 3)}
    await commit_cases(pg, cases, per_case, retries)
    b = bus(prefix)
    await b.start()
    await b.declare(group)
    await b.publish(await shuffled_outbox(pg))

    # a client takes 60 messages and holds them unacknowledged (as a consumer that hangs does)
    grabber = await aio_pika.connect(AMQP_URL)
    channel = await grabber.channel()
    await channel.set_qos(prefetch_count=60)
    taken: list[aio_pika.abc.AbstractIncomingMessage] = []
    queue = await channel.get_queue(group.queue)

    async def take(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        taken.append(message)

    await queue.consume(take)
    await wait_for(lambda: _true(len(taken) == 60), 10)

    log = tmp_path / "consumers.log"
    processes = [start_consumer(pg, prefix, f"p{n}", log, batched) for n in range(3)]
    try:
        await wait_ready(log, 3, processes)
        total = cases * per_case

        async def some_applied():
            return await applied_count(pg) >= total // 4

        await wait_for(some_applied)
        # one process dies with messages in hand (redelivered to the others) ...
        processes[0].send_signal(signal.SIGKILL)
        processes[0].wait(timeout=10)
        processes[0] = start_consumer(pg, prefix, "p3", log, batched)
        await wait_ready(log, 4, processes)
        # ... and the client gives its 60 back (nack, requeue): redelivered, long after their
        # successors came
        for message in taken:
            await message.nack(requeue=True)
        await channel.close()
        await grabber.close()

        async def all_applied():
            return await applied_count(pg) == total

        await wait_for(all_applied, 120)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)

    by_key = await applied_by_key(pg)
    assert len(by_key) == cases
    assert out_of_order(by_key, list(range(1, per_case + 1))) == {}
    async with pg.connect() as conn:
        processes_used = (await conn.execute(select(applied.c.process).distinct())).scalars().all()
    assert len(processes_used) >= 3  # the processes really competed
    assert await b.parked(group) == []
    await b.close()


async def _true(value):
    return value


# =========================================================================== parking leaves a gap


async def test_a_parked_message_lets_its_successors_go_on_with_the_gap_recorded_and_is_applied_when_replayed(
    pg, prefix
):
    await create_applied(pg)
    await commit_cases(pg, 3, 5, {(1, 3): "park"})
    b = bus(prefix)
    await b.start()
    group = effects_group(prefix)
    TEST_GROUPS.append(group)
    await b.declare(group)
    await b.publish(await shuffled_outbox(pg, seed=3))
    await consume(pg, b, prefix, "p0")

    async def the_others_applied():
        return await applied_count(pg) == 14

    await wait_for(the_others_applied, 30)
    by_key = await applied_by_key(pg)
    assert by_key["case-1"] == [1, 2, 4, 5]
    assert by_key["case-0"] == by_key["case-2"] == [1, 2, 3, 4, 5]
    parked = await b.parked(group)
    assert [json.loads(m.body)["seq"] for m in parked] == [3]
    async with pg.connect() as conn:
        [gap] = await gaps(conn, consumer="effects")
    assert (gap["ordering_key"], gap["seq"], gap["case_id"], gap["replayed_at"]) == ("case-1", 3, "case-1", None)
    assert "这条消息无法处理" in gap["reason"]
    [line] = await parked_report(b, pg, group, 100)  # what `handoff parked list` prints
    assert (line["case_id"], line["seq"], line["gap"], line["type"]) == ("case-1", 3, True, "case.copied_to_lead")
    assert "这条消息无法处理" in line["last_error"]

    # the cause is fixed (a new consumer that handles it), and an admin replays: the message is
    # applied, behind its successors
    await b.close()
    b = bus(prefix)
    await b.start()
    gate = OrderGate(pg, group)
    await b.consume(group, gate.handler(_ignoring_park(recorder(pg, group, "p1"))))
    assert await b.replay(group) == 1

    async def replayed():
        return await applied_count(pg) == 15

    await wait_for(replayed, 30)
    assert (await applied_by_key(pg))["case-1"] == [1, 2, 4, 5, 3]
    async with pg.connect() as conn:
        [gap] = await gaps(conn, consumer="effects")
        assert gap["replayed_at"] is not None
        assert await gaps(conn, consumer="effects", open_only=True) == []
    assert await b.parked(group) == []
    await b.close()


def _ignoring_park(handler):
    """The same effect, its cause fixed: a ``park`` note is applied like any other."""

    async def handle(message: Incoming) -> None:
        envelope = json.loads(message.body)
        if envelope["data"]["note"] == "park":
            envelope["data"]["note"] = "fixed"
            message = Incoming(
                message.message_id,
                message.routing_key,
                json.dumps(envelope).encode(),
                message.ordering_key,
                message.attempt,
                message.headers,
                message.seq,
            )
        await handler(message)

    return handle


# =========================================================================== what a group does not receive


async def test_a_group_that_receives_only_some_of_a_case_s_events_does_not_wait_for_the_others(pg, prefix):
    """The logistics group sees a case's package events only: the case's other events between
    two of them are not predecessors it could wait for."""
    await create_applied(pg)
    for n in range(1, 7):
        async with pg.begin() as conn:
            await write_outbox(conn, [note(f"case-{c}", n) if n % 2 else moved(f"case-{c}", str(n)) for c in range(5)])
    b = bus(prefix)
    await b.start()
    group = Group("packages", ("package.#",), retry_delays_ms=(100,), prefix=prefix)
    TEST_GROUPS.append(group)
    await b.declare(group)
    await b.publish(await shuffled_outbox(pg, seed=11))
    gate = OrderGate(pg, group)
    await b.consume(group, gate.handler(recorder(pg, group, "p0")))

    async def done():
        return await applied_count(pg) == 15

    await wait_for(done, 30)
    assert out_of_order(await applied_by_key(pg), [2, 4, 6]) == {}
    await b.close()


# =========================================================================== batches


async def test_a_batching_group_gets_each_case_s_events_in_sequence_within_and_across_batches(pg, prefix):
    await create_applied(pg)
    await commit_cases(pg, 4, 12)
    b = bus(prefix)
    await b.start()
    group = effects_group(prefix)
    TEST_GROUPS.append(group)
    await b.declare(group)
    await b.publish(await shuffled_outbox(pg, seed=5))  # a shuffled backlog: the lanes take batches
    handler = recorder(pg, group, "p0")
    batches: list[int] = []

    async def record(envelope, conn):
        await conn.execute(
            applied.insert().values(
                event_id=envelope["id"], ordering_key=envelope["ordering_key"], seq=envelope["seq"], process="batch"
            )
        )

    batched = idempotent_batch(pg, group.name, record)

    async def counting(messages):
        await batched(messages)
        batches.append(len(messages))

    gate = OrderGate(pg, group)
    await b.consume(group, gate.handler(handler), gate.batch(counting))

    async def done():
        return await applied_count(pg) == 48

    await wait_for(done, 30)
    assert batches and max(batches) > 1
    assert out_of_order(await applied_by_key(pg), list(range(1, 13))) == {}
    await b.close()


# =========================================================================== the in-process bus


async def test_the_in_process_bus_applies_every_case_in_sequence_with_retries_and_shuffled_input(lite):
    await create_applied(lite)
    await commit_cases(lite, 10, 5, {(c, 2): "retry" for c in range(0, 10, 2)})
    b = MemoryBus()
    group = Group("effects", ("case.#",), retry_delays_ms=(100,), hold_delays_ms=(20, 50, 100))
    gate = OrderGate(lite, group)
    await b.consume(group, gate.handler(recorder(lite, group, "mem")))
    await b.publish(await shuffled_outbox(lite, seed=9))

    async def done():
        return await applied_count(lite) == 50

    await wait_for(done, 30)
    assert out_of_order(await applied_by_key(lite), [1, 2, 3, 4, 5]) == {}
    assert await b.parked(group) == []
    await b.close()


async def test_a_message_ahead_of_its_predecessor_is_held_and_one_already_applied_is_ignored(lite):
    await commit_cases(lite, 1, 2)
    gate = OrderGate(lite, effects_group("t"))
    seen: list[int] = []

    async def not_idempotent(message: Incoming) -> None:
        seen.append(json.loads(message.body)["seq"])

    handle = gate.handler(not_idempotent)
    first, second = [
        Incoming(o.message_id, o.routing_key, o.body, o.ordering_key, seq=o.seq)
        for o in sorted(await shuffled_outbox(lite), key=lambda o: o.seq or 0)
    ]
    with pytest.raises(Hold):
        await handle(second)
    for message in [first, second, first, second]:
        await handle(message)
    assert seen == [1, 2]


# =========================================================================== real `handoff worker` processes


async def test_three_handoff_worker_processes_send_every_case_s_sms_in_the_order_of_its_events(pg, prefix, tmp_path):
    """Cases driven through the real commands; their committed events published in shuffled order
    to three `handoff worker --group notifications` processes: each case's SMS are written in the
    order of the events that caused them."""
    from adapters.broker.topology import groups
    from adapters.db import domain_tables as t
    from adapters.db.tables import inbox
    from tests.e2e.test_worker_process import start_worker
    from tests.integration.workers.conftest import make_world
    from worker.notifications import PLANS

    world = await make_world(pg)
    cases = []
    for n in range(30):
        case_id = await world.register(applicant_phone=f"139{n:08d}")
        await world.to_department(case_id)
        await world.case("accept", case_id)
        await world.case("decide", case_id, outcome="approved", opinion="同意")
        cases.append(case_id)
    notifications = groups(prefix)["notifications"]
    TEST_GROUPS.append(notifications)
    async with pg.connect() as conn:
        rows = (await conn.execute(select(outbox.c.ordering_key, outbox.c.key_seq, outbox.c.type, outbox.c.id))).all()
    seq_of = {event_id: seq for _, seq, _, event_id in rows}
    planned = sum(1 for _, _, kind, _ in rows if kind in PLANS)  # each leaves one inbox row

    b = bus(prefix)
    await b.start()
    await b.declare(notifications)
    await b.publish(await shuffled_outbox(pg, seed=15))
    workers = [start_worker(pg, prefix, tmp_path / f"sms{n}.jsonl", tmp_path / f"worker{n}.log") for n in range(3)]
    try:

        async def every_case_done():
            async with pg.connect() as conn:
                handled = await conn.execute(select(func.count()).where(inbox.c.consumer == "notifications"))
                return handled.scalar_one() == planned

        await wait_for(every_case_done, 180, every=0.2)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=30)

    async with pg.connect() as conn:
        sms = (
            await conn.execute(
                select(t.notifications.c.case_id, t.notifications.c.event_id, t.notifications.c.template_key).order_by(
                    t.notifications.c.created_at
                )
            )
        ).all()
    by_case: dict[str, list[tuple[int, str]]] = {}
    for case_id, event_id, template in sms:
        if event_id in seq_of:  # a batch SMS is keyed by its batch, not by one event
            by_case.setdefault(case_id, []).append((seq_of[event_id], template))
    assert set(by_case) == set(cases)
    wrong = {c: v for c, v in by_case.items() if [s for s, _ in v] != sorted(s for s, _ in v)}
    assert wrong == {}, list(wrong.items())[:2]
    applicant = [template for _, template in by_case[cases[0]]]
    assert (
        applicant[0] == "receipt"
        and "accepted" in applicant
        and applicant.index("accepted") < applicant.index("decided")
    )
    assert await b.parked(notifications) == []
    await b.close()


# =========================================================================== one transaction per batch


class Conflict(Exception):
    """What SQLAlchemy raises for a deadlock PostgreSQL broke (SQLSTATE 40P01)."""

    sqlstate = "40P01"


async def _positions(engine, consumer: str) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(consumer_positions.c.ordering_key, consumer_positions.c.last_seq).where(
                consumer_positions.c.consumer == consumer
            )
        )
        return {str(k): int(v) for k, v in rows}


async def test_a_transactional_batch_commits_its_effects_with_the_positions_and_a_deadlock_reruns_both(pg):
    """The projections' and deadlines' batches (worker/consumer.py ``TransactionalBatch``): the gate's
    verdicts, the batch's effects and the positions are one transaction. A deadlock met by the
    effects reruns all of it (nothing of the first try stays); a failure commits nothing, so the
    batch can be split and tried again without a position claiming an effect that did not commit."""
    await commit_cases(pg, 2, 2)
    messages = [
        Incoming(o.message_id, o.routing_key, o.body, o.ordering_key, seq=o.seq)
        for o in sorted(await shuffled_outbox(pg), key=lambda o: (o.ordering_key or "", o.seq or 0))
    ]
    group = effects_group("t")
    gate = OrderGate(pg, group)
    tries = {"n": 0, "fail": "conflict"}
    before: list[int] = []

    async def prepare(batch) -> None:
        before.append(len(batch))

    async def effects(conn, batch) -> None:
        tries["n"] += 1
        for message in batch:
            await record_effect(json.loads(message.body), conn)
        if tries["fail"] == "conflict" and tries["n"] == 1:
            raise Conflict("deadlock detected")
        if tries["fail"] == "bug":
            raise RuntimeError("a bug in the effects")

    handle = gate.batch(BatchEffects(pg, effects, prepare, what="test batch"))
    await handle(messages)
    assert tries["n"] == 2 and before == [4]  # run again whole; the work outside it once
    assert sorted((r.case_id, r.n) for r in await effect_rows(pg)) == [
        ("case-0", 1),
        ("case-0", 2),
        ("case-1", 1),
        ("case-1", 2),
    ]
    assert await _positions(pg, group.name) == {"case-0": 2, "case-1": 2}
    await handle(messages)  # delivered again: skipped, nothing applied twice
    assert tries["n"] == 2 and await effect_count(pg) == 4

    await commit_cases(pg, 2, 1)  # a third event of each case
    third = [
        Incoming(o.message_id, o.routing_key, o.body, o.ordering_key, seq=o.seq)
        for o in await shuffled_outbox(pg)
        if o.seq == 3
    ]
    tries["fail"] = "bug"
    with pytest.raises(RuntimeError):
        await handle(third)
    assert await effect_count(pg) == 4 and await _positions(pg, group.name) == {"case-0": 2, "case-1": 2}
