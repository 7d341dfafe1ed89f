"""A consumer group whose recovery fails at start (the database restarting, a deadlock retried past
its attempts) does not stop the process from starting: it consumes, and its recovery is tried again
in the background until it succeeds."""

from __future__ import annotations

import asyncio

from adapters.broker.bus import Incoming
from adapters.broker.memory import MemoryBus
from adapters.broker.topology import Group
from adapters.db.engine import make_engine
from worker.group import start_groups, stop_tickers


class RecoversOnTheThirdTry:
    """A Worker (worker/group.py) whose database refuses its first two recoveries."""

    handle_batch = None
    interval = None

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        self.engine = engine
        self.recoveries = 0
        self.recovered = asyncio.Event()

    async def recover(self) -> None:
        self.recoveries += 1
        if self.recoveries < 3:
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
        self.recovered.set()

    async def handle(self, message: Incoming) -> None:
        return None

    async def tick(self) -> None:
        return None


async def test_a_failed_recovery_does_not_stop_the_start_and_is_tried_again(tmp_path, caplog):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    worker = RecoversOnTheThirdTry(engine)
    bus = MemoryBus()
    group = Group("projections", ("case.#",))
    tickers = await start_groups(bus, {"projections": group}, {"projections": worker}, recovery_pause=(0.01, 0.02))
    try:
        await asyncio.wait_for(worker.recovered.wait(), 5)
        assert worker.recoveries == 3
        failures = [r for r in caplog.records if "recovery failed" in r.getMessage()]
        assert failures and all(r.exc_info is None for r in failures), "an outage is one line, no traceback"
    finally:
        await stop_tickers(tickers)
        await bus.close()
        await engine.dispose()
