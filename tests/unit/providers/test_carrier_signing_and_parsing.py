"""Carrier signatures on the published examples, and callback parsing: refused when forged,
deterministic when repeated."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import pytest

from adapters.logistics import ems, kuaidi100, sf
from adapters.logistics.common import event_key, last_movement
from adapters.logistics.internal import InternalCourier, courier_event
from adapters.logistics.settings import EmsSettings, Kuaidi100Settings, SfSettings
from handoff.ports import BookingRequest, CarrierError, InboundHttp, PostalAddress, TrackingEvent, TrackingStatus
from tests.fakes import carrier_servers
from tests.fakes.provider_clock import FixedClock

SF_MSG = '{"language":"zh-CN","orderId":"QIAO-20200618-004"}'
K100_QUERY_PARAM = '{"com":"yuantong","num":"YT9693083639795"}'
K100_CALLBACK_PARAM = (
    '{"status":"polling","message":"","lastResult":{"message":"ok","state":"0","status":"200","ischeck":"0",'
    '"com":"yuantong","nu":"YT9693083639795","data":[]}}'
)
SF_JSON_PUSH = json.dumps(
    {
        "Body": {
            "WaybillRoute": [
                {"id": "1", "mailno": "SF7444407670710", "orderid": "SW-1", "acceptTime": "2026-03-10 10:16:24",
                 "acceptAddress": "汕尾", "remark": "上门收件", "opCode": "50"},
                {"id": "2", "mailno": "SF7444407670710", "orderid": "SW-1", "acceptTime": "2026-03-11 09:40:11",
                 "acceptAddress": "海丰", "remark": "已签收", "opCode": "80"},
            ]
        }
    },
    ensure_ascii=False,
).encode()  # fmt: skip
SF_XML = (
    '<Request service="RoutePushService" lang="zh-CN"><Body><WaybillRoute id="1" mailno="SF7444407670710" '
    'orderid="SW-441521-0001" acceptTime="2026-03-10 10:16:24" acceptAddress="汕尾" remark="上门收件" opCode="50"/>'
    "</Body></Request>"
)
SIGN_KEY = base64.b64encode(b"0123456789abcdef").decode()


def push(body: bytes, content_type: str, token: str = "t0ken") -> InboundHttp:
    return InboundHttp("POST", "/callbacks/carrier", {"token": token}, {"Content-Type": content_type}, body)


def sf_settings() -> SfSettings:
    return SfSettings(partner_id="SWZW", check_word="cw", callback_token="t0ken")


def k100_callback(param: str, sign: str) -> InboundHttp:
    return push(urlencode({"param": param, "sign": sign}).encode(), "application/x-www-form-urlencoded", "")


# --------------------------------------------------------------------------- signatures


def test_the_sf_msg_digest_matches_the_official_example():
    assert sf.msg_digest(SF_MSG, "12312334453453", "fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci") == "IIKJtuLVzoFTu4kHI8M8vA=="
    assert carrier_servers.sf_digest(SF_MSG, "12312334453453", "fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci") == (
        "IIKJtuLVzoFTu4kHI8M8vA=="
    )


def test_the_sf_encoding_is_javas_url_encoder_not_pythons_quote_plus():
    assert sf.java_url_encode("a b~c*d!e中") == "a+b%7Ec*d%21e%E4%B8%AD"
    assert carrier_servers.java_urlencoder("a b~c*d!e中") == "a+b%7Ec*d%21e%E4%B8%AD"
    text = '{"remark":"急件 ~*","name":"申请材料"}'
    assert sf.msg_digest(text, "1", "k") == carrier_servers.sf_digest(text, "1", "k")


def test_the_kuaidi100_query_sign_matches_the_reference_vector():
    assert kuaidi100.query_sign(K100_QUERY_PARAM, "testkey", "testcustomer") == "4DC98E4BDCB49C66263F721ED3138C8D"


def test_the_kuaidi100_callback_sign_matches_the_reference_vector():
    assert kuaidi100.callback_sign(K100_CALLBACK_PARAM, "testsalt").upper() == "E2602827CF6BBDE058A429A14647A7C4"


def test_the_ems_envelope_unseals_only_with_our_key():
    sealed = ems.seal('{"waybillNo":"1100000000000"}', SIGN_KEY)
    assert sealed.startswith("|$4|")
    assert ems.unseal(sealed, SIGN_KEY) == '{"waybillNo":"1100000000000"}'
    with pytest.raises(ValueError):
        ems.unseal(sealed, base64.b64encode(b"fedcba9876543210").decode())


# --------------------------------------------------------------------------- SF


def test_an_sf_json_route_push_parses_into_normalized_events():
    receiver = sf.SfRoutePushReceiver(sf_settings())
    events = receiver.parse_push(push(SF_JSON_PUSH, "application/json"))
    assert [(e.status, e.raw_code) for e in events] == [
        (TrackingStatus.PICKED_UP, "50"),
        (TrackingStatus.DELIVERED, "80"),
    ]
    assert events[0].occurred_at == datetime(2026, 3, 10, 2, 16, 24, tzinfo=UTC)
    assert json.loads(receiver.answer(True).body) == {"return_code": "0000", "return_msg": "成功"}
    assert json.loads(receiver.answer(False).body)["return_code"] == "1000"


def test_an_sf_form_mode_push_carries_url_encoded_xml():
    body = ("content=" + quote(SF_XML)).encode()
    settings = SfSettings(partner_id="SWZW", check_word="cw", callback_token="t0ken", push_mode="xml")
    receiver = sf.SfRoutePushReceiver(settings)
    [event] = receiver.parse_push(push(body, "application/x-www-form-urlencoded"))
    assert (event.waybill, event.status, event.place) == ("SF7444407670710", TrackingStatus.PICKED_UP, "汕尾")
    assert receiver.answer(True).body == b'<Response service="RoutePushService"><Head>OK</Head></Response>'


def test_an_sf_push_without_our_token_is_refused():
    with pytest.raises(CarrierError):
        sf.SfRoutePushReceiver(sf_settings()).parse_push(push(SF_JSON_PUSH, "application/json", token="guess"))


@pytest.mark.parametrize("body", [b"{}", b"not json", b'{"Body":{"WaybillRoute":[]}}'])
def test_a_malformed_sf_push_is_refused(body):
    with pytest.raises(CarrierError):
        sf.parse_route_push(push(body, "application/json"))


def test_a_duplicated_push_yields_the_same_event_keys_and_no_new_event():
    once = sf.parse_route_push(push(SF_JSON_PUSH, "application/json"))
    doubled = json.loads(SF_JSON_PUSH)
    doubled["Body"]["WaybillRoute"] *= 2
    twice = sf.parse_route_push(push(json.dumps(doubled).encode(), "application/json"))
    assert [event_key(e) for e in twice] == [event_key(e) for e in once]


def test_an_unknown_sf_op_code_is_in_transit_with_a_logged_reason(caplog):
    with caplog.at_level(logging.WARNING, logger="handoff.logistics"):
        status, reason = sf.OP_CODES.classify("12345")
    assert status is TrackingStatus.IN_TRANSIT and "12345" in reason
    assert any(r.message == "unknown carrier code" for r in caplog.records)


def test_the_sf_envelope_is_decoded_twice_and_a_duplicate_order_is_named():
    inner = json.dumps({"success": False, "errorCode": "8016", "errorMsg": "重复下单", "msgData": None})
    body = json.dumps({"apiResultCode": "A1000", "apiResultData": inner}).encode()
    with pytest.raises(CarrierError) as caught:
        sf.parse_envelope(200, body)
    assert (caught.value.code, caught.value.reason, caught.value.retryable) == ("8016", "重复下单", False)


def test_an_sf_order_carries_both_contacts_and_our_package_code():
    address = PostalAddress("张三", "13800138000", "广东省", "汕尾市", "海丰县", "海城镇二环路 1 号")
    data = sf.create_order_data(
        SfSettings(partner_id="p", check_word="c", monthly_card="7551234567"),
        BookingRequest("SW-441521-0001", address, address, weight_kg=0.5),
    )
    assert data["orderId"] == "SW-441521-0001" and data["monthlyCard"] == "7551234567"
    assert [c["contactType"] for c in data["contactInfoList"]] == [1, 2]


# --------------------------------------------------------------------------- Kuaidi100


def test_a_kuaidi100_callback_with_the_right_sign_in_either_case_is_accepted():
    receiver = kuaidi100.Kuaidi100PushReceiver(Kuaidi100Settings("c", "k", salt="testsalt"), FixedClock())
    sign = kuaidi100.callback_sign(K100_CALLBACK_PARAM, "testsalt")
    assert receiver.parse_push(k100_callback(K100_CALLBACK_PARAM, sign.upper())) == []
    assert receiver.parse_push(k100_callback(K100_CALLBACK_PARAM, sign)) == []
    assert json.loads(receiver.answer(True).body) == {"result": True, "returnCode": "200", "message": "成功"}


@pytest.mark.parametrize("sign", ["", "E2602827CF6BBDE058A429A14647A7C5"])
def test_a_kuaidi100_callback_with_a_wrong_or_missing_sign_is_refused(sign):
    receiver = kuaidi100.Kuaidi100PushReceiver(Kuaidi100Settings("c", "k", salt="testsalt"), FixedClock())
    with pytest.raises(CarrierError) as caught:
        receiver.parse_push(k100_callback(K100_CALLBACK_PARAM, sign))
    assert caught.value.code == "bad_sign"


def test_a_kuaidi100_callback_is_refused_when_no_salt_is_configured():
    receiver = kuaidi100.Kuaidi100PushReceiver(Kuaidi100Settings("c", "k"), FixedClock())
    with pytest.raises(CarrierError):
        receiver.parse_push(k100_callback(K100_CALLBACK_PARAM, kuaidi100.callback_sign(K100_CALLBACK_PARAM, "")))


def test_a_kuaidi100_abort_becomes_an_exception_that_does_not_count_as_movement():
    param = json.dumps(
        {
            "status": "abort",
            "message": "60天无变化",
            "lastResult": {
                "state": "0",
                "nu": "SF1412955438811",
                "data": [{"context": "快件已发往汕尾", "time": "2026-01-05 16:02:00", "ftime": "2026-01-05 16:02:00"}],
            },
        },
        ensure_ascii=False,
    )
    events = kuaidi100.parse_callback(k100_callback(param, kuaidi100.callback_sign(param, "s")), "s", FixedClock())
    assert [(e.status, e.raw_code) for e in events] == [
        (TrackingStatus.IN_TRANSIT, "0"),
        (TrackingStatus.EXCEPTION, "abort"),
    ]
    assert "60天无变化" in events[-1].reason
    assert last_movement(events) == events[0].occurred_at


def test_a_kuaidi100_query_error_shape_is_an_auth_failure():
    with pytest.raises(CarrierError) as caught:
        kuaidi100.parse_query(200, '{"result":false,"returnCode":"503","message":"验证签名失败"}'.encode(), "x")
    assert (caught.value.code, caught.value.retryable) == ("503", False)


# --------------------------------------------------------------------------- EMS and internal


def test_an_ems_push_sealed_with_our_key_parses_and_a_forged_one_is_refused():
    settings = EmsSettings("1100000001", "auth", SIGN_KEY)
    trace = {"waybillNo": "1100000000000", "opCode": "704", "opTime": "2026-03-11 11:00:00", "opOrgName": "海丰县邮政"}
    body = json.dumps({"logitcsInterface": ems.seal(json.dumps(trace), SIGN_KEY), "method": "040002"}).encode()
    [event] = ems.EmsPushReceiver(settings).parse_push(push(body, "application/json", ""))
    assert (event.status, event.waybill) == (TrackingStatus.DELIVERED, "1100000000000")
    forged = json.dumps({"logitcsInterface": ems.seal(json.dumps(trace), base64.b64encode(b"x" * 16).decode())})
    with pytest.raises(CarrierError) as caught:
        ems.EmsPushReceiver(settings).parse_push(push(forged.encode(), "application/json", ""))
    assert caught.value.code == "bad_sign"


async def test_the_internal_courier_books_under_the_package_code_and_tracks_what_the_courier_reported():
    at = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    history = [courier_event("SW-1", "picked_up", at), courier_event("SW-1", "picked_up", at)]

    async def lookup(waybill: str) -> list[TrackingEvent]:
        return history

    courier = InternalCourier(lookup)
    address = PostalAddress("李四", "13900000000", "广东省", "汕尾市", "城区", "政务服务中心")
    assert (await courier.book(BookingRequest("SW-1", address, address))).waybill == "SW-1"
    assert [e.status for e in await courier.track("SW-1")] == [TrackingStatus.PICKED_UP]
    with pytest.raises(CarrierError):
        courier_event("SW-1", "teleported", at)


def test_no_events_means_no_last_movement():
    assert last_movement([]) is None
