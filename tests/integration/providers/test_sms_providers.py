"""Each SMS adapter against a local fake server that checks its signature as the provider does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from adapters.sms.alibaba import AlibabaSms
from adapters.sms.settings import AlibabaSmsSettings, TencentSmsSettings
from adapters.sms.tencent import TencentSms
from handoff.ports import ProviderError, SmsOutcomeUnknown, SmsStatus
from tests.fakes.provider_clock import FixedClock
from tests.fakes.sms_servers import FakeAlibabaSms, FakeTencentSms

PARAMS = {"link": "https://zw.swgov.cn/t/7k2m9q4x8c3v"}
TEMPLATES = {"receipt": "SMS_271525576", "accepted": "SMS_271525577"}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def alibaba_fake(clock: FixedClock) -> AsyncIterator[tuple[FakeAlibabaSms, str]]:
    fake = FakeAlibabaSms(clock.now, {"LTAI5tHandoff": "s3cr3t-alibaba"})
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    yield fake, str(server.make_url("/"))
    await server.close()


@pytest.fixture
async def tencent_fake(clock: FixedClock) -> AsyncIterator[tuple[FakeTencentSms, str]]:
    fake = FakeTencentSms(clock.now, {"AKIDhandoff": "s3cr3t-tencent"})
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    yield fake, str(server.make_url("/"))
    await server.close()


def alibaba(endpoint: str, signature: str, secret: str = "s3cr3t-alibaba") -> AlibabaSmsSettings:
    return AlibabaSmsSettings(
        access_key_id="LTAI5tHandoff",
        access_key_secret=secret,
        sign_name="汕尾政务",
        templates=TEMPLATES,
        endpoint=endpoint,
        signature=signature,
        timeout_seconds=0.1,
    )


def tencent(endpoint: str, secret: str = "s3cr3t-tencent") -> TencentSmsSettings:
    return TencentSmsSettings(
        secret_id="AKIDhandoff",
        secret_key=secret,
        sdk_app_id="1400006666",
        sign_name="汕尾政务",
        templates=TEMPLATES,
        endpoint=endpoint,
        timeout_seconds=0.1,
    )


@pytest.mark.parametrize("signature", ["acs3", "rpc"])
async def test_alibaba_sends_a_signed_sms_and_returns_the_biz_id(alibaba_fake, session, clock, signature):
    fake, url = alibaba_fake
    receipt = await AlibabaSms(alibaba(url, signature), session, clock).send("13800138000", "receipt", PARAMS)
    assert receipt.provider == "alibaba"
    assert receipt.status is SmsStatus.SENDING
    assert receipt.message_id.isdigit()
    sent = fake.received[-1]
    assert sent["PhoneNumbers"] == "13800138000"
    assert sent["SignName"] == "汕尾政务"
    assert sent["TemplateCode"] == "SMS_271525576"
    assert json.loads(str(sent["TemplateParam"])) == PARAMS


@pytest.mark.parametrize("signature", ["acs3", "rpc"])
async def test_alibaba_with_a_wrong_secret_is_refused_as_a_technical_failure(alibaba_fake, session, clock, signature):
    _, url = alibaba_fake
    sender = AlibabaSms(alibaba(url, signature, secret="wrong"), session, clock)
    with pytest.raises(ProviderError) as caught:
        await sender.send("13800138000", "receipt", PARAMS)
    assert caught.value.raw_code == "SignatureDoesNotMatch"
    assert caught.value.status is SmsStatus.TECHNICAL_FAILURE


async def test_alibaba_refuses_a_replayed_nonce(alibaba_fake, session, clock):
    _, url = alibaba_fake
    sender = AlibabaSms(alibaba(url, "acs3"), session, clock, nonce=lambda: "same-nonce")
    await sender.send("13800138000", "receipt", PARAMS)
    with pytest.raises(ProviderError) as caught:
        await sender.send("13800138000", "receipt", PARAMS)
    assert caught.value.raw_code == "SignatureNonceUsed"


async def test_alibaba_refuses_a_request_signed_with_a_stale_clock(alibaba_fake, session):
    _, url = alibaba_fake
    stale = FixedClock()
    stale.advance(minutes=-16)
    with pytest.raises(ProviderError) as caught:
        await AlibabaSms(alibaba(url, "rpc"), session, stale).send("13800138000", "receipt", PARAMS)
    assert caught.value.raw_code == "InvalidTimeStamp.Expired"


@pytest.mark.parametrize(
    ("mode", "code", "status"),
    [
        ("rate_limit", "isv.BUSINESS_LIMIT_CONTROL", SmsStatus.TEMPORARY_FAILURE),
        ("unknown_code", "isv.SOMETHING_NEW", SmsStatus.TECHNICAL_FAILURE),
        ("timeout", "timeout", SmsStatus.TECHNICAL_FAILURE),
        ("malformed", "http_502", SmsStatus.TECHNICAL_FAILURE),
    ],
)
async def test_alibaba_maps_each_failure_to_our_status(alibaba_fake, session, clock, mode, code, status):
    fake, url = alibaba_fake
    fake.mode = mode
    with pytest.raises(ProviderError) as caught:
        await AlibabaSms(alibaba(url, "acs3"), session, clock).send("13800138000", "receipt", PARAMS)
    assert (caught.value.raw_code, caught.value.status) == (code, status)


async def test_tencent_sends_a_signed_sms_and_returns_the_serial_number(tencent_fake, session, clock):
    fake, url = tencent_fake
    receipt = await TencentSms(tencent(url), session, clock).send(
        "13800138000", "accepted", {"due": "2026-03-20", "link": PARAMS["link"]}
    )
    assert receipt.status is SmsStatus.SENDING
    assert receipt.message_id.startswith("5000:")
    sent = fake.received[-1]
    assert sent["PhoneNumberSet"] == ["+8613800138000"]
    assert sent["TemplateId"] == "SMS_271525577"
    assert sent["TemplateParamSet"] == ["2026-03-20", PARAMS["link"]]  # the template's order
    assert sent["SignName"] == "汕尾政务"


async def test_tencent_with_a_wrong_secret_is_refused_with_signature_failure(tencent_fake, session, clock):
    _, url = tencent_fake
    with pytest.raises(ProviderError) as caught:
        await TencentSms(tencent(url, secret="wrong"), session, clock).send("13800138000", "receipt", PARAMS)
    assert (caught.value.raw_code, caught.value.status) == ("AuthFailure.SignatureFailure", SmsStatus.TECHNICAL_FAILURE)


async def test_tencent_refuses_a_timestamp_more_than_five_minutes_off(tencent_fake, session):
    _, url = tencent_fake
    stale = FixedClock()
    stale.advance(minutes=6)
    with pytest.raises(ProviderError) as caught:
        await TencentSms(tencent(url), session, stale).send("13800138000", "receipt", PARAMS)
    assert caught.value.raw_code == "AuthFailure.SignatureExpire"


@pytest.mark.parametrize(
    ("mode", "code", "status"),
    [
        ("rate_limit", "LimitExceeded.DeliveryFrequencyLimit", SmsStatus.TEMPORARY_FAILURE),
        ("unknown_code", "FailedOperation.SomethingNew", SmsStatus.TECHNICAL_FAILURE),
        ("timeout", "timeout", SmsStatus.TECHNICAL_FAILURE),
        ("malformed", "http_502", SmsStatus.TECHNICAL_FAILURE),
    ],
)
async def test_tencent_maps_each_failure_to_our_status(tencent_fake, session, clock, mode, code, status):
    fake, url = tencent_fake
    fake.mode = mode
    with pytest.raises(ProviderError) as caught:
        await TencentSms(tencent(url), session, clock).send("13800138000", "receipt", PARAMS)
    assert (caught.value.raw_code, caught.value.status) == (code, status)


# --------------------------------------------------------------------------- a send cut off, then looked up


@pytest.mark.parametrize("signature", ["acs3", "rpc"])
async def test_alibaba_finds_a_send_whose_answer_was_lost_by_its_out_id(alibaba_fake, session, clock, signature):
    fake, url = alibaba_fake
    sms = AlibabaSms(alibaba(url, signature), session, clock)
    fake.mode = "timeout"  # the SMS is taken, the answer comes after our timeout
    with pytest.raises(SmsOutcomeUnknown):
        await sms.send("13800138000", "receipt", PARAMS, reference="ref-0001")
    assert fake.received[-1]["OutId"] == "ref-0001"
    fake.mode = "ok"
    await sms.send("13800138000", "receipt", PARAMS, reference="ref-0002")  # another SMS, same number and day
    found = await sms.query("13800138000", "ref-0001", clock.now() - timedelta(minutes=1))
    assert found is not None
    assert (found.provider, found.status, found.raw_code) == ("alibaba", SmsStatus.DELIVERED, "DELIVERED")
    query = fake.queries[-1]
    assert (query["PhoneNumber"], query["SendDate"], query["PageSize"], query["CurrentPage"]) == (
        "13800138000",
        "20260310",
        "50",
        "1",
    )
    assert "SmsSendDetailDTOs" not in query  # a request, not an echo


@pytest.mark.parametrize(
    ("report", "status"), [("failed", SmsStatus.PERMANENT_FAILURE), ("waiting", SmsStatus.SENDING)]
)
async def test_alibaba_reports_a_failed_or_still_waiting_send_as_such(alibaba_fake, session, clock, report, status):
    fake, url = alibaba_fake
    sms = AlibabaSms(alibaba(url, "acs3"), session, clock)
    await sms.send("13800138000", "receipt", PARAMS, reference="ref-0003")
    fake.report = report
    found = await sms.query("13800138000", "ref-0003", clock.now())
    assert found is not None and found.status is status


async def test_alibaba_knows_nothing_of_a_send_that_never_reached_it(alibaba_fake, session, clock):
    _, url = alibaba_fake
    sms = AlibabaSms(alibaba(url, "acs3"), session, clock)
    await sms.send("13800138000", "receipt", PARAMS, reference="ref-0004")
    assert await sms.query("13800138000", "ref-never-sent", clock.now() - timedelta(days=1)) is None


@pytest.mark.parametrize("signature", ["acs3", "rpc"])
async def test_alibaba_refuses_a_query_signed_with_a_wrong_secret(alibaba_fake, session, clock, signature):
    fake, url = alibaba_fake
    with pytest.raises(ProviderError) as caught:
        await AlibabaSms(alibaba(url, signature, secret="wrong"), session, clock).query(
            "13800138000", "ref-0001", clock.now()
        )
    assert (caught.value.raw_code, caught.value.status) == ("SignatureDoesNotMatch", SmsStatus.TECHNICAL_FAILURE)
    assert fake.queries == []  # refused before the action was looked at


async def test_tencent_finds_a_send_whose_answer_was_lost_by_its_session_context(tencent_fake, session, clock):
    fake, url = tencent_fake
    sms = TencentSms(tencent(url), session, clock)
    fake.mode = "timeout"
    with pytest.raises(SmsOutcomeUnknown):
        await sms.send("13800138000", "receipt", PARAMS, reference="ref-0001")
    assert fake.received[-1]["SessionContext"] == "ref-0001"
    fake.mode = "ok"
    await sms.send("13800138000", "receipt", PARAMS, reference="ref-0002")
    fake.report = "failed"
    clock.advance(minutes=10)
    found = await sms.query("13800138000", "ref-0001", clock.now() - timedelta(minutes=11))
    assert found is not None
    assert (found.status, found.raw_code) == (SmsStatus.PERMANENT_FAILURE, "UNDELIV")
    assert found.message_id == fake.messages[0].message_id  # the SerialNo we never received
    query = fake.queries[-1]
    assert query["Action"] == "PullSmsSendStatusByPhoneNumber"
    assert (query["PhoneNumber"], query["Offset"], query["Limit"]) == ("+8613800138000", 0, 100)
    assert query["BeginTime"] <= int(fake.messages[0].sent_at.timestamp()) <= query["EndTime"]


async def test_tencent_has_no_record_of_a_send_without_a_report_yet(tencent_fake, session, clock):
    fake, url = tencent_fake
    sms = TencentSms(tencent(url), session, clock)
    await sms.send("13800138000", "receipt", PARAMS, reference="ref-0005")
    fake.report = "waiting"
    assert await sms.query("13800138000", "ref-0005", clock.now()) is None


async def test_tencent_refuses_a_query_signed_with_a_wrong_secret(tencent_fake, session, clock):
    fake, url = tencent_fake
    with pytest.raises(ProviderError) as caught:
        await TencentSms(tencent(url, secret="wrong"), session, clock).query("13800138000", "ref-0001", clock.now())
    assert caught.value.raw_code == "AuthFailure.SignatureFailure"
    assert fake.queries == []
