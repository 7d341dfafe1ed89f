"""`handoff worker` as a real process on PostgreSQL and RabbitMQ: killed with SIGKILL in the middle
of a stream of events and started again, it loses nothing and sends nothing twice; SIGTERM lets it
finish what it holds and stop cleanly."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.broker.topology import groups
from adapters.db import domain_tables as t
from handoff.matter import Delivery
from tests.integration.workers.conftest import make_world
from tests.support.db import postgres_engine
from tests.support.rabbit import TEST_GROUPS, bus, rabbit_prefix
from worker.relay import OutboxRelay

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CASES = 240
PRODUCTION_KEYS = {
    # Keys of its own, as in production (development keys are refused there): the ones the test's
    # world writes with (tests/support/db.CIPHER, make_world's tracking key).
    "HANDOFF_SCAN_KEYS": "P1:" + base64.b64encode(b"scan-key-of-the-worker-test-32b!").decode(),
    "HANDOFF_TRACKING_KEY": base64.b64encode(b"track-key-for-tests-only-32byte").decode(),
    "HANDOFF_ID_KEYS": "k1:" + base64.b64encode(b"0" * 32).decode(),
    "HANDOFF_ID_HASH_KEY": base64.b64encode(b"h" * 32).decode(),
    "HANDOFF_CHECKPOINT_KEY": base64.b64encode(b"c" * 32).decode(),
}


@pytest.fixture
async def pg():
    gen = postgres_engine()
    yield await gen.__anext__()
    await gen.aclose()


@pytest.fixture
async def prefix():
    gen = rabbit_prefix()
    value = await gen.__anext__()
    TEST_GROUPS.extend(groups(value).values())
    yield value
    await gen.aclose()


def start_worker(pg, prefix: str, sms_file: Path, log: Path) -> subprocess.Popen[str]:
    """The worker's output goes to a file (a pipe nobody reads would fill up and stop it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
    env.update(
        PYTHONPATH=str(ROOT),
        HANDOFF_DATABASE_URL=pg.url.render_as_string(hide_password=False),
        HANDOFF_BROKER_URL="amqp://guest:guest@127.0.0.1:5672/",
        HANDOFF_BROKER_PREFIX=prefix,
        HANDOFF_SMS_PROVIDERS="console",
        HANDOFF_SMS_CONSOLE_FILE=str(sms_file),
        HANDOFF_DEMO_DATA="false",
        **PRODUCTION_KEYS,
    )
    with open(log, "a", encoding="utf-8") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker", "--group", "notifications", "--metrics-port", "0"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + 30
    while "消费组已启动" not in log.read_text(encoding="utf-8"):
        assert process.poll() is None and time.monotonic() < deadline, log.read_text(encoding="utf-8")
        time.sleep(0.05)
    return process


def sent_lines(sms_file: Path) -> list[dict]:
    if not sms_file.exists():
        return []
    return [json.loads(line) for line in sms_file.read_text(encoding="utf-8").splitlines() if line.strip()]


async def statuses(pg) -> Counter[str]:
    async with pg.connect() as conn:
        rows = await conn.execute(select(t.notifications.c.status, func.count()).group_by(t.notifications.c.status))
        return Counter({status: n for status, n in rows})


async def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_a_worker_killed_mid_stream_and_restarted_loses_nothing_and_sends_nothing_twice(pg, prefix, tmp_path):
    world = await make_world(pg)
    sms_file = tmp_path / "sms.jsonl"
    b = bus(prefix)
    await b.start()
    relay = OutboxRelay(pg, b, poll_seconds=0.05)
    relay_task = asyncio.create_task(relay.run())
    log = tmp_path / "worker.log"
    worker = start_worker(pg, prefix, sms_file, log)
    try:
        phones = [f"139{n:08d}" for n in range(CASES)]
        for phone in phones:  # each registration: one receipt SMS to its own applicant
            await world.register(applicant_phone=phone, delivery=Delivery.PICKUP_AT_WINDOW)

        async def some_sent():
            return len(sent_lines(sms_file)) >= CASES // 4

        await wait_for(some_sent)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        killed_at = len(sent_lines(sms_file))
        assert killed_at < CASES, "the worker finished before it could be killed: raise CASES"
        worker = start_worker(pg, prefix, sms_file, log)

        async def settled():
            counts = await statuses(pg)
            drained = await b.depth(groups(prefix)["notifications"]) == 0
            return sum(counts.values()) == CASES and counts["created"] == 0 and drained

        await wait_for(settled)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        assert worker.returncode == 0 and "已停止" in log.read_text(encoding="utf-8")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        relay.stop()
        await relay_task

    lines = sent_lines(sms_file)
    per_phone = Counter(m["phone"] for m in lines if m["template"] == "receipt")
    assert max(per_phone.values()) == 1, "an SMS was sent twice"
    counts = await statuses(pg)
    # every event has its one notification; a send cut off by the kill between its claim and the
    # provider's answer is never repeated (it is shown as failed after 15 minutes, for a person)
    assert sum(counts.values()) == CASES
    assert counts["delivered"] + counts["sending"] == CASES
    assert counts["sending"] <= 8  # at most one in hand per lane of the consumer
    assert counts["delivered"] <= len(per_phone) <= CASES
    await b.close()
