"""Stable keys for de-duplicating delivery reports (the pushes are retried and not idempotent)."""

from __future__ import annotations

import hashlib

from handoff.ports import SmsDeliveryReport


def report_key(report: SmsDeliveryReport) -> str:
    """Same report, same key: provider, message id, phone, report time and raw code — Alibaba's
    advice is to de-duplicate on ``(biz_id, phone_number, report_time, err_code)``."""
    parts = (report.provider, report.message_id, report.phone, report.reported_at.isoformat(), report.raw_code)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
