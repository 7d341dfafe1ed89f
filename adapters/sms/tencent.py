"""Tencent Cloud SMS: SendSms, PullSmsSendStatusByPhoneNumber (API 2021-01-11, TC3-HMAC-SHA256)
and the status callback.

Wire protocol per ../shared/reference/providers.md §2; TC3 is proved on the published vectors. The
body is serialised once and those exact bytes are both hashed and sent.

A send cut off before its ``SerialNo`` came back is found again by our ``SessionContext``, which
every status record echoes. ``PullSmsSendStatus`` cannot do it: it hands out the account's next
unread reports, whoever they are for, and each only once. ``PullSmsSendStatusByPhoneNumber`` lists
one number's reports in a time window (``BeginTime``/``EndTime`` unix seconds, ``Offset``,
``Limit`` ≤ 100) without consuming them. Only reports are listed: a message the operator has not
reported on yet is not found.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp

from adapters.http import HttpTransportError, request
from adapters.sms.alibaba import beijing_time, check_callback_token, never_sent
from adapters.sms.settings import TencentSmsSettings
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

NAME = "tencent"
SERVICE = "sms"
VERSION = "2021-01-11"
CONTENT_TYPE = "application/json; charset=utf-8"

SEND_CODES = StatusTable(
    NAME,
    "send",
    {
        "Ok": (SmsStatus.SENDING, "已提交运营商"),
        # This number must wait: another provider would be refused by the operator too.
        "LimitExceeded.DeliveryFrequencyLimit": (SmsStatus.TEMPORARY_FAILURE, "触发号码频率限制"),
        "LimitExceeded.PhoneNumberDailyLimit": (SmsStatus.TEMPORARY_FAILURE, "号码日发送量超限"),  # [UNVERIFIED]
        "LimitExceeded.PhoneNumberThirtySecondLimit": (SmsStatus.TEMPORARY_FAILURE, "30 秒内发送过多"),  # [UNVERIFIED]
        "LimitExceeded.PhoneNumberOneHourLimit": (SmsStatus.TEMPORARY_FAILURE, "1 小时内发送过多"),  # [UNVERIFIED]
        # The number or the content is at fault.
        "FailedOperation.PhoneNumberInBlacklist": (SmsStatus.PERMANENT_FAILURE, "号码在黑名单中"),
        "FailedOperation.ContainSensitiveWord": (SmsStatus.PERMANENT_FAILURE, "短信内容含敏感词"),
        "InvalidParameterValue.IncorrectPhoneNumber": (SmsStatus.PERMANENT_FAILURE, "手机号码格式错误"),
        "InvalidParameterValue.ContentLengthLimit": (SmsStatus.PERMANENT_FAILURE, "短信内容过长"),
        # Our configuration or Tencent itself is at fault: another provider may send.
        "FailedOperation.SignatureIncorrectOrUnapproved": (SmsStatus.TECHNICAL_FAILURE, "签名未审核通过或不正确"),
        "FailedOperation.TemplateIncorrectOrUnapproved": (SmsStatus.TECHNICAL_FAILURE, "模板未审核通过或不正确"),
        "InvalidParameterValue.SdkAppIdNotExist": (SmsStatus.TECHNICAL_FAILURE, "SdkAppId 不存在"),
        "UnauthorizedOperation.RequestIpNotInWhitelist": (SmsStatus.TECHNICAL_FAILURE, "来源 IP 不在白名单"),
        "InternalError.Timeout": (SmsStatus.TECHNICAL_FAILURE, "腾讯云内部超时"),
        "AuthFailure.SecretIdNotFound": (SmsStatus.TECHNICAL_FAILURE, "SecretId 不存在"),
        "AuthFailure.SignatureFailure": (SmsStatus.TECHNICAL_FAILURE, "签名校验失败"),
        "AuthFailure.SignatureExpire": (SmsStatus.TECHNICAL_FAILURE, "请求时间戳过期"),
        "RequestLimitExceeded": (SmsStatus.TECHNICAL_FAILURE, "接口调用频率超限"),
        "MissingParameter": (SmsStatus.TECHNICAL_FAILURE, "缺少参数"),
        "InvalidParameter": (SmsStatus.TECHNICAL_FAILURE, "参数错误"),
    },
    fallback=(SmsStatus.TECHNICAL_FAILURE, "未知的腾讯云返回码"),
)

REPORT_CODES = StatusTable(NAME, "report", SMPP_STATS, fallback=(SmsStatus.PERMANENT_FAILURE, "未知的回执码"))

# --------------------------------------------------------------------------- TC3 (pure)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Tc3:
    canonical_request: str
    string_to_sign: str
    signature: str
    authorization: str


def tc3_sign(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    action: str,
    timestamp: int,
    payload: bytes,
    sign_action: bool = True,
) -> Tc3:
    canonical_headers = f"content-type:{CONTENT_TYPE}\nhost:{host}\n"
    signed_headers = "content-type;host"
    if sign_action:
        canonical_headers += f"x-tc-action:{action.lower()}\n"
        signed_headers += ";x-tc-action"
    canonical = f"POST\n/\n\n{canonical_headers}\n{signed_headers}\n{hashlib.sha256(payload).hexdigest()}"
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{day}/{service}/tc3_request"
    string_to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    k_date = _hmac(f"TC3{secret_key}".encode(), day)
    k_signing = _hmac(_hmac(k_date, service), "tc3_request")
    signature = hmac.new(k_signing, string_to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
    )
    return Tc3(canonical, string_to_sign, signature, authorization)


# --------------------------------------------------------------------------- requests (pure)


def e164(phone: str) -> str:
    digits = phone.strip().replace(" ", "").replace("-", "")
    if digits.startswith("+"):
        return digits
    if digits.startswith("0086"):
        return "+" + digits[2:]
    if len(digits) == 13 and digits.startswith("86"):
        return "+" + digits
    return "+86" + digits


def send_payload(
    settings: TencentSmsSettings, phone: str, template_key: str, params: Mapping[str, str], context: str
) -> bytes:
    tpl = check_params(template_key, params, NAME)
    template_id = settings.templates.get(template_key)
    if not template_id:
        raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, "template", f"腾讯云未配置模板 {template_key}")
    body = {
        "PhoneNumberSet": [e164(phone)],
        "SmsSdkAppId": settings.sdk_app_id,
        "SignName": settings.sign_name,
        "TemplateId": template_id,
        "TemplateParamSet": [params[p] for p in tpl.params],
        "SessionContext": context,
    }
    return json.dumps(body, ensure_ascii=False).encode()


PULL_LIMIT = 100


def pull_by_phone_payload(
    settings: TencentSmsSettings, phone: str, begin: datetime, end: datetime, offset: int
) -> bytes:
    body = {
        "BeginTime": int(begin.timestamp()),
        "Offset": offset,
        "Limit": PULL_LIMIT,
        "PhoneNumber": e164(phone),
        "SmsSdkAppId": settings.sdk_app_id,
        "EndTime": int(end.timestamp()),
    }
    return json.dumps(body, ensure_ascii=False).encode()


def build_send_request(
    settings: TencentSmsSettings, payload: bytes, timestamp: int, action: str = "SendSms"
) -> dict[str, str]:
    from urllib.parse import urlsplit

    host = urlsplit(settings.endpoint).netloc
    signed = tc3_sign(
        secret_id=settings.secret_id,
        secret_key=settings.secret_key,
        service=SERVICE,
        host=host,
        action=action,
        timestamp=timestamp,
        payload=payload,
    )
    return {
        "Authorization": signed.authorization,
        "Content-Type": CONTENT_TYPE,
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Version": VERSION,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Region": settings.region,
    }


# --------------------------------------------------------------------------- responses (pure)


def _response(status: int, body: bytes) -> dict[str, object] | None:
    try:
        data = json.loads(body)
        response = data["Response"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        return None
    return response if isinstance(response, dict) else None


def _raise_error(response: Mapping[str, object]) -> None:
    error = response.get("Error")
    if isinstance(error, dict):
        code = str(error.get("Code") or "")
        our, reason = SEND_CODES.classify(code)
        if our is SmsStatus.SENDING:  # an "Ok" in an Error block is still an error
            our, reason = SmsStatus.TECHNICAL_FAILURE, "腾讯云返回了错误"
        raise ProviderError(NAME, our, code, f"{reason}：{error.get('Message') or ''}".rstrip("："))


def parse_send_response(status: int, body: bytes) -> SmsReceipt:
    """An unreadable answer, or a success without a serial number, leaves the outcome unknown."""
    response = _response(status, body)
    if response is None:
        raise SmsOutcomeUnknown(NAME, f"http_{status}", "腾讯云返回了无法解析的内容")
    _raise_error(response)
    results = response.get("SendStatusSet")
    if not isinstance(results, list) or len(results) != 1 or not isinstance(results[0], dict):
        raise SmsOutcomeUnknown(NAME, "malformed", "腾讯云应答缺少 SendStatusSet")
    result = results[0]
    # The result is per number: a request can succeed while this number's Code is an error.
    code = str(result.get("Code") or "")
    our, reason = SEND_CODES.classify(code)
    if our is not SmsStatus.SENDING:
        raise ProviderError(NAME, our, code, f"{reason}：{result.get('Message') or ''}".rstrip("："))
    serial = result.get("SerialNo")
    if not isinstance(serial, str) or not serial:
        raise SmsOutcomeUnknown(NAME, code, "腾讯云成功应答缺少 SerialNo")
    return SmsReceipt(NAME, serial, SmsStatus.SENDING, code, reason)


def parse_pull_response(status: int, body: bytes, reference: str) -> tuple[SmsDeliveryReport | None, int]:
    """(the status record whose ``SessionContext`` is ``reference``, or None; records on the page)."""
    response = _response(status, body)
    if response is None:
        raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, f"http_{status}", "腾讯云返回了无法解析的内容")
    _raise_error(response)
    records = response.get("PullSmsSendStatusSet")
    if not isinstance(records, list):
        raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, "malformed", "腾讯云应答缺少 PullSmsSendStatusSet")
    for record in records:
        if isinstance(record, dict) and reference and record.get("SessionContext") == reference:
            return pulled_report(record), len(records)
    return None, len(records)


def pulled_report(record: Mapping[str, object]) -> SmsDeliveryReport:
    code = str(record.get("Description") or "")
    if record.get("ReportStatus") == "SUCCESS":
        status, reason = SmsStatus.DELIVERED, "用户接收成功"
    else:
        status, reason = REPORT_CODES.classify(code)
        if status in (SmsStatus.DELIVERED, SmsStatus.SENDING):  # FAIL wins over a code
            status, reason = SmsStatus.PERMANENT_FAILURE, code or "发送失败"
    try:
        received = datetime.fromtimestamp(int(str(record.get("UserReceiveTime"))), UTC)
    except (TypeError, ValueError, OverflowError):
        received = datetime.now(UTC)
    return SmsDeliveryReport(
        provider=NAME,
        message_id=str(record.get("SerialNo") or ""),
        phone=str(record.get("PhoneNumber") or ""),
        status=status,
        raw_code=code,
        reason=reason,
        reported_at=received,
    )


def parse_status_callback(body: bytes) -> list[SmsDeliveryReport]:
    """短信下发状态通知: a JSON array of results."""
    try:
        items = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, "malformed", "回执不是 JSON") from None
    if not isinstance(items, list):
        raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, "malformed", "回执应为 JSON 数组")
    reports = []
    for item in items:
        try:
            report_status = item["report_status"]
            code = str(item.get("errmsg") or "")
            if report_status == "SUCCESS":
                status, reason = SmsStatus.DELIVERED, str(item.get("description") or "用户接收成功")
            elif report_status == "FAIL":
                status, reason = REPORT_CODES.classify(code)
                if status is SmsStatus.DELIVERED:
                    status, reason = SmsStatus.PERMANENT_FAILURE, str(item.get("description") or code)
            else:
                raise ValueError(f"report_status={report_status!r}")
            nation = str(item.get("nationcode") or "86")
            reports.append(
                SmsDeliveryReport(
                    provider=NAME,
                    message_id=str(item["sid"]),
                    phone=f"+{nation}{item['mobile']}",
                    status=status,
                    raw_code=code,
                    reason=reason,
                    reported_at=beijing_time(str(item["user_receive_time"])),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, "malformed", f"回执字段不全：{exc}") from None
    return reports


# --------------------------------------------------------------------------- the client


class TencentSms:
    name = NAME

    def __init__(self, settings: TencentSmsSettings, session: aiohttp.ClientSession, clock: Clock) -> None:
        self.settings = settings
        self.session = session
        self.clock = clock

    async def send(
        self, phone: str, template_key: str, params: Mapping[str, str], *, reference: str = ""
    ) -> SmsReceipt:
        payload = send_payload(self.settings, phone, template_key, params, context=reference or secrets.token_hex(8))
        status, body = await self._call("SendSms", payload, unknown_on_cut=True)
        return parse_send_response(status, body)

    async def query(self, phone: str, reference: str, sent_after: datetime) -> SmsDeliveryReport | None:
        """Reports to ``phone`` from a minute before ``sent_after`` (clock skew) until now."""
        begin, end = sent_after - timedelta(minutes=1), self.clock.now()
        offset, most = 0, 10 * PULL_LIMIT
        while offset < most:
            payload = pull_by_phone_payload(self.settings, phone, begin, end, offset)
            status, body = await self._call("PullSmsSendStatusByPhoneNumber", payload)
            found, count = parse_pull_response(status, body, reference)
            if found is not None:
                return found
            if count < PULL_LIMIT:
                break
            offset += PULL_LIMIT
        return None

    async def _call(self, action: str, payload: bytes, unknown_on_cut: bool = False) -> tuple[int, bytes]:
        headers = build_send_request(self.settings, payload, int(self.clock.now().timestamp()), action)
        try:
            response = await request(
                self.session,
                "POST",
                self.settings.endpoint,
                body=payload,
                headers=headers,
                timeout=self.settings.timeout_seconds,
            )
        except HttpTransportError as exc:
            if unknown_on_cut and not never_sent(exc):
                raise SmsOutcomeUnknown(NAME, exc.kind, "腾讯云短信接口无应答，发送结果未知") from exc
            raise ProviderError(NAME, SmsStatus.TECHNICAL_FAILURE, exc.kind, "腾讯云短信接口无法访问") from exc
        return response.status, response.body


class TencentReportReceiver:
    name = NAME

    def __init__(self, settings: TencentSmsSettings) -> None:
        self.settings = settings

    def parse_reports(self, request: InboundHttp) -> Sequence[SmsDeliveryReport]:
        check_callback_token(request, self.settings.callback_token, NAME)
        return parse_status_callback(request.body)

    def answer(self, ok: bool) -> CallbackAnswer:
        if ok:
            return CallbackAnswer(200, "application/json", json.dumps({"result": 0, "errmsg": "OK"}).encode())
        return CallbackAnswer(500, "application/json", json.dumps({"result": 1, "errmsg": "FAIL"}).encode())
