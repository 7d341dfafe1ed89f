"""Local fake Alibaba and Tencent SMS servers that check signatures as the providers do.

The verification here is written separately from the adapters' signing code (a second
implementation of the same published rules), and tests/unit/providers proves it on the published
worked examples before any adapter is run against it. Scenarios are chosen by setting ``mode``:
``ok``, ``rate_limit``, ``unknown_code``, ``timeout``, ``malformed``. A wrong secret gets the
provider's own authentication error, because the signature really does not match.

Each accepted SMS is kept in ``messages`` — also in ``timeout`` mode, where the fake takes the SMS
and then answers too late, as a provider whose reply was lost — so that the status queries
(Alibaba QuerySendDetails, Tencent PullSmsSendStatus / PullSmsSendStatusByPhoneNumber), signed and
checked like SendSms, find it by our reference; ``report`` sets what the operator said of it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from aiohttp import web

UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def rfc3986(text: str) -> str:
    return "".join(c if c in UNRESERVED else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


def decode_form(raw: str) -> dict[str, str]:
    """Percent-decode once, as the gateway does (``+`` is a space in a form)."""
    out: dict[str, str] = {}
    for pair in filter(None, raw.split("&")):
        key, _, value = pair.partition("=")
        out[unquote(key.replace("+", " "))] = unquote(value.replace("+", " "))
    return out


def alibaba_rpc_expected(secret: str, method: str, params: dict[str, str]) -> str:
    query = "&".join(f"{rfc3986(k)}={rfc3986(params[k])}" for k in sorted(params) if k != "Signature")
    to_sign = method + "&" + rfc3986("/") + "&" + rfc3986(query)
    return base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), "sha1").digest()).decode()


def alibaba_acs3_expected(
    secret: str, method: str, query: dict[str, str], headers: dict[str, str], signed: list[str], body_hash: str
) -> str:
    lines = [
        method,
        "/",
        "&".join(f"{rfc3986(k)}={rfc3986(query[k])}" for k in sorted(query)),
        "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed),
        ";".join(signed),
        body_hash,
    ]
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return hmac.new(secret.encode(), f"ACS3-HMAC-SHA256\n{digest}".encode(), "sha256").hexdigest()


def tc3_expected(
    secret_key: str, service: str, timestamp: int, headers: dict[str, str], signed: str, body: bytes
) -> str:
    names = signed.split(";")
    values = {**headers, "x-tc-action": headers.get("x-tc-action", "").lower()}
    canonical_headers = "".join(f"{n}:{values.get(n, '').strip()}\n" for n in names)
    canonical = "\n".join(["POST", "/", "", canonical_headers, signed, hashlib.sha256(body).hexdigest()])
    day = datetime.fromtimestamp(timestamp, UTC).date().isoformat()
    to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            str(timestamp),
            f"{day}/{service}/tc3_request",
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = ("TC3" + secret_key).encode()
    for part in (day, service, "tc3_request"):
        key = hmac.new(key, part.encode(), "sha256").digest()
    return hmac.new(key, to_sign.encode(), "sha256").hexdigest()


CHINA = timedelta(hours=8)


@dataclass
class SentSms:
    """One SMS the fake provider took: our reference, its id, and when."""

    phone: str
    reference: str
    message_id: str
    template: str
    sent_at: datetime


class FakeSmsServer:
    mode = "ok"
    delay = 0.3
    report = "delivered"
    """What the operator reported of every SMS taken: ``delivered``, ``failed`` or ``waiting``."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self.received: list[dict[str, object]] = []
        self.messages: list[SentSms] = []
        self.queries: list[dict[str, object]] = []
        self.app = web.Application()
        self.app.router.add_post("/", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    async def scenario(self) -> web.StreamResponse | None:
        if self.mode == "timeout":
            await asyncio.sleep(self.delay)
        if self.mode == "malformed":
            return web.Response(status=502, text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        return None


class FakeAlibabaSms(FakeSmsServer):
    def __init__(self, now: Callable[[], datetime], access_keys: dict[str, str]) -> None:
        super().__init__(now)
        self.access_keys = access_keys
        self.nonces: set[str] = set()
        self.counter = 9006197469364984400

    def error(self, code: str, message: str, status: int = 400) -> web.Response:
        body = {"Code": code, "Message": message, "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8D230E"}
        return web.json_response(body, status=status)

    def _check_time(self, stamp: str) -> bool:
        when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        return abs((self.now() - when).total_seconds()) <= 15 * 60

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        auth = request.headers.get("Authorization", "")
        if auth.startswith("ACS3-HMAC-SHA256 "):
            fields = dict(part.split("=", 1) for part in auth[len("ACS3-HMAC-SHA256 ") :].split(","))
            secret = self.access_keys.get(fields.get("Credential", ""))
            if secret is None:
                return self.error("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
            headers = {k.lower(): v for k, v in request.headers.items()}
            if hashlib.sha256(raw).hexdigest() != headers.get("x-acs-content-sha256"):
                return self.error("IncompleteSignature", "The request body hash does not match.")
            signed = fields.get("SignedHeaders", "").split(";")
            if not {"host", "x-acs-action", "x-acs-date", "x-acs-signature-nonce"} <= set(signed):
                return self.error("IncompleteSignature", "Required headers are not signed.")
            query = decode_form(request.query_string)
            expected = alibaba_acs3_expected(
                secret, request.method, query, headers, signed, headers["x-acs-content-sha256"]
            )
            if not hmac.compare_digest(expected, fields.get("Signature", "")):
                return self.error("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
            stamp, nonce = headers["x-acs-date"], headers["x-acs-signature-nonce"]
            params = {**query, **decode_form(raw.decode())}
            action = headers["x-acs-action"]
        else:
            params = {**decode_form(request.query_string), **decode_form(raw.decode())}
            secret = self.access_keys.get(params.get("AccessKeyId", ""))
            if secret is None:
                return self.error("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
            if params.get("SignatureMethod") != "HMAC-SHA1" or "Signature" not in params:
                return self.error("IncompleteSignature", "The request signature does not conform to standards.")
            if not hmac.compare_digest(alibaba_rpc_expected(secret, request.method, params), params["Signature"]):
                return self.error("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
            stamp, nonce, action = params["Timestamp"], params["SignatureNonce"], params.get("Action", "")
        if not self._check_time(stamp):
            return self.error("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        if nonce in self.nonces:
            return self.error("SignatureNonceUsed", "Specified signature nonce was used already.")
        self.nonces.add(nonce)
        if action == "QuerySendDetails":
            return self.query_send_details(params)
        if action != "SendSms":
            return self.error("InvalidAction.NotFound", "Specified api is not found.", 404)
        self.received.append(dict(params))
        if self.mode == "malformed":
            return await self.scenario() or self.error("InternalError", "")
        if self.mode == "rate_limit":
            return self.error("isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10", 200)
        if self.mode == "unknown_code":
            return self.error("isv.SOMETHING_NEW", "新的错误", 200)
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not params.get(name):
                return self.error("MissingParameter", f"{name} is mandatory for this action.")
        json.loads(params.get("TemplateParam", "{}"))
        self.counter += 1
        self.messages.append(
            SentSms(
                params["PhoneNumbers"], params.get("OutId", ""), str(self.counter), params["TemplateCode"], self.now()
            )
        )
        await self.scenario()  # a timeout: taken, but the answer comes too late
        return web.json_response(
            {
                "Code": "OK",
                "Message": "OK",
                "BizId": str(self.counter),
                "RequestId": "A1B2C3D4-0000-4000-8000-000000000000",
            }
        )

    def query_send_details(self, params: dict[str, str]) -> web.Response:
        """QuerySendDetails: the SMS to one number on one Beijing date, a page at a time."""
        self.queries.append(dict(params))
        for name in ("PhoneNumber", "SendDate", "PageSize", "CurrentPage"):
            if not params.get(name):
                return self.error("MissingParameter", f"{name} is mandatory for this action.")
        size, page = int(params["PageSize"]), int(params["CurrentPage"])
        if not 1 <= size <= 50 or page < 1:
            return self.error("InvalidParameter", "PageSize or CurrentPage is invalid.")
        found = [
            m
            for m in self.messages
            if m.phone == params["PhoneNumber"]
            and (m.sent_at + CHINA).strftime("%Y%m%d") == params["SendDate"]
            and params.get("BizId", m.message_id) == m.message_id
        ]
        status, code = {"delivered": (3, "DELIVERED"), "failed": (2, "UNDELIV"), "waiting": (1, "")}[self.report]
        details = [
            {
                "PhoneNum": m.phone,
                "SendStatus": status,
                "ErrCode": code,
                "TemplateCode": m.template,
                "Content": "【汕尾政务】……",
                "SendDate": (m.sent_at + CHINA).strftime("%Y-%m-%d %H:%M:%S"),
                "ReceiveDate": (m.sent_at + CHINA + timedelta(seconds=3)).strftime("%Y-%m-%d %H:%M:%S")
                if status != 1
                else "",
                "OutId": m.reference,
            }
            for m in found[(page - 1) * size : page * size]
        ]
        return web.json_response(
            {
                "Code": "OK",
                "Message": "OK",
                "RequestId": "819BE656-D2E0-4858-8B21-B2E477085AAF",
                "TotalCount": str(len(found)),
                "SmsSendDetailDTOs": {"SmsSendDetailDTO": details},
            }
        )


class FakeTencentSms(FakeSmsServer):
    ACTIONS = ("SendSms", "PullSmsSendStatus", "PullSmsSendStatusByPhoneNumber")

    def __init__(self, now: Callable[[], datetime], secrets: dict[str, str]) -> None:
        super().__init__(now)
        self.secrets = secrets
        self.serial = 1045710669157053657849499619
        self.pulled: set[str] = set()

    def pull_send_status(self, action: str, body: dict[str, object]) -> web.Response:
        """The status reports: by number in a time window (not consumed), or the account's next
        unread ones (each handed out once). A message still waiting has no report yet."""
        self.queries.append({"Action": action, **body})
        limit = body.get("Limit")
        if not isinstance(limit, int) or not 0 < limit <= 100 or not body.get("SmsSdkAppId"):
            return self.error("InvalidParameterValue", "Limit 或 SmsSdkAppId 无效")
        reported = [m for m in self.messages if self.report != "waiting"]
        if action == "PullSmsSendStatusByPhoneNumber":
            begin, offset = body.get("BeginTime"), body.get("Offset")
            if not isinstance(begin, int) or not isinstance(offset, int) or not body.get("PhoneNumber"):
                return self.error("MissingParameter", "缺少 PhoneNumber、BeginTime 或 Offset")
            end = body.get("EndTime") if isinstance(body.get("EndTime"), int) else int(self.now().timestamp())
            assert isinstance(end, int)
            chosen = [
                m for m in reported if m.phone == body["PhoneNumber"] and begin <= int(m.sent_at.timestamp()) <= end
            ][offset : offset + limit]
        else:
            chosen = [m for m in reported if m.message_id not in self.pulled][:limit]
            self.pulled.update(m.message_id for m in chosen)
        success = self.report == "delivered"
        records = [
            {
                "UserReceiveTime": int(m.sent_at.timestamp()) + 3,
                "CountryCode": "86",
                "SubscriberNumber": m.phone.removeprefix("+86"),
                "PhoneNumber": m.phone,
                "SerialNo": m.message_id,
                "ReportStatus": "SUCCESS" if success else "FAIL",
                "Description": "DELIVRD" if success else "UNDELIV",
                "SessionContext": m.reference,
            }
            for m in chosen
        ]
        return web.json_response({"Response": {"PullSmsSendStatusSet": records, "RequestId": "8979fc1e-9564"}})

    def error(self, code: str, message: str) -> web.Response:
        return web.json_response({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "r-1"}})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        auth = headers.get("authorization", "")
        prefix = "TC3-HMAC-SHA256 "
        if not auth.startswith(prefix):
            return self.error("AuthFailure.InvalidAuthorization", "Authorization 格式错误")
        fields = dict(part.strip().split("=", 1) for part in auth[len(prefix) :].split(","))
        secret_id, day, service, terminator = fields.get("Credential", "////").split("/")
        secret_key = self.secrets.get(secret_id)
        if secret_key is None:
            return self.error("AuthFailure.SecretIdNotFound", "密钥不存在")
        timestamp = int(headers.get("x-tc-timestamp", "0"))
        if abs(self.now().timestamp() - timestamp) > 300:
            return self.error("AuthFailure.SignatureExpire", "签名过期")
        signed = fields.get("SignedHeaders", "")
        if signed not in ("content-type;host", "content-type;host;x-tc-action"):
            return self.error("AuthFailure.SignatureFailure", "SignedHeaders 不被接受")
        stamp_day = datetime.fromtimestamp(timestamp, UTC).date().isoformat()
        expected = tc3_expected(secret_key, service, timestamp, headers, signed, raw)
        if (
            day != stamp_day
            or terminator != "tc3_request"
            or not hmac.compare_digest(expected, fields.get("Signature", ""))
        ):
            return self.error("AuthFailure.SignatureFailure", "签名验证失败")
        action = headers.get("x-tc-action")
        if action not in self.ACTIONS or headers.get("x-tc-version") != "2021-01-11":
            return self.error("InvalidAction", "接口不存在")
        if not headers.get("x-tc-region"):
            return self.error("MissingParameter", "缺少 Region")
        body = json.loads(raw)
        if action != "SendSms":
            return self.pull_send_status(action, body)
        self.received.append(body)
        if self.mode == "malformed":
            return await self.scenario() or self.error("InternalError", "")
        code, message = {
            "ok": ("Ok", "send success"),
            "timeout": ("Ok", "send success"),
            "rate_limit": ("LimitExceeded.DeliveryFrequencyLimit", "下发短信命中了频率限制策略"),
            "unknown_code": ("FailedOperation.SomethingNew", "新的错误"),
        }[self.mode]
        self.serial += 1
        if code == "Ok":
            self.messages.append(
                SentSms(
                    body["PhoneNumberSet"][0],
                    body.get("SessionContext", ""),
                    f"5000:{self.serial}",
                    body["TemplateId"],
                    self.now(),
                )
            )
        await self.scenario()  # a timeout: taken, but the answer comes too late
        status = {
            "SerialNo": f"5000:{self.serial}" if code == "Ok" else "",
            "PhoneNumber": body["PhoneNumberSet"][0],
            "Fee": 1 if code == "Ok" else 0,
            "SessionContext": body.get("SessionContext", ""),
            "Code": code,
            "Message": message,
            "IsoCode": "CN",
        }
        return web.json_response({"Response": {"SendStatusSet": [status], "RequestId": "a0aabda6-cf91-4f3e"}})
