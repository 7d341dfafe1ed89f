"""Kuaidi100 (快递100), tracking only: real-time query, subscribe, and the signed callback.

Wire protocol per ../shared/reference/providers.md §4.2 (official python demo). Kuaidi100 needs the
carrier's company code (``shunfeng``, ``ems``, …) with each waybill.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from hmac import compare_digest
from typing import Any
from urllib.parse import parse_qs, urlencode

import aiohttp

from adapters.http import HttpTransportError, request
from adapters.logistics.common import TrackingTable, beijing, dedupe
from adapters.logistics.settings import Kuaidi100Settings
from handoff.ports import CallbackAnswer, CarrierError, Clock, InboundHttp, TrackingEvent, TrackingStatus

NAME = "kuaidi100"

STATES = TrackingTable(
    NAME,
    {
        "0": (TrackingStatus.IN_TRANSIT, "在途"),
        "1": (TrackingStatus.PICKED_UP, "揽收"),
        "2": (TrackingStatus.EXCEPTION, "疑难"),
        "3": (TrackingStatus.DELIVERED, "签收"),
        "4": (TrackingStatus.RETURNED, "退签"),
        "5": (TrackingStatus.OUT_FOR_DELIVERY, "派件"),
        "6": (TrackingStatus.RETURNED, "退回"),
        "7": (TrackingStatus.IN_TRANSIT, "转投"),
        "8": (TrackingStatus.IN_TRANSIT, "清关"),
        "10": (TrackingStatus.IN_TRANSIT, "待清关"),
        "11": (TrackingStatus.IN_TRANSIT, "清关中"),
        "12": (TrackingStatus.IN_TRANSIT, "已清关"),
        "13": (TrackingStatus.EXCEPTION, "清关异常"),
        "14": (TrackingStatus.EXCEPTION, "拒签"),
    },
    fallback=(TrackingStatus.IN_TRANSIT, "未知的快递100状态"),
)

# With ``resultv2`` each item may carry its own status name. These names are [UNVERIFIED]; an item
# without a known one is an ordinary movement (in_transit), and only the newest item takes the
# waybill's overall ``state``.
ITEM_STATUS: Mapping[str, str] = {
    "在途": "0", "揽收": "1", "疑难": "2", "签收": "3", "退签": "4",
    "派件": "5", "退回": "6", "转投": "7", "拒签": "14",
}  # fmt: skip

SUBSCRIBE_CODES: Mapping[str, tuple[str, bool]] = {
    "500": ("服务器错误", True),
    "600": ("您不是合法的订阅者（key 错误）", False),
    "601": ("key 已过期", False),
    "700": ("订阅数据错误或不支持的快递公司", False),
    "701": ("拒绝订阅的快递公司", False),
    "702": ("无法识别快递公司", False),
}


# --------------------------------------------------------------------------- signing (pure)


def query_sign(param: str, key: str, customer: str) -> str:
    return hashlib.md5((param + key + customer).encode()).hexdigest().upper()


def callback_sign(param: str, salt: str) -> str:
    return hashlib.md5((param + salt).encode()).hexdigest()


# --------------------------------------------------------------------------- requests (pure)


def query_form(settings: Kuaidi100Settings, company: str, waybill: str, phone: str) -> bytes:
    param: dict[str, str] = {"com": company, "num": waybill, "resultv2": "1", "show": "0", "order": "desc"}
    if phone:
        param["phone"] = phone
    text = json.dumps(param, ensure_ascii=False, separators=(",", ":"))
    return urlencode(
        {"customer": settings.customer, "sign": query_sign(text, settings.key, settings.customer), "param": text}
    ).encode()


def subscribe_form(settings: Kuaidi100Settings, company: str, waybill: str, phone: str) -> bytes:
    parameters: dict[str, str] = {"callbackurl": settings.callback_url, "resultv2": "1"}
    if settings.salt:
        parameters["salt"] = settings.salt
    if phone:
        parameters["phone"] = phone
    param = {"company": company, "number": waybill, "key": settings.key, "parameters": parameters}
    return urlencode({"schema": "json", "param": json.dumps(param, ensure_ascii=False, separators=(",", ":"))}).encode()


# --------------------------------------------------------------------------- responses (pure)


def parse_result(data: Mapping[str, Any], waybill: str) -> list[TrackingEvent]:
    """A query result or a callback's ``lastResult``: ``data`` newest first, ``state`` overall."""
    items = data.get("data") or []
    if not isinstance(items, list):
        raise TypeError("data")
    events = []
    for index, item in enumerate(items):
        code = str(data.get("state", "")) if index == 0 else ITEM_STATUS.get(str(item.get("status") or ""), "0")
        status, reason = STATES.classify(code)
        events.append(
            TrackingEvent(
                carrier=NAME,
                waybill=str(data.get("nu") or waybill),
                status=status,
                raw_code=code,
                reason=reason,
                occurred_at=beijing(str(item.get("ftime") or item["time"])),
                place=str(item.get("areaName") or ""),
                description=str(item.get("context") or ""),
            )
        )
    return dedupe(events)


def parse_query(status: int, body: bytes, waybill: str) -> list[TrackingEvent]:
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise TypeError("body")
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError):
        raise CarrierError(NAME, f"http_{status}", "快递100返回了无法解析的内容", retryable=True) from None
    if data.get("result") is False:
        code = str(data.get("returnCode") or "")
        # Only 503 (验证签名失败) is seen in a real response; 500 is the server's own failure.
        raise CarrierError(NAME, code, str(data.get("message") or "快递100查询失败"), retryable=code == "500")
    if str(data.get("status")) != "200":
        raise CarrierError(
            NAME, str(data.get("status")), str(data.get("message") or "快递100查询失败"), retryable=False
        )
    try:
        return parse_result(data, waybill)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise CarrierError(NAME, "malformed", "快递100轨迹字段不全", retryable=True) from None


def parse_subscribe(status: int, body: bytes) -> None:
    try:
        data = json.loads(body)
        code = str(data["returnCode"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise CarrierError(NAME, f"http_{status}", "快递100返回了无法解析的内容", retryable=True) from None
    if code in ("200", "501"):  # 501: already polling this number — what we wanted
        return
    reason, retryable = SUBSCRIBE_CODES.get(code, (str(data.get("message") or "订阅失败"), False))
    raise CarrierError(NAME, code, reason, retryable=retryable)


def parse_callback(request: InboundHttp, salt: str, clock: Clock) -> list[TrackingEvent]:
    """Verify ``sign = MD5(param + salt)`` (compared case-insensitively: its case is [UNVERIFIED])
    and parse ``lastResult``. ``abort`` (no record for 3 days, or no change for 60) becomes an
    EXCEPTION event with raw code ``abort`` so that the stalled-package check sees it."""
    try:
        form = parse_qs(request.body.decode(), keep_blank_values=True)
        param = form["param"][0]
    except (UnicodeDecodeError, KeyError, IndexError):
        raise CarrierError(NAME, "malformed", "快递100推送缺少 param", retryable=False) from None
    if not salt:  # without a salt the push is unsigned, and anyone could post a "delivered"
        raise CarrierError(NAME, "no_salt", "未设置 HANDOFF_KUAIDI100_SALT，拒绝未签名的推送", retryable=False)
    sign = form.get("sign", [""])[0].lower()
    if not compare_digest(sign.encode(), callback_sign(param, salt).encode()):
        raise CarrierError(NAME, "bad_sign", "快递100推送签名不正确", retryable=False)
    try:
        data = json.loads(param)
        last = data.get("lastResult") or {}
        waybill = str(last.get("nu") or "")
        events = parse_result(last, waybill)
        status = str(data["status"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise CarrierError(NAME, "malformed", "快递100推送字段不全", retryable=False) from None
    if status == "abort":
        # The push carries no time of its own; when nothing ever moved, now is the best we have.
        at = max((e.occurred_at for e in events), default=clock.now())
        reason = "快递100已停止跟踪：" + (str(data.get("message") or "") or "长时间无轨迹")
        events.append(TrackingEvent(NAME, waybill, TrackingStatus.EXCEPTION, "abort", reason, at))
    return events


# --------------------------------------------------------------------------- the client


class Kuaidi100:
    """CarrierTracking through Kuaidi100 for one carrier's waybills (``company``: shunfeng, ems…)."""

    def __init__(self, settings: Kuaidi100Settings, session: aiohttp.ClientSession, company: str = "shunfeng") -> None:
        self.settings = settings
        self.session = session
        self.company = company
        self.name = NAME

    async def _post(self, url: str, body: bytes) -> tuple[int, bytes]:
        try:
            response = await request(
                self.session,
                "POST",
                url,
                body=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=self.settings.timeout_seconds,
            )
        except HttpTransportError as exc:
            raise CarrierError(NAME, exc.kind, "快递100接口无法访问", retryable=True) from exc
        return response.status, response.body

    async def track(self, waybill: str, *, phone: str = "") -> Sequence[TrackingEvent]:
        status, body = await self._post(
            self.settings.query_endpoint, query_form(self.settings, self.company, waybill, phone)
        )
        return parse_query(status, body, waybill)

    async def subscribe(self, waybill: str, *, phone: str = "") -> None:
        status, body = await self._post(
            self.settings.subscribe_endpoint, subscribe_form(self.settings, self.company, waybill, phone)
        )
        parse_subscribe(status, body)


class Kuaidi100PushReceiver:
    name = NAME

    def __init__(self, settings: Kuaidi100Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock

    def parse_push(self, request: InboundHttp) -> Sequence[TrackingEvent]:
        return parse_callback(request, self.settings.salt, self.clock)

    def answer(self, ok: bool) -> CallbackAnswer:
        # Anything but exactly this makes Kuaidi100 push again.
        body = (
            {"result": True, "returnCode": "200", "message": "成功"}
            if ok
            else {"result": False, "returnCode": "500", "message": "失败"}
        )
        return CallbackAnswer(200, "application/json", json.dumps(body, ensure_ascii=False).encode())
