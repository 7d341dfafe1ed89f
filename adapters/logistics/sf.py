"""SF Express open platform (丰桥): create order, search routes, cancel, and the route push.

Wire protocol per ../shared/reference/providers.md §3. msgDigest is proved on the published
example; URL encoding follows Java's ``URLEncoder`` because the server is Java (how SF itself
treats ``~`` and ``*`` is [UNVERIFIED]). The response envelope is decoded twice: ``apiResultData``
is a JSON string inside the JSON.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode

import aiohttp

from adapters.http import HttpTransportError, request
from adapters.logistics.common import TrackingTable, beijing, check_token, dedupe
from adapters.logistics.settings import SfSettings
from handoff.ports import (
    Booking,
    BookingRequest,
    CallbackAnswer,
    CarrierError,
    Clock,
    InboundHttp,
    PostalAddress,
    TrackingEvent,
    TrackingStatus,
)

NAME = "sf"

# opCode → our status. 50 and 80 are seen in consumer code [3P]; the others are from SF route
# tables quoted in third-party integrations and are [UNVERIFIED] — an unknown code falls back to
# in_transit (a movement we cannot name) and is logged.
OP_CODES = TrackingTable(
    NAME,
    {
        "50": (TrackingStatus.PICKED_UP, "顺丰已收件"),
        "80": (TrackingStatus.DELIVERED, "已签收"),
        "8000": (TrackingStatus.DELIVERED, "已签收"),  # [UNVERIFIED]
        "30": (TrackingStatus.IN_TRANSIT, "快件在转运中"),  # [UNVERIFIED]
        "31": (TrackingStatus.IN_TRANSIT, "快件到达中转场"),  # [UNVERIFIED]
        "44": (TrackingStatus.OUT_FOR_DELIVERY, "正在派送途中"),  # [UNVERIFIED]
        "204": (TrackingStatus.OUT_FOR_DELIVERY, "派件中"),  # [UNVERIFIED]
        "33": (TrackingStatus.EXCEPTION, "派件异常"),  # [UNVERIFIED]
        "70": (TrackingStatus.EXCEPTION, "派送失败"),  # [UNVERIFIED]
        "99": (TrackingStatus.RETURNED, "快件退回"),  # [UNVERIFIED]
        "648": (TrackingStatus.RETURNED, "快件已退回"),  # [UNVERIFIED]
    },
    fallback=(TrackingStatus.IN_TRANSIT, "未知的顺丰路由码"),
)

# Gateway codes [3P, consistent across many integrations]: retryable ones may succeed later.
GATEWAY_CODES: Mapping[str, tuple[str, bool]] = {
    "A1001": ("必传参数不可为空", False),
    "A1002": ("请求时效已过期", True),
    "A1003": ("IP 无效", False),
    "A1004": ("无对应服务权限", False),
    "A1005": ("流量受控", True),
    "A1006": ("数字签名无效", False),
    "A1007": ("重复请求", False),
    "A1008": ("数据解密失败", False),
    "A1009": ("目标服务异常或不可达", True),
    "A1099": ("系统异常", True),
    "A1011": ("OAuth2 认证失败", False),
}

# --------------------------------------------------------------------------- signing (pure)

_JAVA_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-*_")


def java_url_encode(text: str) -> str:
    """``java.net.URLEncoder.encode(text, "UTF-8")``: keeps ``A-Za-z0-9.-*_``, space → ``+``."""
    out = []
    for char in text:
        if char in _JAVA_SAFE:
            out.append(char)
        elif char == " ":
            out.append("+")
        else:
            out.extend(f"%{b:02X}" for b in char.encode())
    return "".join(out)


def msg_digest(msg_data: str, timestamp: str, check_word: str) -> str:
    """Base64 of the raw MD5 of the URL-encoded ``msgData + timestamp + checkWord``."""
    encoded = java_url_encode(msg_data + timestamp + check_word)
    return base64.b64encode(hashlib.md5(encoded.encode()).digest()).decode()


# --------------------------------------------------------------------------- requests (pure)


def envelope(settings: SfSettings, service_code: str, msg_data: Mapping[str, Any], request_id: str, ts: str) -> bytes:
    data = json.dumps(msg_data, ensure_ascii=False, separators=(",", ":"))
    return urlencode(
        {
            "partnerID": settings.partner_id,
            "requestID": request_id,
            "serviceCode": service_code,
            "timestamp": ts,
            "msgDigest": msg_digest(data, ts, settings.check_word),
            "msgData": data,
        }
    ).encode()


def _contact(kind: int, address: PostalAddress) -> dict[str, Any]:
    return {
        "contactType": kind,
        "contact": address.name,
        "company": address.company,
        "mobile": address.phone,
        "province": address.province,
        "city": address.city,
        "county": address.district,
        "address": address.detail,
    }


def create_order_data(settings: SfSettings, booking: BookingRequest) -> dict[str, Any]:
    data: dict[str, Any] = {
        "language": "zh-CN",
        "orderId": booking.reference,
        "payMethod": 1,
        "expressTypeId": int(settings.express_type),
        "parcelQty": booking.parcels,
        "isOneselfPickup": 0,
        "remark": booking.remark,
        "cargoDetails": [{"name": booking.description, "count": booking.parcels, "unit": "件"}],
        "contactInfoList": [_contact(1, booking.sender), _contact(2, booking.receiver)],
    }
    if settings.monthly_card:
        data["monthlyCard"] = settings.monthly_card
    if booking.weight_kg is not None:
        data["totalWeight"] = booking.weight_kg
    return data


def search_routes_data(waybill: str, phone: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "language": "0",
        "trackingType": "1",
        "trackingNumber": [waybill],
        "methodType": "1",
    }
    if phone:
        data["checkPhoneNo"] = phone[-4:]
    return data


def cancel_order_data(reference: str) -> dict[str, Any]:
    # EXP_RECE_UPDATE_ORDER with dealType 2 (取消) is SF's documented cancel, but it is not in the
    # reference notes we verified against: [UNVERIFIED].
    return {"orderId": reference, "dealType": 2}


# --------------------------------------------------------------------------- responses (pure)


def parse_envelope(status: int, body: bytes) -> Mapping[str, Any]:
    """The business ``msgData`` of a successful call; CarrierError otherwise."""
    try:
        outer = json.loads(body)
        code = outer["apiResultCode"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise CarrierError(NAME, f"http_{status}", "顺丰返回了无法解析的内容", retryable=True) from None
    if code != "A1000":
        reason, retryable = GATEWAY_CODES.get(code, ("未知的顺丰网关码", True))
        raise CarrierError(
            NAME, str(code), f"{reason}：{outer.get('apiErrorMsg') or ''}".rstrip("："), retryable=retryable
        )
    try:
        inner = json.loads(outer["apiResultData"])
        if not isinstance(inner, dict):
            raise TypeError("apiResultData")
    except (json.JSONDecodeError, KeyError, TypeError):
        raise CarrierError(NAME, "malformed", "顺丰 apiResultData 无法解析", retryable=True) from None
    if inner.get("success") is not True or inner.get("errorCode") not in ("S0000", None):
        error = str(inner.get("errorCode") or "unknown")
        reason = "重复下单" if error == "8016" else str(inner.get("errorMsg") or "顺丰业务错误")
        raise CarrierError(NAME, error, reason, retryable=False)
    msg = inner.get("msgData") or {}
    if not isinstance(msg, dict):
        raise CarrierError(NAME, "malformed", "顺丰 msgData 不是对象", retryable=True)
    return msg


def parse_create_order(reference: str, msg: Mapping[str, Any]) -> Booking:
    try:
        waybill = str(msg["waybillNoInfoList"][0]["waybillNo"])
    except (KeyError, IndexError, TypeError):
        raise CarrierError(NAME, "malformed", "顺丰下单应答缺少运单号", retryable=True) from None
    return Booking(NAME, reference, waybill, raw=dict(msg))


def route_event(waybill: str, route: Mapping[str, Any]) -> TrackingEvent:
    code = str(route.get("opCode") or "")
    status, reason = OP_CODES.classify(code)
    return TrackingEvent(
        carrier=NAME,
        waybill=waybill,
        status=status,
        raw_code=code,
        reason=reason,
        occurred_at=beijing(str(route["acceptTime"])),
        place=str(route.get("acceptAddress") or ""),
        description=str(route.get("remark") or ""),
    )


def parse_routes(msg: Mapping[str, Any]) -> list[TrackingEvent]:
    events = []
    try:
        for resp in msg.get("routeResps") or []:
            for route in resp.get("routes") or []:
                events.append(route_event(str(resp["mailNo"]), route))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise CarrierError(NAME, "malformed", "顺丰路由应答字段不全", retryable=True) from None
    return dedupe(events)


def parse_route_push(request: InboundHttp) -> list[TrackingEvent]:
    """RoutePushService in either console mode: JSON, or a form field ``content`` holding XML."""
    content_type = {k.lower(): v for k, v in request.headers.items()}.get("content-type", "")
    try:
        if "json" in content_type:
            routes = json.loads(request.body)["Body"]["WaybillRoute"]
            items = [dict(r) for r in routes]
        else:
            form = parse_qs(request.body.decode(), keep_blank_values=True, strict_parsing=True)
            root = ET.fromstring(form["content"][0])
            items = [dict(el.attrib) for el in root.iter("WaybillRoute")]
        if not items:
            raise ValueError("no WaybillRoute")
        return dedupe(route_event(str(item["mailno"]), item) for item in items)
    except (json.JSONDecodeError, UnicodeDecodeError, ET.ParseError, KeyError, TypeError, ValueError) as exc:
        raise CarrierError(NAME, "malformed", f"顺丰路由推送无法解析：{exc}", retryable=False) from None


# --------------------------------------------------------------------------- the client


class SfExpress:
    """CarrierBooking and CarrierTracking for SF Express."""

    name = NAME

    def __init__(
        self,
        settings: SfSettings,
        session: aiohttp.ClientSession,
        clock: Clock,
        request_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.settings = settings
        self.session = session
        self.clock = clock
        self.request_id = request_id

    async def call(self, service_code: str, msg_data: Mapping[str, Any]) -> Mapping[str, Any]:
        ts = str(int(self.clock.now().timestamp() * 1000))  # the docs say ms; the Python demo sends s
        body = envelope(self.settings, service_code, msg_data, self.request_id(), ts)
        headers = {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}
        try:
            response = await request(
                self.session,
                "POST",
                self.settings.endpoint,
                body=body,
                headers=headers,
                timeout=self.settings.timeout_seconds,
            )
        except HttpTransportError as exc:
            raise CarrierError(NAME, exc.kind, "顺丰接口无法访问", retryable=True) from exc
        return parse_envelope(response.status, response.body)

    async def book(self, request: BookingRequest) -> Booking:
        msg = await self.call("EXP_RECE_CREATE_ORDER", create_order_data(self.settings, request))
        return parse_create_order(request.reference, msg)

    async def cancel(self, reference: str, waybill: str) -> None:
        await self.call("EXP_RECE_UPDATE_ORDER", cancel_order_data(reference))

    async def track(self, waybill: str, *, phone: str = "") -> Sequence[TrackingEvent]:
        return parse_routes(await self.call("EXP_RECE_SEARCH_ROUTES", search_routes_data(waybill, phone)))


class SfRoutePushReceiver:
    """TrackingPushReceiver for RoutePushService. SF documents no push signature [UNVERIFIED], so
    the URL registered in the console carries our secret ``token``."""

    name = NAME

    def __init__(self, settings: SfSettings) -> None:
        self.settings = settings

    def parse_push(self, request: InboundHttp) -> Sequence[TrackingEvent]:
        check_token(request, self.settings.callback_token, NAME)
        return parse_route_push(request)

    def answer(self, ok: bool) -> CallbackAnswer:
        # The mode is chosen once in SF's console; the answer follows it.
        return route_push_answer(ok, xml=self.settings.push_mode == "xml")


def route_push_answer(ok: bool, *, xml: bool) -> CallbackAnswer:
    if xml:
        head = "OK" if ok else "ERR"
        body = f'<Response service="RoutePushService"><Head>{head}</Head></Response>'
        return CallbackAnswer(200, "application/xml;charset=UTF-8", body.encode())
    answer = {"return_code": "0000", "return_msg": "成功"} if ok else {"return_code": "1000", "return_msg": "失败"}
    return CallbackAnswer(200, "application/json;charset=UTF-8", json.dumps(answer, ensure_ascii=False).encode())
