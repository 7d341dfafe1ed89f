"""Builds the configured SmsSender (failover over the listed providers, timed), the status
queries of the providers that can answer them, and the report receivers, from settings."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TextIO

import aiohttp

from adapters.sms.alibaba import AlibabaReportReceiver, AlibabaSms
from adapters.sms.console import ConsoleSms
from adapters.sms.settings import (
    AlibabaSmsSettings,
    ConsoleSmsSettings,
    SettingsError,
    SmsSettings,
    TencentSmsSettings,
)
from adapters.sms.tencent import TencentReportReceiver, TencentSms
from adapters.sms.wrappers import FailoverSms, SmsMetrics, TimedSms
from handoff.ports import Clock, SmsReportReceiver, SmsSender, SmsStatusQuery

PROVIDERS = ("alibaba", "tencent", "console")


def build_provider(
    name: str,
    env: Mapping[str, str],
    session: aiohttp.ClientSession,
    clock: Clock,
    stdout: TextIO | None = None,
) -> SmsSender:
    if name == "alibaba":
        return AlibabaSms(AlibabaSmsSettings.from_env(env), session, clock)
    if name == "tencent":
        return TencentSms(TencentSmsSettings.from_env(env), session, clock)
    if name == "console":
        return ConsoleSms(ConsoleSmsSettings.from_env(env), clock, stdout=stdout)
    raise SettingsError(f"未知的短信服务商：{name}（可选：{'、'.join(PROVIDERS)}）")


def build_sender(
    env: Mapping[str, str], session: aiohttp.ClientSession, clock: Clock, metrics: SmsMetrics
) -> SmsSender:
    settings = SmsSettings.from_env(env)
    providers = [TimedSms(build_provider(n, env, session, clock), metrics) for n in settings.providers]
    if len(providers) == 1:
        return providers[0]
    return FailoverSms(providers, settings.cooldown_seconds, time.monotonic)


def build_report_receivers(env: Mapping[str, str]) -> dict[str, SmsReportReceiver]:
    """Receivers for the providers listed in HANDOFF_SMS_PROVIDERS that push reports."""
    receivers: dict[str, SmsReportReceiver] = {}
    for name in SmsSettings.from_env(env).providers:
        if name == "alibaba":
            receivers[name] = AlibabaReportReceiver(AlibabaSmsSettings.from_env(env))
        elif name == "tencent":
            receivers[name] = TencentReportReceiver(TencentSmsSettings.from_env(env))
    return receivers


def build_status_queries(
    env: Mapping[str, str], session: aiohttp.ClientSession, clock: Clock
) -> dict[str, SmsStatusQuery]:
    """provider name → its SmsStatusQuery, for the listed providers that can be asked what became
    of a message (the console provider only with a file, which it reads back)."""
    queries: dict[str, SmsStatusQuery] = {}
    for name in SmsSettings.from_env(env).providers:
        if name == "alibaba":
            queries[name] = AlibabaSms(AlibabaSmsSettings.from_env(env), session, clock)
        elif name == "tencent":
            queries[name] = TencentSms(TencentSmsSettings.from_env(env), session, clock)
        elif name == "console" and ConsoleSmsSettings.from_env(env).file:
            queries[name] = ConsoleSms(ConsoleSmsSettings.from_env(env), clock)
    return queries
