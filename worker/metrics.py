"""Prometheus metrics of the workers: messages handled / retried / parked per group, queue lag,
SMS by status (and those the sweeper sent or settled), open and overdue cases. One registry, made
by the composition root and shown at the API's /metrics (embedded start) or the worker's own
/metrics (``handoff worker``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.broker.bus import Bus, Handler, Incoming
from adapters.broker.outcomes import Outcome, decide, describe
from adapters.broker.topology import Group
from adapters.db.tables import outbox
from adapters.db.worker_tables import case_clocks
from adapters.outages import unavailable

log = logging.getLogger("handoff.metrics")


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.handled = Counter("handoff_messages_handled_total", "Messages handled", ["group"], registry=registry)
        self.retried = Counter("handoff_messages_retried_total", "Messages sent to retry", ["group"], registry=registry)
        self.parked = Counter("handoff_messages_parked_total", "Messages parked", ["group"], registry=registry)
        self.queue_depth = Gauge(
            "handoff_queue_depth", "Messages waiting in a group's queue", ["group"], registry=registry
        )
        self.outbox_pending = Gauge("handoff_outbox_pending", "Committed events not yet published", registry=registry)
        self.outbox_age = Gauge(
            "handoff_outbox_oldest_pending_seconds", "Age of the oldest unpublished event", registry=registry
        )
        self.sms = Counter(
            "handoff_sms_total", "SMS sent, by template and status", ["template", "status"], registry=registry
        )
        self.sms_swept = Counter(
            "handoff_sms_swept_total",
            "SMS left created by a crash, sent by the sweeper, by the provider's answer",
            ["status"],
            registry=registry,
        )
        self.sms_resolved = Counter(
            "handoff_sms_resolved_total",
            "SMS whose provider call was cut off, settled by asking the provider, by the outcome",
            ["status"],
            registry=registry,
        )
        self.sms_seconds = Histogram(
            "handoff_sms_send_seconds", "SMS provider call time", ["provider", "outcome"], registry=registry
        )
        self.open_cases = Gauge("handoff_cases_open", "Cases the deadline watcher watches", registry=registry)
        self.overdue_cases = Gauge("handoff_cases_overdue", "Open cases past their promised limit", registry=registry)
        self.calendar_missing = Gauge(
            "handoff_calendar_next_year_missing",
            "1 from November on while next year's holiday schedule is not loaded",
            registry=registry,
        )
        self.stalled = Gauge("handoff_packages_stalled", "Packages with no movement for too long", registry=registry)

    # SmsMetrics (adapters/sms/wrappers.py) and the notifier's counter
    def observe(self, provider: str, outcome: str, seconds: float) -> None:
        self.sms_seconds.labels(provider, outcome).observe(seconds)

    def sent(self, template: str, status: str) -> None:
        self.sms.labels(template, status).inc()

    def swept(self, status: str) -> None:
        self.sms_swept.labels(status).inc()

    def resolved(self, status: str) -> None:
        self.sms_resolved.labels(status).inc()

    def measured(self, group: Group, handler: Handler) -> Handler:
        """The handler, counted: its outcome is the one the bus will act on (adapters/broker/outcomes)."""

        async def handle(message: Incoming) -> None:
            try:
                await handler(message)
            except Exception as exc:
                outcome = decide(exc, message.attempt, group)
                (self.parked if outcome is Outcome.PARK else self.retried).labels(group.name).inc()
                raise
            self.handled.labels(group.name).inc()

        return handle


class Sampler:
    """Every ``interval`` seconds, the gauges that are read from the database and the broker."""

    def __init__(
        self,
        metrics: WorkerMetrics,
        engine: AsyncEngine,
        bus: Bus,
        groups: Mapping[str, Group],
        extra: Callable[[], Awaitable[None]] | None = None,
        interval: float = 15.0,
    ) -> None:
        self.metrics = metrics
        self.engine = engine
        self.bus = bus
        self.groups = groups
        self.extra = extra
        self.interval = interval
        self._stop = asyncio.Event()

    async def sample(self) -> None:
        m = self.metrics
        async with self.engine.connect() as conn:
            pending, oldest = (
                await conn.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.published_at.is_(None))
                )
            ).one()
            watching, overdue = (
                await conn.execute(
                    select(func.count(), func.count().filter(case_clocks.c.overdue.is_(True))).where(
                        case_clocks.c.watching.is_(True)
                    )
                )
            ).one()
        m.outbox_pending.set(pending)
        m.outbox_age.set((datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0)
        m.open_cases.set(watching)
        m.overdue_cases.set(overdue)
        for name, group in self.groups.items():
            m.queue_depth.labels(name).set(await self.bus.depth(group))
        if self.extra is not None:
            await self.extra()

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.sample()
            except Exception as exc:
                # a database or broker restarting (aio-pika: "Connection was not opened" while it
                # reconnects): one line; anything else with its traceback
                expected = unavailable(exc) is not None or not getattr(self.bus, "connected", True)
                log.warning("metrics sample failed: %s", describe(exc), exc_info=not expected)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)

    def stop(self) -> None:
        self._stop.set()
