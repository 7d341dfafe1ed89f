"""What the carriers share: status tables onto our TrackingStatus, stable event keys, the last
movement time, and Beijing-time parsing."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from hmac import compare_digest

from handoff.ports import CarrierError, InboundHttp, TrackingEvent, TrackingStatus
from handoff.timeutil import CHINA

log = logging.getLogger("handoff.logistics")


class TrackingTable:
    """Carrier code → (our status, reason); an unknown code goes to the fallback and is logged."""

    def __init__(
        self, carrier: str, rules: Mapping[str, tuple[TrackingStatus, str]], fallback: tuple[TrackingStatus, str]
    ) -> None:
        self.carrier = carrier
        self.rules = rules
        self.fallback = fallback

    def classify(self, code: str) -> tuple[TrackingStatus, str]:
        rule = self.rules.get(code)
        if rule is not None:
            return rule
        log.warning(
            "unknown carrier code",
            extra={"carrier": self.carrier, "code": code, "fallback": self.fallback[0].value},
        )
        return self.fallback[0], f"{self.fallback[1]}（{code or '空'}）"


def beijing(text: str) -> datetime:
    """``2021-11-21 17:16:24`` in Beijing time, as every carrier here writes it."""
    return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)


def event_key(event: TrackingEvent) -> str:
    """Same movement, same key, however often it is pushed or queried."""
    parts = (event.carrier, event.waybill, event.raw_code, event.occurred_at.isoformat(), event.place)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


_RECEIVER = re.compile(r"(?:签收人|签收者|收件人|代收人)\s*(?:是|为)?\s*[:：]?\s*([^\s,，。;；:：()（）]{1,20})")


def receiver_from(text: str) -> str:
    """The receiver's name in a carrier's delivery text ("已签收，签收人是：张三", "签收人:本人"): every
    carrier here writes it into its free text only; empty when it does not say."""
    found = _RECEIVER.search(text or "")
    return found.group(1) if found else ""


def dedupe(events: Iterable[TrackingEvent]) -> list[TrackingEvent]:
    """Oldest first, each movement once; a delivery carries the receiver its text names."""
    seen: dict[str, TrackingEvent] = {}
    for event in events:
        if event.status is TrackingStatus.DELIVERED and not event.receiver:
            event = replace(event, receiver=receiver_from(event.description))
        seen.setdefault(event_key(event), event)
    return sorted(seen.values(), key=lambda e: e.occurred_at)


def last_movement(events: Iterable[TrackingEvent]) -> datetime | None:
    """When the package last moved, for the stalled-package check. Events that report the end of
    tracking rather than a movement (raw code ``abort``) do not count."""
    times = [e.occurred_at for e in events if e.raw_code != "abort"]
    return max(times) if times else None


def check_token(request: InboundHttp, expected: str, carrier: str) -> None:
    """For pushes that carry no documented signature: the URL we register holds a secret token."""
    if not expected or not compare_digest(request.query.get("token", "").encode(), expected.encode()):
        raise CarrierError(carrier, "forbidden", "回调令牌不正确", retryable=False)
