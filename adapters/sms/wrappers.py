"""Behaviour that wraps any SmsSender: failover between providers, and timing/metrics.

Both take their collaborators (clock, metrics sink, logger) as arguments: no globals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from handoff.ports import ProviderError, SmsOutcomeUnknown, SmsReceipt, SmsSender, SmsStatus

log = logging.getLogger("handoff.sms")


class FailoverSms:
    """Sends through the first provider that is not resting. A provider that answers with a
    TECHNICAL_FAILURE (which includes timeouts and unreachable hosts) rests for ``cooldown`` seconds,
    and the next one takes over; the preferred provider comes back only when its rest is over, so
    a flaky one does not flip-flop traffic message by message. Permanent and temporary failures are
    about the message or the number, not the provider, and are raised as they are.

    A send whose outcome is unknown (:class:`SmsOutcomeUnknown`: a timeout, a connection cut after
    the request went out) may hide a message that was in fact sent: the provider rests, but the
    error is raised as it is, never tried on the next provider — one SMS per event and recipient
    comes first, and the notifications worker asks that provider later what became of it."""

    name = "failover"

    def __init__(self, providers: Sequence[SmsSender], cooldown: float, monotonic: Callable[[], float]) -> None:
        if not providers:
            raise ValueError("at least one provider")
        self.providers = list(providers)
        self.cooldown = cooldown
        self.monotonic = monotonic
        self.resting_until: dict[str, float] = {}

    def active(self) -> list[SmsSender]:
        now = self.monotonic()
        awake = [p for p in self.providers if self.resting_until.get(p.name, 0.0) <= now]
        # When everything rests, try the one that has rested longest rather than nothing.
        return awake or sorted(self.providers, key=lambda p: self.resting_until.get(p.name, 0.0))[:1]

    async def send(
        self, phone: str, template_key: str, params: Mapping[str, str], *, reference: str = ""
    ) -> SmsReceipt:
        last: ProviderError | None = None
        for provider in self.active():
            try:
                receipt = await provider.send(phone, template_key, params, reference=reference)
            except ProviderError as exc:
                if exc.status is not SmsStatus.TECHNICAL_FAILURE:
                    raise
                self.resting_until[provider.name] = self.monotonic() + self.cooldown
                if isinstance(exc, SmsOutcomeUnknown):
                    raise
                log.warning(
                    "sms provider failed over",
                    extra={"provider": provider.name, "code": exc.raw_code, "cooldown": self.cooldown},
                )
                last = exc
                continue
            return receipt
        assert last is not None
        raise last


class SmsMetrics(Protocol):
    def observe(self, provider: str, outcome: str, seconds: float) -> None: ...


@dataclass
class RecordedMetrics:
    """An in-memory SmsMetrics, for tests and for the embedded start's status page."""

    samples: list[tuple[str, str, float]] = field(default_factory=list)

    def observe(self, provider: str, outcome: str, seconds: float) -> None:
        self.samples.append((provider, outcome, seconds))


class TimedSms:
    """Times each send, reports ``(provider, outcome, seconds)`` and logs one structured line.
    The outcome is our status value (``sending``, ``technical_failure``, …)."""

    def __init__(
        self, inner: SmsSender, metrics: SmsMetrics, monotonic: Callable[[], float] = time.perf_counter
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.metrics = metrics
        self.monotonic = monotonic

    async def send(
        self, phone: str, template_key: str, params: Mapping[str, str], *, reference: str = ""
    ) -> SmsReceipt:
        started = self.monotonic()
        try:
            receipt = await self.inner.send(phone, template_key, params, reference=reference)
        except ProviderError as exc:
            elapsed = self.monotonic() - started
            self.metrics.observe(exc.provider, exc.status.value, elapsed)
            log.info(
                "sms send failed",
                extra={"provider": exc.provider, "template": template_key, "code": exc.raw_code, "seconds": elapsed},
            )
            raise
        elapsed = self.monotonic() - started
        self.metrics.observe(receipt.provider, receipt.status.value, elapsed)
        log.info(
            "sms sent",
            extra={
                "provider": receipt.provider,
                "template": template_key,
                "message_id": receipt.message_id,
                "seconds": elapsed,
            },
        )
        return receipt
