"""Typed settings for each SMS provider, read from ``HANDOFF_*`` variables.

Each class reads a mapping passed in (``os.environ`` by default) when asked, never at import time.
Every provider has an ``…_ENDPOINT`` override so that tests and staging point at local servers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self

from adapters.sms.templates import TEMPLATES


class SettingsError(Exception):
    """A provider setting is missing or malformed; the message is Chinese, for the operator."""


def environ(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"缺少设置 {name}")
    return value


def optional_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"设置 {name} 应为数字，而不是 {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"设置 {name} 应大于 0")
    return value


def template_map(env: Mapping[str, str], name: str) -> Mapping[str, str]:
    """``{"receipt": "SMS_123", …}``: our template key → the provider's template code."""
    raw = required(env, name)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise SettingsError(f"设置 {name} 应为 JSON 对象（模板名 → 模板编号）") from None
    if not isinstance(value, dict) or not all(isinstance(v, str | int) for v in value.values()):
        raise SettingsError(f"设置 {name} 应为 JSON 对象（模板名 → 模板编号）")
    unknown = sorted(set(value) - set(TEMPLATES))
    if unknown:
        raise SettingsError(f"设置 {name} 含有未知的模板名：{'、'.join(unknown)}")
    return {k: str(v) for k, v in value.items()}


@dataclass(frozen=True)
class AlibabaSmsSettings:
    access_key_id: str
    access_key_secret: str
    sign_name: str
    templates: Mapping[str, str]
    endpoint: str = "https://dysmsapi.aliyuncs.com/"
    region: str = "cn-hangzhou"
    signature: str = "acs3"
    """``acs3`` (ACS3-HMAC-SHA256, the current SDK default) or ``rpc`` (HMAC-SHA1, v1)."""
    timeout_seconds: float = 10.0
    callback_token: str = ""
    """The secret the SmsReport push URL must carry as ``?token=`` (the push itself is unsigned)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        e = environ(env)
        signature = e.get("HANDOFF_ALIBABA_SMS_SIGNATURE", "acs3").strip().lower() or "acs3"
        if signature not in ("acs3", "rpc"):
            raise SettingsError("设置 HANDOFF_ALIBABA_SMS_SIGNATURE 只能是 acs3 或 rpc")
        return cls(
            access_key_id=required(e, "HANDOFF_ALIBABA_ACCESS_KEY_ID"),
            access_key_secret=required(e, "HANDOFF_ALIBABA_ACCESS_KEY_SECRET"),
            sign_name=required(e, "HANDOFF_ALIBABA_SMS_SIGN_NAME"),
            templates=template_map(e, "HANDOFF_ALIBABA_SMS_TEMPLATES"),
            endpoint=e.get("HANDOFF_ALIBABA_SMS_ENDPOINT", "").strip() or cls.endpoint,
            region=e.get("HANDOFF_ALIBABA_SMS_REGION", "").strip() or cls.region,
            signature=signature,
            timeout_seconds=optional_float(e, "HANDOFF_ALIBABA_SMS_TIMEOUT_SECONDS", cls.timeout_seconds),
            callback_token=e.get("HANDOFF_ALIBABA_SMS_CALLBACK_TOKEN", "").strip(),
        )


@dataclass(frozen=True)
class TencentSmsSettings:
    secret_id: str
    secret_key: str
    sdk_app_id: str
    sign_name: str
    templates: Mapping[str, str]
    region: str = "ap-guangzhou"
    endpoint: str = "https://sms.tencentcloudapi.com/"
    timeout_seconds: float = 10.0
    callback_token: str = ""
    """The secret the status-callback URL must carry as ``?token=`` (the callback is unsigned)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        e = environ(env)
        return cls(
            secret_id=required(e, "HANDOFF_TENCENT_SECRET_ID"),
            secret_key=required(e, "HANDOFF_TENCENT_SECRET_KEY"),
            sdk_app_id=required(e, "HANDOFF_TENCENT_SMS_SDK_APP_ID"),
            sign_name=required(e, "HANDOFF_TENCENT_SMS_SIGN_NAME"),
            templates=template_map(e, "HANDOFF_TENCENT_SMS_TEMPLATES"),
            region=e.get("HANDOFF_TENCENT_SMS_REGION", "").strip() or cls.region,
            endpoint=e.get("HANDOFF_TENCENT_SMS_ENDPOINT", "").strip() or cls.endpoint,
            timeout_seconds=optional_float(e, "HANDOFF_TENCENT_SMS_TIMEOUT_SECONDS", cls.timeout_seconds),
            callback_token=e.get("HANDOFF_TENCENT_SMS_CALLBACK_TOKEN", "").strip(),
        )


@dataclass(frozen=True)
class ConsoleSmsSettings:
    file: str = ""
    """``HANDOFF_SMS_CONSOLE_FILE``; standard output when empty."""
    sign_name: str = "政务服务"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        e = environ(env)
        return cls(
            file=e.get("HANDOFF_SMS_CONSOLE_FILE", "").strip(),
            sign_name=e.get("HANDOFF_SMS_CONSOLE_SIGN_NAME", "").strip() or cls.sign_name,
        )


@dataclass(frozen=True)
class SmsSettings:
    """Which providers to use, in failover order, and how long a failed one rests."""

    providers: tuple[str, ...] = ("console",)
    cooldown_seconds: float = 300.0
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        e = environ(env)
        names = tuple(n.strip() for n in e.get("HANDOFF_SMS_PROVIDERS", "console").split(",") if n.strip())
        unknown = [n for n in names if n not in ("alibaba", "tencent", "console")]
        if unknown or not names:
            raise SettingsError("设置 HANDOFF_SMS_PROVIDERS 只能列出 alibaba、tencent、console（逗号分隔）")
        return cls(
            providers=names,
            cooldown_seconds=optional_float(e, "HANDOFF_SMS_FAILOVER_COOLDOWN_SECONDS", cls.cooldown_seconds),
            extra=dict(e),
        )
