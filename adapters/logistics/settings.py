"""Typed settings for each carrier, read from ``HANDOFF_*`` variables (``os.environ`` by default)
when asked, never at import time; every carrier has an endpoint override for tests and staging."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from adapters.sms.settings import SettingsError, environ, optional_float, required

__all__ = ["EmsSettings", "Kuaidi100Settings", "SettingsError", "SfSettings"]


@dataclass(frozen=True)
class SfSettings:
    partner_id: str
    check_word: str
    monthly_card: str = ""
    endpoint: str = "https://sfapi.sf-express.com/std/service"
    express_type: str = "1"
    """1 = 顺丰特快."""
    timeout_seconds: float = 10.0
    callback_token: str = ""
    push_mode: str = "json"
    """The route-push mode chosen in SF's console: ``json`` or ``xml`` (form field ``content``)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        e = environ(env)
        push_mode = e.get("HANDOFF_SF_PUSH_MODE", "").strip().lower() or cls.push_mode
        if push_mode not in ("json", "xml"):
            raise SettingsError("设置 HANDOFF_SF_PUSH_MODE 只能是 json 或 xml")
        return cls(
            push_mode=push_mode,
            partner_id=required(e, "HANDOFF_SF_PARTNER_ID"),
            check_word=required(e, "HANDOFF_SF_CHECK_WORD"),
            monthly_card=e.get("HANDOFF_SF_MONTHLY_CARD", "").strip(),
            endpoint=e.get("HANDOFF_SF_ENDPOINT", "").strip() or cls.endpoint,
            express_type=e.get("HANDOFF_SF_EXPRESS_TYPE", "").strip() or cls.express_type,
            timeout_seconds=optional_float(e, "HANDOFF_SF_TIMEOUT_SECONDS", cls.timeout_seconds),
            callback_token=e.get("HANDOFF_SF_CALLBACK_TOKEN", "").strip(),
        )


@dataclass(frozen=True)
class Kuaidi100Settings:
    customer: str
    key: str
    query_endpoint: str = "https://poll.kuaidi100.com/poll/query.do"
    subscribe_endpoint: str = "https://poll.kuaidi100.com/poll"
    callback_url: str = ""
    salt: str = ""
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        e = environ(env)
        return cls(
            customer=required(e, "HANDOFF_KUAIDI100_CUSTOMER"),
            key=required(e, "HANDOFF_KUAIDI100_KEY"),
            query_endpoint=e.get("HANDOFF_KUAIDI100_QUERY_ENDPOINT", "").strip() or cls.query_endpoint,
            subscribe_endpoint=e.get("HANDOFF_KUAIDI100_SUBSCRIBE_ENDPOINT", "").strip() or cls.subscribe_endpoint,
            callback_url=e.get("HANDOFF_KUAIDI100_CALLBACK_URL", "").strip(),
            salt=e.get("HANDOFF_KUAIDI100_SALT", "").strip(),
            timeout_seconds=optional_float(e, "HANDOFF_KUAIDI100_TIMEOUT_SECONDS", cls.timeout_seconds),
        )


@dataclass(frozen=True)
class EmsSettings:
    sender_no: str
    authorization: str
    sign_key: str
    """Base64 of the 16-byte SM4 key, as the platform issues it."""
    endpoint: str = "https://api.ems.com.cn/amp-prod-api/f/amp/api/open"
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        e = environ(env)
        return cls(
            sender_no=required(e, "HANDOFF_EMS_SENDER_NO"),
            authorization=required(e, "HANDOFF_EMS_AUTHORIZATION"),
            sign_key=required(e, "HANDOFF_EMS_SIGN_KEY"),
            endpoint=e.get("HANDOFF_EMS_ENDPOINT", "").strip() or cls.endpoint,
            timeout_seconds=optional_float(e, "HANDOFF_EMS_TIMEOUT_SECONDS", cls.timeout_seconds),
        )
