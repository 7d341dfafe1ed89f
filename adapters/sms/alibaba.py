"""Alibaba Cloud SMS (Dysmsapi 2017-05-25): SendSms, QuerySendDetails and the SmsReport push.

Wire protocol per ../shared/reference/providers.md §1. Two signatures are implemented: the RPC v1
HMAC-SHA1 one (proved on the published SendSms example) and ACS3-HMAC-SHA256 (proved on the
published V3 example), the current SDK default. Parameters travel in a form body rather than the
URL so that phone numbers stay out of access logs.

QuerySendDetails (same RPC API and signatures; ``PhoneNumber``, ``SendDate`` yyyyMMdd,
``PageSize`` ≤ 50, ``CurrentPage``, optional ``BizId``) lists the messages sent to one number on one
day with their ``OutId``: it finds an SMS whose send was cut off before we got its ``BizId``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from hmac import compare_digest
from urllib.parse import quote, urlsplit

import aiohttp

from adapters.http import HttpTransportError, request
from adapters.sms.settings import AlibabaSmsSettings
from adapters.sms.statuses import SMPP_STATS, StatusTable
from adapters.sms.templates import check_params
from handoff.ports import (
    CallbackAnswer,
    Clock,
    InboundHttp,
    ProviderError,
    SmsDeliveryReport,
    SmsOutcomeUnknown,
    SmsReceipt,
    SmsStatus,
)
from handoff.timeutil import CHINA

NAME = "alibaba"
VERSION = "2017-05-25"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

# --------------------------------------------------------------------------- status tables

SEND_CODES = StatusTable(
    NAME,
    "send",
    {
        "OK": (SmsStatus.SENDING, "已提交运营商"),
        # Per number/sign frequency control: this number must wait; another provider would not help.
        "isv.BUSINESS_LIMIT_CONTROL": (SmsStatus.TEMPORARY_FAILURE, "触发号码频率限制"),
        "isv.DAY_LIMIT_CONTROL": (SmsStatus.TEMPORARY_FAILURE, "触发日发送限额"),
        "isv.MONTH_LIMIT_CONTROL": (SmsStatus.TEMPORARY_FAILURE, "触发月发送限额"),
        # The message or the number is at fault: no provider will deliver it.
        "isv.SMS_CONTENT_ILLEGAL": (SmsStatus.PERMANENT_FAILURE, "短信内容含违禁词"),
        "isv.DOMESTIC_NUMBER_NOT_SUPPORTED": (SmsStatus.PERMANENT_FAILURE, "号码不支持国内短信"),
        "isv.MOBILE_NUMBER_ILLEGAL": (SmsStatus.PERMANENT_FAILURE, "手机号码格式错误"),  # [UNVERIFIED] code name
        "isv.TEMPLATE_MISSING_PARAMETERS": (SmsStatus.PERMANENT_FAILURE, "模板缺少参数"),  # [UNVERIFIED]
        "isv.EXTEND_CODE_ERROR": (SmsStatus.PERMANENT_FAILURE, "扩展码错误"),
        # Our account, sign or template at this provider is at fault: another provider may send.
        "isv.SMS_SIGNATURE_SCENE_ILLEGAL": (SmsStatus.TECHNICAL_FAILURE, "签名与模板场景不符"),
        "isv.SIGN_STATE_ILLEGAL": (SmsStatus.TECHNICAL_FAILURE, "签名未审核通过"),
        "isv.SMS_SIGN_ILLEGAL": (SmsStatus.TECHNICAL_FAILURE, "签名不合法"),
        "isv.SMS_SIGNATURE_ILLEGAL": (SmsStatus.TECHNICAL_FAILURE, "签名不合法"),  # [3P]
        "isv.DENY_IP_RANGE": (SmsStatus.TECHNICAL_FAILURE, "来源 IP 不在白名单"),
        "isp.RAM_PERMISSION_DENY": (SmsStatus.TECHNICAL_FAILURE, "RAM 权限不足"),
        "isv.OUT_OF_SERVICE": (SmsStatus.TECHNICAL_FAILURE, "账户停机"),
        "isv.PRODUCT_UN_SUBSCRIPT": (SmsStatus.TECHNICAL_FAILURE, "未开通短信服务"),
        "isv.PRODUCT_UNSUBSCRIBE": (SmsStatus.TECHNICAL_FAILURE, "未开通短信服务"),
        "isv.ACCOUNT_NOT_EXISTS": (SmsStatus.TECHNICAL_FAILURE, "账户不存在"),
        "isv.ACCOUNT_ABNORMAL": (SmsStatus.TECHNICAL_FAILURE, "账户异常"),
        "isv.AMOUNT_NOT_ENOUGH": (SmsStatus.TECHNICAL_FAILURE, "账户余额不足"),  # [UNVERIFIED]
        # Gateway errors [UNVERIFIED code names, well known from the SDKs].
        "SignatureDoesNotMatch": (SmsStatus.TECHNICAL_FAILURE, "签名校验失败"),
        "IncompleteSignature": (SmsStatus.TECHNICAL_FAILURE, "签名不完整"),
        "InvalidAccessKeyId.NotFound": (SmsStatus.TECHNICAL_FAILURE, "AccessKeyId 不存在"),
        "InvalidTimeStamp.Expired": (SmsStatus.TECHNICAL_FAILURE, "请求时间戳过期"),
        "SignatureNonceUsed": (SmsStatus.TECHNICAL_FAILURE, "随机数重复使用"),
        "Throttling.User": (SmsStatus.TECHNICAL_FAILURE, "接口调用频率超限"),  # [UNVERIFIED]
    },
    fallback=(SmsStatus.TECHNICAL_FAILURE, "未知的阿里云返回码"),
)

# SmsReport err_code: the documented example is DELIVERED; the rest are the SMPP stats the
# operators pass through. ``success`` decides delivered/not-delivered when a code is unknown.
REPORT_CODES = StatusTable(NAME, "report", SMPP_STATS, fallback=(SmsStatus.PERMANENT_FAILURE, "未知的回执码"))

# --------------------------------------------------------------------------- signing (pure)


def percent_encode(value: str) -> str:
    """RFC 3986 as Alibaba wants it: only ``A-Za-z0-9-_.~`` stay; space is %20, ``*`` is %2A."""
    return quote(value, safe="~")


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def rpc_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def rpc_signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """RPC v1 (HMAC-SHA1). The key is the secret plus ``&``."""
    digest = hmac.new(f"{secret}&".encode(), rpc_string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def acs3_canonical_request(
    method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], payload_sha256: str
) -> tuple[str, str]:
    """(CanonicalRequest, SignedHeaders). ``headers`` are the ones to sign, any case."""
    lowered = {k.lower(): v.strip() for k, v in headers.items()}
    names = sorted(lowered)
    canonical_headers = "".join(f"{n}:{lowered[n]}\n" for n in names)
    signed = ";".join(names)
    return f"{method}\n{path}\n{canonical_query(query)}\n{canonical_headers}\n{signed}\n{payload_sha256}", signed


def acs3_signature(secret: str, canonical_request: str) -> str:
    string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical_request.encode()).hexdigest()
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def acs3_authorization(access_key_id: str, signed_headers: str, signature: str) -> str:
    return f"ACS3-HMAC-SHA256 Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"


# --------------------------------------------------------------------------- requests (pure)


def send_params(
    settings: AlibabaSmsSettings, phone: str, template_key: str, params: Mapping[str, str], out_id: str
) -> dict[str, str]:
    check_params(template_key, params, NAME)
    code = settings.templates.get(template_key)
    if not code:
        raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, "template", f"阿里云未配置模板 {template_key}")
    return {
        "PhoneNumbers": phone,
        "SignName": settings.sign_name,
        "TemplateCode": code,
        "TemplateParam": json.dumps(dict(params), ensure_ascii=False, separators=(",", ":")),
        "OutId": out_id,
    }


def form_body(params: Mapping[str, str]) -> bytes:
    return canonical_query(params).encode()


def query_params(phone: str, day: date, page: int, page_size: int = 50, biz_id: str = "") -> dict[str, str]:
    """QuerySendDetails: the messages to ``phone`` sent on ``day`` (Beijing date), one page."""
    params = {
        "PhoneNumber": phone,
        "SendDate": day.strftime("%Y%m%d"),
        "PageSize": str(page_size),
        "CurrentPage": str(page),
    }
    if biz_id:
        params["BizId"] = biz_id
    return params


def build_rpc_request(
    settings: AlibabaSmsSettings, business: Mapping[str, str], now: datetime, nonce: str, action: str = "SendSms"
) -> tuple[dict[str, str], bytes]:
    """(headers, body) of a signed RPC v1 POST."""
    params = {
        **business,
        "AccessKeyId": settings.access_key_id,
        "Action": action,
        "Format": "JSON",
        "RegionId": settings.region,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce,
        "SignatureVersion": "1.0",
        "Timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": VERSION,
    }
    params["Signature"] = rpc_signature(settings.access_key_secret, "POST", params)
    return {"Content-Type": "application/x-www-form-urlencoded"}, form_body(params)


def build_acs3_request(
    settings: AlibabaSmsSettings, business: Mapping[str, str], now: datetime, nonce: str, action: str = "SendSms"
) -> tuple[dict[str, str], bytes]:
    """(headers, body) of a signed ACS3 POST, the business parameters as a form body."""
    body = form_body(business)
    headers = {
        "host": urlsplit(settings.endpoint).netloc,
        "content-type": "application/x-www-form-urlencoded",
        "x-acs-action": action,
        "x-acs-version": VERSION,
        "x-acs-date": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": nonce,
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    canonical, signed = acs3_canonical_request("POST", "/", {}, headers, headers["x-acs-content-sha256"])
    headers["Authorization"] = acs3_authorization(
        settings.access_key_id, signed, acs3_signature(settings.access_key_secret, canonical)
    )
    return headers, body


# --------------------------------------------------------------------------- responses (pure)


def _json_with_code(status: int, body: bytes) -> dict[str, object] | None:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("Code"), str) else None


def parse_send_response(status: int, body: bytes) -> SmsReceipt:
    """Branch on ``Code``, not the HTTP status (which for business errors is not documented). An
    answer we cannot read (a proxy's error page) does not say the SMS was refused: its outcome is
    unknown."""
    data = _json_with_code(status, body)
    if data is None:
        raise SmsOutcomeUnknown(NAME, f"http_{status}", "阿里云返回了无法解析的内容")
    code = str(data["Code"])
    our, reason = SEND_CODES.classify(code)
    message = str(data.get("Message") or "")
    if our is not SmsStatus.SENDING:
        raise ProviderError(NAME, our, code, f"{reason}：{message}" if message else reason)
    biz_id = data.get("BizId")
    if not isinstance(biz_id, str) or not biz_id:
        raise SmsOutcomeUnknown(NAME, code, "阿里云成功应答缺少 BizId")
    return SmsReceipt(NAME, biz_id, SmsStatus.SENDING, code, reason)


# QuerySendDetails ``SendStatus``: 1 waiting for the operator's receipt, 2 failed, 3 delivered.
WAITING, FAILED, DELIVERED = 1, 2, 3


def parse_query_response(status: int, body: bytes, reference: str) -> tuple[SmsDeliveryReport | None, int]:
    """(the message whose ``OutId`` is ``reference``, or None; ``TotalCount`` of the day)."""
    data = _json_with_code(status, body)
    if data is None:
        raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, f"http_{status}", "阿里云返回了无法解析的内容")
    code = str(data["Code"])
    if code != "OK":
        _, reason = SEND_CODES.classify(code)
        message = str(data.get("Message") or "")
        raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, code, f"{reason}：{message}" if message else reason)
    holder = data.get("SmsSendDetailDTOs")
    items = holder.get("SmsSendDetailDTO") if isinstance(holder, dict) else holder
    try:
        total = int(str(data.get("TotalCount") or 0))
    except ValueError:
        total = 0
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and reference and str(item.get("OutId") or "") == reference:
            return detail_report(item), total
    return None, total


def detail_report(item: Mapping[str, object]) -> SmsDeliveryReport:
    """One SmsSendDetailDTO as our report (no BizId in it: the message id stays unknown)."""
    code = str(item.get("ErrCode") or "")
    try:
        send_status = int(str(item.get("SendStatus")))
    except ValueError:
        send_status = 0
    if send_status == DELIVERED:
        status, reason = SmsStatus.DELIVERED, "用户接收成功"
    elif send_status == FAILED:
        status, reason = REPORT_CODES.classify(code)
        if status in (SmsStatus.DELIVERED, SmsStatus.SENDING):  # a failure flag wins over a code
            status, reason = SmsStatus.PERMANENT_FAILURE, code or "发送失败"
    else:
        status, reason = SmsStatus.SENDING, "已提交运营商，等待回执"
    when = str(item.get("ReceiveDate") or item.get("SendDate") or "")
    try:
        reported_at = beijing_time(when)
    except ValueError:
        reported_at = datetime.now(UTC)
    return SmsDeliveryReport(
        provider=NAME,
        message_id="",
        phone=str(item.get("PhoneNum") or ""),
        status=status,
        raw_code=code or str(send_status),
        reason=reason,
        reported_at=reported_at,
    )


def send_dates(sent_after: datetime, now: datetime, most: int = 30) -> list[date]:
    """The Beijing dates from ``sent_after`` to ``now``, newest first (QuerySendDetails asks one
    day at a time and keeps 30 days)."""
    first, last = sent_after.astimezone(CHINA).date(), now.astimezone(CHINA).date()
    days = [last - timedelta(days=n) for n in range(max((last - first).days, 0) + 1)]
    return days[:most]


def beijing_time(text: str) -> datetime:
    """``2017-01-01 00:00:00``: the pushes carry Beijing time without a zone."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)


def parse_sms_report(body: bytes) -> list[SmsDeliveryReport]:
    """The SmsReport push: a JSON array, possibly several reports in one request."""
    try:
        items = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, "malformed", "回执不是 JSON") from None
    if not isinstance(items, list):
        raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, "malformed", "回执应为 JSON 数组")
    reports = []
    for item in items:
        try:
            code = str(item.get("err_code") or "")
            success = item["success"]
            if not isinstance(success, bool):
                raise TypeError("success")
            if success:
                status, reason = SmsStatus.DELIVERED, str(item.get("err_msg") or "用户接收成功")
            else:
                status, reason = REPORT_CODES.classify(code)
                if status is SmsStatus.DELIVERED:  # a failure flag wins over a code
                    status, reason = SmsStatus.PERMANENT_FAILURE, str(item.get("err_msg") or code)
            reports.append(
                SmsDeliveryReport(
                    provider=NAME,
                    message_id=str(item["biz_id"]),
                    phone=str(item["phone_number"]),
                    status=status,
                    raw_code=code,
                    reason=reason,
                    reported_at=beijing_time(str(item["report_time"])),
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, "malformed", f"回执字段不全：{exc}") from None
    return reports


def never_sent(exc: HttpTransportError) -> bool:
    """True when the request cannot have reached the provider (no connection was made): another
    provider may safely send. A timeout or a connection cut mid-request may hide a sent SMS."""
    return isinstance(exc.__cause__, aiohttp.ClientConnectorError)


def check_callback_token(request: InboundHttp, expected: str, provider: str) -> None:
    """Neither Alibaba nor Tencent signs its delivery push, so the URL we register carries a
    secret ``token``; a push without it is refused."""
    if not expected or not compare_digest(request.query.get("token", "").encode(), expected.encode()):
        raise ProviderError(provider, SmsStatus.TECHNICAL_FAILURE, "forbidden", "回调令牌不正确")


# --------------------------------------------------------------------------- the client


class AlibabaSms:
    """SmsSender and SmsStatusQuery for Alibaba Cloud. ``OutId`` carries our reference (SendSms is
    not idempotent; the notifications worker de-duplicates by event and recipient, and finds a
    cut-off send again by its ``OutId``)."""

    name = NAME

    def __init__(
        self,
        settings: AlibabaSmsSettings,
        session: aiohttp.ClientSession,
        clock: Clock,
        nonce: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.settings = settings
        self.session = session
        self.clock = clock
        self.nonce = nonce

    async def send(
        self, phone: str, template_key: str, params: Mapping[str, str], *, reference: str = ""
    ) -> SmsReceipt:
        business = send_params(self.settings, phone, template_key, params, out_id=reference or secrets.token_hex(8))
        status, body = await self._call("SendSms", business, unknown_on_cut=True)
        return parse_send_response(status, body)

    async def query(self, phone: str, reference: str, sent_after: datetime) -> SmsDeliveryReport | None:
        page_size, most_pages = 50, 20
        for day in send_dates(sent_after, self.clock.now()):
            for page in range(1, most_pages + 1):
                status, body = await self._call("QuerySendDetails", query_params(phone, day, page, page_size))
                found, total = parse_query_response(status, body, reference)
                if found is not None:
                    return found
                if page * page_size >= total:
                    break
        return None

    async def _call(self, action: str, business: Mapping[str, str], unknown_on_cut: bool = False) -> tuple[int, bytes]:
        build = build_acs3_request if self.settings.signature == "acs3" else build_rpc_request
        headers, body = build(self.settings, business, self.clock.now(), self.nonce(), action)
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
            if unknown_on_cut and not never_sent(exc):
                raise SmsOutcomeUnknown(NAME, exc.kind, "阿里云短信接口无应答，发送结果未知") from exc
            raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, exc.kind, "阿里云短信接口无法访问") from exc
        return response.status, response.body


class AlibabaReportReceiver:
    """SmsReportReceiver for the SmsReport push."""

    name = NAME

    def __init__(self, settings: AlibabaSmsSettings) -> None:
        self.settings = settings

    def parse_reports(self, request: InboundHttp) -> Sequence[SmsDeliveryReport]:
        check_callback_token(request, self.settings.callback_token, NAME)
        return parse_sms_report(request.body)

    def answer(self, ok: bool) -> CallbackAnswer:
        # Only a 200 with a numeric ``code`` counts as received; anything else is retried.
        if ok:
            return CallbackAnswer(200, "application/json", json.dumps({"code": 0, "msg": "接收成功"}).encode())
        return CallbackAnswer(500, "application/json", json.dumps({"code": 1, "msg": "处理失败"}).encode())
