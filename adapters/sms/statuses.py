"""Status tables: every provider code we know, mapped to our :class:`SmsStatus` and a reason.

A code not in a table goes to the table's explicit fallback and is logged, so that a new code shows
up in the logs rather than silently as a wrong status. ``expire_sending`` turns a message that has
been "sending" for too long into a terminal status.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from handoff.ports import SmsStatus

log = logging.getLogger("handoff.sms")

SENDING_TIMEOUT = timedelta(hours=72)


class StatusTable:
    def __init__(
        self,
        provider: str,
        kind: str,
        rules: Mapping[str, tuple[SmsStatus, str]],
        fallback: tuple[SmsStatus, str],
    ) -> None:
        self.provider = provider
        self.kind = kind
        self.rules = rules
        self.fallback = fallback

    def classify(self, code: str) -> tuple[SmsStatus, str]:
        rule = self.rules.get(code)
        if rule is not None:
            return rule
        log.warning(
            "unknown provider code",
            extra={"provider": self.provider, "table": self.kind, "code": code, "fallback": self.fallback[0].value},
        )
        return self.fallback[0], f"{self.fallback[1]}（{code or '空'}）"


# Delivery states of SMPP 3.4 (§5.2.28 message_state, as short stat texts in receipts) that the
# Chinese gateways pass through in delivery reports; Tencent's documented example carries DELIVRD.
SMPP_STATS: Mapping[str, tuple[SmsStatus, str]] = {
    "DELIVRD": (SmsStatus.DELIVERED, "用户接收成功"),
    "DELIVERED": (SmsStatus.DELIVERED, "用户接收成功"),
    "EXPIRED": (SmsStatus.TEMPORARY_FAILURE, "有效期内未送达（关机或不在服务区）"),
    "UNDELIV": (SmsStatus.PERMANENT_FAILURE, "无法送达"),
    "REJECTD": (SmsStatus.PERMANENT_FAILURE, "运营商拒绝"),
    "DELETED": (SmsStatus.PERMANENT_FAILURE, "短信被删除"),
    "UNKNOWN": (SmsStatus.TECHNICAL_FAILURE, "运营商状态未知"),
    "ACCEPTD": (SmsStatus.SENDING, "运营商已接收"),
}


def expire_sending(
    status: SmsStatus, sent_at: datetime, now: datetime, after: timedelta = SENDING_TIMEOUT
) -> tuple[SmsStatus, str] | None:
    """A message still ``sending`` after ``after`` never got a report: it ends as a temporary
    failure (the phone was probably off), as GOV.UK Notify does. None while it may still come."""
    if status in (SmsStatus.CREATED, SmsStatus.SENDING) and now - sent_at >= after:
        return SmsStatus.TEMPORARY_FAILURE, "超时未收到回执"
    return None
