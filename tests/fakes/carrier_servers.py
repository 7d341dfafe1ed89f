"""Local fake SF Express, Kuaidi100 and EMS servers that check signatures as the carriers do.

As for SMS, the checks are a second implementation of the published rules (proved on the
published examples in tests/unit/providers). Scenarios: ``mode`` = ``ok``, ``rate_limit``,
``unknown_code``, ``timeout``, ``malformed``.

EMS: the carrier's real error codes for a bad key are not known; this fake answers ``retCode``
``B0001`` for that, an invention of ours marked as such.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from urllib.parse import quote_plus

from aiohttp import web
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def java_urlencoder(text: str) -> str:
    """java.net.URLEncoder via quote_plus, corrected where the two differ (``*`` and ``~``)."""
    return quote_plus(text, safe="*").replace("~", "%7E")


def sf_digest(msg_data: str, timestamp: str, check_word: str) -> str:
    md5 = hashlib.md5(java_urlencoder(msg_data + timestamp + check_word).encode("utf-8")).digest()
    return base64.b64encode(md5).decode()


class Scenario:
    mode = "ok"
    delay = 0.3

    async def before(self) -> web.Response | None:
        if self.mode == "timeout":
            await asyncio.sleep(self.delay)
        if self.mode == "malformed":
            return web.Response(status=200, text="<html>维护中</html>", content_type="text/html")
        return None


class FakeSf(Scenario):
    def __init__(self, partners: dict[str, str]) -> None:
        self.partners = partners
        self.orders: dict[str, str] = {}
        self.cancelled: list[str] = []
        self.received: list[dict[str, object]] = []
        self.app = web.Application()
        self.app.router.add_post("/std/service", self.handle)

    @staticmethod
    def gateway(code: str, message: str = "") -> web.Response:
        return web.json_response(
            {"apiErrorMsg": message, "apiResponseID": "000173744CA0EE3F", "apiResultCode": code, "apiResultData": None}
        )

    @staticmethod
    def business(msg_data: object, *, error: str = "S0000", message: str | None = None) -> web.Response:
        inner = {"success": error == "S0000", "errorCode": error, "errorMsg": message, "msgData": msg_data}
        return web.json_response(
            {
                "apiErrorMsg": "",
                "apiResponseID": "000173744CA0EE3FEFF1EEFC90D1E13F",
                "apiResultCode": "A1000",
                "apiResultData": json.dumps(inner, ensure_ascii=False),
            }
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        fields = {k: str(v) for k, v in form.items()}
        for name in ("partnerID", "requestID", "serviceCode", "timestamp", "msgData"):
            if not fields.get(name):
                return self.gateway("A1001", f"{name} 不可为空")
        check_word = self.partners.get(fields["partnerID"])
        if check_word is None:
            return self.gateway("A1004", "无对应服务权限")
        expected = sf_digest(fields["msgData"], fields["timestamp"], check_word)
        if not hmac.compare_digest(expected, fields.get("msgDigest", "")):
            return self.gateway("A1006", "数字签名无效")
        answer = await self.before()
        if answer is not None:
            return answer
        if self.mode == "rate_limit":
            return self.gateway("A1005", "流量受控")
        if self.mode == "unknown_code":
            return self.gateway("A1777", "新的网关错误")
        data = json.loads(fields["msgData"])
        self.received.append({"service": fields["serviceCode"], **data})
        service = fields["serviceCode"]
        if service == "EXP_RECE_CREATE_ORDER":
            if data["orderId"] in self.orders:
                return self.business(None, error="8016", message="重复下单")
            waybill = f"SF{7444407670710 + len(self.orders)}"
            self.orders[data["orderId"]] = waybill
            return self.business(
                {
                    "orderId": data["orderId"],
                    "originCode": "755",
                    "destCode": "660",
                    "filterResult": 2,
                    "waybillNoInfoList": [{"waybillType": 1, "waybillNo": waybill}],
                }
            )
        if service == "EXP_RECE_SEARCH_ROUTES":
            waybill = data["trackingNumber"][0]
            routes = [
                {"acceptAddress": "汕尾市", "acceptTime": t, "remark": remark, "opCode": code}
                for t, remark, code in [
                    ("2026-03-10 10:16:24", "顺丰速运 已收取快件", "50"),
                    ("2026-03-10 16:02:00", "快件在转运中", "30"),
                    ("2026-03-11 09:40:11", "已签收", "80"),
                ]
            ]  # fmt: skip
            return self.business({"routeResps": [{"mailNo": waybill, "routes": routes}]})
        if service == "EXP_RECE_UPDATE_ORDER":
            self.cancelled.append(data["orderId"])
            return self.business({"orderId": data["orderId"], "resStatus": 2})
        return self.gateway("A1004", "无对应服务权限")


class FakeKuaidi100(Scenario):
    def __init__(self, customer: str, key: str) -> None:
        self.customer = customer
        self.key = key
        self.subscribed: dict[str, dict[str, object]] = {}
        self.app = web.Application()
        self.app.router.add_post("/poll/query.do", self.query)
        self.app.router.add_post("/poll", self.subscribe)

    async def query(self, request: web.Request) -> web.StreamResponse:
        form = {k: str(v) for k, v in (await request.post()).items()}
        param = form.get("param", "")
        expected = hashlib.md5((param + self.key + form.get("customer", "")).encode()).hexdigest().upper()
        if form.get("customer") != self.customer or not hmac.compare_digest(expected, form.get("sign", "")):
            return web.json_response({"result": False, "returnCode": "503", "message": "验证签名失败"})
        answer = await self.before()
        if answer is not None:
            return answer
        if self.mode == "unknown_code":
            return web.json_response({"result": False, "returnCode": "777", "message": "新的错误"})
        body = json.loads(param)
        return web.json_response(
            {
                "message": "ok",
                "state": "3",
                "status": "200",
                "condition": "F00",
                "ischeck": "1",
                "com": body["com"],
                "nu": body["num"],
                "data": [
                    {"context": "已签收，签收人：本人", "time": "2026-03-11 09:40:11", "ftime": "2026-03-11 09:40:11",
                     "status": "签收", "areaName": "广东,汕尾市"},
                    {"context": "快件已发往汕尾", "time": "2026-03-10 16:02:00", "ftime": "2026-03-10 16:02:00",
                     "status": "在途", "areaName": "广东,汕尾市"},
                    {"context": "已揽收", "time": "2026-03-10 10:16:24", "ftime": "2026-03-10 10:16:24",
                     "status": "揽收", "areaName": "广东,汕尾市"},
                ],
            }
        )  # fmt: skip

    async def subscribe(self, request: web.Request) -> web.StreamResponse:
        form = {k: str(v) for k, v in (await request.post()).items()}
        answer = await self.before()
        if answer is not None:
            return answer
        param = json.loads(form["param"])
        if form.get("schema") != "json" or param.get("key") != self.key:
            return web.json_response({"result": False, "returnCode": "600", "message": "您不是合法的订阅者"})
        if param["number"] in self.subscribed:
            return web.json_response({"result": False, "returnCode": "501", "message": "重复订阅"})
        self.subscribed[param["number"]] = param
        return web.json_response({"result": True, "returnCode": "200", "message": "提交成功"})


class FakeEms(Scenario):
    def __init__(self, sender_no: str, sign_key: str) -> None:
        self.sender_no = sender_no
        self.sign_key = sign_key
        self.app = web.Application()
        self.app.router.add_post("/amp-prod-api/f/amp/api/open", self.handle)

    def open(self, sealed: str) -> dict[str, object] | None:
        try:
            cipher = Cipher(algorithms.SM4(base64.b64decode(self.sign_key)), modes.ECB()).decryptor()
            raw = cipher.update(base64.b64decode(sealed.removeprefix("|$4|"))) + cipher.finalize()
            unpadder = padding.PKCS7(128).unpadder()
            text = (unpadder.update(raw) + unpadder.finalize()).decode()
        except ValueError:
            return None
        if not sealed.startswith("|$4|") or not text.endswith(self.sign_key):
            return None
        value = json.loads(text[: -len(self.sign_key)])
        return value if isinstance(value, dict) else None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        form = {k: str(v) for k, v in (await request.post()).items()}
        biz = self.open(form.get("logitcsInterface", ""))
        if form.get("senderNo") != self.sender_no or biz is None:
            return web.json_response({"retCode": "B0001", "retMsg": "验签失败（本假服务器自拟的代码）", "retBody": ""})
        answer = await self.before()
        if answer is not None:
            return answer
        traces = [
            {"waybillNo": biz["waybillNo"], "opCode": "203", "opTime": "2026-03-10 10:00:00", "opName": "收寄",
             "opDesc": "已收寄", "opOrgName": "汕尾市邮政分公司"},
            {"waybillNo": biz["waybillNo"], "opCode": "704", "opTime": "2026-03-11 11:00:00", "opName": "妥投",
             "opDesc": "已妥投", "opOrgName": "海丰县邮政"},
        ]  # fmt: skip
        return web.json_response(
            {"retCode": "00000", "retMsg": "成功", "retBody": json.dumps(traces, ensure_ascii=False)}
        )
