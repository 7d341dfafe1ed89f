"""What a consumer group of worker/ offers, and how one is run until it is told to stop.

A group is a :class:`Worker`: a message handler for its queue (``handle``, optionally
``handle_batch``), work to do once when it starts (``recover``: send what a crash left pending…),
and periodic work (``tick`` every ``interval`` seconds: the deadline scan, tracking polls…).
:func:`start_groups` consumes every chosen group's queue through the ordering gate
(worker/consumer.py: each case's events applied in sequence, in every group, whatever the number
of processes), ticks them, and :func:`stop_tickers` ends the periodic work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.broker.bus import BatchHandler, Bus, Incoming
from adapters.broker.outcomes import describe
from adapters.broker.topology import Group
from adapters.db.retry import is_conflict
from adapters.outages import unavailable
from worker.consumer import OrderGate
from worker.metrics import WorkerMetrics

log = logging.getLogger("handoff.worker")


class Worker(Protocol):
    engine: AsyncEngine
    """The database of the group's effects (its positions in every case's stream live there)."""

    async def handle(self, message: Incoming) -> None:
        """Handle one message, idempotently: run twice, it changes nothing the second time (the
        ordering gate relies on it after a crash)."""
        ...

    @property
    def handle_batch(self) -> BatchHandler | None:
        """Several messages in one transaction, or None to take them one by one."""
        ...

    async def recover(self) -> None:
        """Once, before consuming: finish what a crash interrupted."""
        ...

    @property
    def interval(self) -> float | None:
        """Seconds between two ``tick`` calls, or None for a group without periodic work."""
        ...

    async def tick(self) -> None: ...


RECOVERY_PAUSE_SECONDS = (1.0, 30.0)
"""The first and the longest pause between two tries of a recovery that failed at start."""


class Ticker:
    """Calls a worker's ``tick`` every ``interval`` seconds until stopped; a failing tick is
    logged and tried again at the next interval (never kills the process). With ``recover``, the
    worker's recovery failed at start: it is tried again first, after a growing pause, until it
    succeeds (the group consumes meanwhile; recovery is idempotent catching up)."""

    def __init__(
        self,
        name: str,
        worker: Worker,
        recover: bool = False,
        recovery_pause: tuple[float, float] = RECOVERY_PAUSE_SECONDS,
    ) -> None:
        self.name = name
        self.worker = worker
        self.recover = recover
        self.recovery_pause = recovery_pause
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"tick-{self.name}")

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` unless stopped first; whether to go on."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return not self._stop.is_set()

    async def _run(self) -> None:
        pause, longest = self.recovery_pause
        while self.recover and await self._pause(pause):
            try:
                await self.worker.recover()
            except Exception as exc:
                log.warning("recovery failed again: %s", describe(exc), extra={"group": self.name})
                pause = min(pause * 2, longest)
                continue
            log.info("recovered", extra={"group": self.name})
            self.recover = False
        interval = self.worker.interval
        if interval is None:
            return
        while not self._stop.is_set():
            try:
                await self.worker.tick()
            except Exception as exc:
                if unavailable(exc) is not None:  # a database or broker restarting: one line
                    log.warning("tick failed: %s", describe(exc), extra={"group": self.name})
                else:
                    log.exception("tick failed", extra={"group": self.name})
            await self._pause(interval)

    async def stop(self) -> None:
        """Let a running tick finish, then return."""
        self._stop.set()
        if self._task is not None:
            await self._task


async def recover_at_start(name: str, worker: Worker) -> bool:
    """The worker's recovery; False when it failed. A failure never stops the process from
    starting (a database restarting, a deadlock retried past its attempts): the group consumes, and
    its ticker tries the recovery again in the background."""
    try:
        await worker.recover()
    except Exception as exc:
        if unavailable(exc) is not None or is_conflict(exc):
            log.warning("recovery failed; trying again in the background: %s", describe(exc), extra={"group": name})
        else:
            log.exception("recovery failed; trying again in the background", extra={"group": name})
        return False
    return True


async def start_groups(
    bus: Bus,
    groups: Mapping[str, Group],
    workers: Mapping[str, Worker],
    metrics: WorkerMetrics | None = None,
    recovery_pause: tuple[float, float] = RECOVERY_PAUSE_SECONDS,
) -> list[Ticker]:
    """Recover, then consume (in order) and tick each worker's group; returns the tickers to stop
    later. A recovery that fails is tried again in the background (:func:`recover_at_start`)."""
    tickers = []
    for name, worker in workers.items():
        recovered = await recover_at_start(name, worker)
        group = groups[name]
        gate = OrderGate(worker.engine, group)
        handler = metrics.measured(group, worker.handle) if metrics else worker.handle
        batch = worker.handle_batch
        await bus.consume(group, gate.handler(handler), gate.batch(batch) if batch is not None else None)
        ticker = Ticker(name, worker, recover=not recovered, recovery_pause=recovery_pause)
        ticker.start()
        tickers.append(ticker)
    return tickers


async def stop_tickers(tickers: Sequence[Ticker]) -> None:
    for ticker in tickers:
        await ticker.stop()
