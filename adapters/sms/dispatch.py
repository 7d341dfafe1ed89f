"""Hands one ``notifications`` row to the SMS provider: claim it, put the tracking link back, send
it with our reference, record the answer. Used by the notifications worker (each new row, and the
sweeper's leftovers) and by the API's resend, so that every SMS goes through the same claim.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db import notifications as rows
from adapters.sms.templates import TEMPLATES
from handoff.ports import ProviderError, SmsOutcomeUnknown, SmsSender, SmsStatus

log = logging.getLogger("handoff.notifications")


class SmsCounter(Protocol):
    """Where SMS outcomes are counted (worker/metrics.py in the composition root)."""

    def sent(self, template: str, status: str) -> None: ...

    def swept(self, status: str) -> None:
        """A row left ``created`` was sent by the sweeper; ``status`` is the provider's answer."""
        ...

    def resolved(self, status: str) -> None:
        """A cut-off ``sending`` row was settled (``delivered``, ``technical_failure``, …)."""
        ...


class CountedSms:
    """An in-memory SmsCounter (tests, and a sender built without metrics)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def _add(self, key: tuple[str, str]) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def sent(self, template: str, status: str) -> None:
        self._add((template, status))

    def swept(self, status: str) -> None:
        self._add(("swept", status))

    def resolved(self, status: str) -> None:
        self._add(("resolved", status))


def params_to_send(row: Mapping[str, Any], tracking_url: Callable[[str], str]) -> dict[str, str]:
    """The stored parameters, and the tracking link recomputed from the case when the template
    carries one (it is never stored)."""
    params = row.get("params")
    if isinstance(params, Mapping) and params:
        values = {str(k): str(v) for k, v in params.items()}
    else:
        values = _legacy_params(row.get("reason"))
    values = rows.storable(values)
    template = TEMPLATES.get(str(row["template_key"]))
    if template is not None and "link" in template.params and row.get("case_id"):
        values["link"] = tracking_url(str(row["case_id"]))
    return values


def _legacy_params(reason: Any) -> dict[str, str]:
    """Rows written before the params column existed kept their parameters in ``reason``."""
    try:
        legacy = json.loads(reason or "{}")
    except (TypeError, ValueError):
        return {}
    return {str(k): str(v) for k, v in legacy.items()} if isinstance(legacy, dict) else {}


class SmsDispatch:
    def __init__(
        self,
        engine: AsyncEngine,
        sender: SmsSender,
        tracking_url: Callable[[str], str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        counter: SmsCounter | None = None,
    ) -> None:
        self.engine = engine
        self.sender = sender
        self.tracking_url = tracking_url
        self.clock = clock
        self.counter: SmsCounter = counter or CountedSms()

    async def send(self, row: Mapping[str, Any]) -> str | None:
        """Send one ``created`` row; its new status, or None when another process claimed it."""
        reference = str(row.get("reference") or rows.new_reference())
        async with self.engine.begin() as conn:
            if not await rows.claim(conn, str(row["id"]), self.clock(), reference):
                return None
        try:
            receipt = await self.sender.send(
                str(row["recipient"]),
                str(row["template_key"]),
                params_to_send(row, self.tracking_url),
                reference=reference,
            )
            values: dict[str, Any] = {
                "status": receipt.status.value,
                "provider": receipt.provider,
                "provider_message_id": receipt.message_id,
                "reason": receipt.reason or "",
            }
        except SmsOutcomeUnknown as exc:
            # Left ``sending`` without a message id: the sweeper asks this provider later.
            log.warning(
                "sms outcome unknown",
                extra={"case_id": row["case_id"], "template": row["template_key"], "provider": exc.provider},
            )
            values = {
                "status": SmsStatus.SENDING.value,
                "provider": exc.provider,
                "reason": f"{exc.raw_code} {exc.reason}（待向服务商核实）",
            }
        except ProviderError as exc:
            log.warning(
                "sms failed",
                extra={
                    "case_id": row["case_id"],
                    "template": row["template_key"],
                    "provider": exc.provider,
                    "code": exc.raw_code,
                },
            )
            values = {"status": exc.status.value, "provider": exc.provider, "reason": f"{exc.raw_code} {exc.reason}"}
        self.counter.sent(str(row["template_key"]), values["status"])
        async with self.engine.begin() as conn:
            await rows.record_outcome(conn, str(row["id"]), values, self.clock())
        return str(values["status"])
