"""China Post EMS, 协议客户 open platform (api.ems.com.cn): track query and the track push.

EVERYTHING HERE IS [UNVERIFIED]. ../shared/reference/providers.md §4.1 has only third-party
sources: no official page, no official SM4 test vector, no confirmed ack format, and no public API
for government EMS (政务寄递). What is implemented is what those sources agree on:

- a form POST with ``apiCode`` (040001 track query), ``senderNo``, ``authorization``, ``msgType``
  ``0``, ``timeStamp`` (``yyyy-MM-dd HH:mm:ss``), ``version`` ``V1.0.0`` and ``logitcsInterface`` (sic);
- ``logitcsInterface = "|$4|" + Base64(SM4-ECB-PKCS7(key=Base64Decode(signKey), bizJson + signKey))``;
- responses ``{retCode: "00000", retMsg, retBody (JSON string), …}``;
- the 040002 push carries the same envelope; its decrypted payload has ``opCode, opTime, opName,
  opDesc, opOrgName``. We authenticate it by decrypting with our key and requiring the signKey
  suffix — an inference from the request scheme, not a documented check.

The name of the waybill field in the 040001 body (``waybillNo``), the shape of its ``retBody`` (a
list of trace objects like the push's), the opCode table, and the push ack are guesses. Booking
(020003) is not implemented: its body is not established anywhere we could check. Confirm all of
this against 《中小电商企业接口规范 V2.7》 before production use.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode

import aiohttp
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from adapters.http import HttpTransportError, request
from adapters.logistics.common import TrackingTable, beijing, dedupe
from adapters.logistics.settings import EmsSettings
from handoff.ports import CallbackAnswer, CarrierError, Clock, InboundHttp, TrackingEvent, TrackingStatus
from handoff.timeutil import CHINA

NAME = "ems"
PREFIX = "|$4|"

# China Post operation codes, as quoted by third-party integrations: all [UNVERIFIED].
OP_CODES = TrackingTable(
    NAME,
    {
        "203": (TrackingStatus.PICKED_UP, "已收寄"),
        "305": (TrackingStatus.IN_TRANSIT, "离开处理中心"),
        "306": (TrackingStatus.IN_TRANSIT, "到达处理中心"),
        "702": (TrackingStatus.OUT_FOR_DELIVERY, "安排投递"),
        "704": (TrackingStatus.DELIVERED, "已妥投"),
        "748": (TrackingStatus.DELIVERED, "已妥投（代收）"),
        "711": (TrackingStatus.EXCEPTION, "未妥投"),
        "462": (TrackingStatus.RETURNED, "退回"),
    },
    fallback=(TrackingStatus.IN_TRANSIT, "未知的邮政操作码"),
)


# --------------------------------------------------------------------------- SM4 envelope (pure)


def _cipher(sign_key: str) -> Cipher[modes.ECB]:
    key = base64.b64decode(sign_key)
    return Cipher(algorithms.SM4(key), modes.ECB())


def seal(biz_json: str, sign_key: str) -> str:
    padder = padding.PKCS7(128).padder()
    data = padder.update((biz_json + sign_key).encode()) + padder.finalize()
    encryptor = _cipher(sign_key).encryptor()
    return PREFIX + base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode()


def unseal(sealed: str, sign_key: str) -> str:
    """The business JSON; ValueError when the text was not sealed with our key."""
    if not sealed.startswith(PREFIX):
        raise ValueError("missing |$4| prefix")
    decryptor = _cipher(sign_key).decryptor()
    raw = decryptor.update(base64.b64decode(sealed[len(PREFIX) :])) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    text = (unpadder.update(raw) + unpadder.finalize()).decode()
    if not text.endswith(sign_key):
        raise ValueError("signKey suffix missing")
    return text[: -len(sign_key)]


def envelope(settings: EmsSettings, api_code: str, biz: Mapping[str, Any], stamp: str) -> bytes:
    return urlencode(
        {
            "apiCode": api_code,
            "senderNo": settings.sender_no,
            "authorization": settings.authorization,
            "msgType": "0",
            "timeStamp": stamp,
            "version": "V1.0.0",
            "logitcsInterface": seal(json.dumps(biz, ensure_ascii=False, separators=(",", ":")), settings.sign_key),
        }
    ).encode()


# --------------------------------------------------------------------------- responses (pure)


def trace_event(waybill: str, trace: Mapping[str, Any]) -> TrackingEvent:
    code = str(trace.get("opCode") or "")
    status, reason = OP_CODES.classify(code)
    return TrackingEvent(
        carrier=NAME,
        waybill=str(trace.get("waybillNo") or waybill),
        status=status,
        raw_code=code,
        reason=reason,
        occurred_at=beijing(str(trace["opTime"])),
        place=str(trace.get("opOrgName") or ""),
        description=str(trace.get("opDesc") or trace.get("opName") or ""),
    )


def parse_track(status: int, body: bytes, waybill: str) -> list[TrackingEvent]:
    try:
        data = json.loads(body)
        code = str(data["retCode"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise CarrierError(NAME, f"http_{status}", "EMS 返回了无法解析的内容", retryable=True) from None
    if code != "00000":
        raise CarrierError(NAME, code, str(data.get("retMsg") or "EMS 查询失败"), retryable=False)
    try:
        traces = json.loads(data["retBody"]) if isinstance(data["retBody"], str) else data["retBody"]
        if isinstance(traces, dict):
            traces = traces.get("responseItems") or traces.get("traces") or []
        return dedupe(trace_event(waybill, t) for t in traces)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise CarrierError(NAME, "malformed", "EMS 轨迹字段不全", retryable=True) from None


def parse_push(request: InboundHttp, sign_key: str) -> list[TrackingEvent]:
    """The 040002 push, as JSON or as a form; refused unless it unseals with our key."""
    try:
        text = request.body.decode()
        if text.lstrip().startswith("{"):
            outer: Mapping[str, Any] = json.loads(text)
        else:
            outer = {k: v[0] for k, v in parse_qs(text).items()}
        sealed = str(outer["logitcsInterface"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise CarrierError(NAME, "malformed", "EMS 推送无法解析", retryable=False) from None
    try:
        payload = json.loads(unseal(sealed, sign_key))
    except ValueError:  # includes a failed decryption, bad padding and bad JSON
        raise CarrierError(NAME, "bad_sign", "EMS 推送无法用本方密钥解密", retryable=False) from None
    try:
        traces = payload if isinstance(payload, list) else [payload]
        return dedupe(trace_event(str(t.get("waybillNo") or ""), t) for t in traces)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise CarrierError(NAME, "malformed", "EMS 推送字段不全", retryable=False) from None


# --------------------------------------------------------------------------- the client


class Ems:
    """CarrierTracking for EMS. [UNVERIFIED] end to end: see the module docstring."""

    name = NAME

    def __init__(self, settings: EmsSettings, session: aiohttp.ClientSession, clock: Clock) -> None:
        self.settings = settings
        self.session = session
        self.clock = clock

    async def track(self, waybill: str, *, phone: str = "") -> Sequence[TrackingEvent]:
        stamp = self.clock.now().astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        body = envelope(self.settings, "040001", {"waybillNo": waybill}, stamp)
        try:
            response = await request(
                self.session,
                "POST",
                self.settings.endpoint,
                body=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=self.settings.timeout_seconds,
            )
        except HttpTransportError as exc:
            raise CarrierError(NAME, exc.kind, "EMS 接口无法访问", retryable=True) from exc
        return parse_track(response.status, response.body, waybill)


class EmsPushReceiver:
    name = NAME

    def __init__(self, settings: EmsSettings) -> None:
        self.settings = settings

    def parse_push(self, request: InboundHttp) -> Sequence[TrackingEvent]:
        return parse_push(request, self.settings.sign_key)

    def answer(self, ok: bool) -> CallbackAnswer:
        # The ack shape {serialNo, code, codeMessage, senderNo} is [UNVERIFIED]; serialNo is not
        # echoed here because the port's answer() does not see the request.
        body = {
            "code": "00000" if ok else "99999",
            "codeMessage": "成功" if ok else "失败",
            "senderNo": self.settings.sender_no,
        }
        return CallbackAnswer(200, "application/json", json.dumps(body, ensure_ascii=False).encode())
