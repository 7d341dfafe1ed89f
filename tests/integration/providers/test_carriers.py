"""Each carrier adapter against a local fake server that checks its signature as the carrier does."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from adapters.logistics.ems import Ems
from adapters.logistics.kuaidi100 import Kuaidi100
from adapters.logistics.settings import EmsSettings, Kuaidi100Settings, SfSettings
from adapters.logistics.sf import SfExpress
from handoff.ports import BookingRequest, CarrierError, PostalAddress, TrackingStatus
from tests.fakes.carrier_servers import FakeEms, FakeKuaidi100, FakeSf
from tests.fakes.provider_clock import FixedClock

SIGN_KEY = base64.b64encode(b"0123456789abcdef").decode()
WINDOW = PostalAddress(
    "陈窗口", "0660-3368001", "广东省", "汕尾市", "海丰县", "海城镇政务服务中心一楼", "海丰县代收窗口"
)
DEPARTMENT = PostalAddress("林科长", "0660-3212345", "广东省", "汕尾市", "城区", "汕尾大道 1 号", "汕尾市气象局")


async def serve(app) -> AsyncIterator[str]:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url(""))
    await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def sf_fake() -> AsyncIterator[tuple[FakeSf, str]]:
    fake = FakeSf({"SWZW": "fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci"})
    async for base in serve(fake.app):
        yield fake, base + "/std/service"


@pytest.fixture
async def k100_fake() -> AsyncIterator[tuple[FakeKuaidi100, str]]:
    fake = FakeKuaidi100("CUSTOMER01", "k100key")
    async for base in serve(fake.app):
        yield fake, base


@pytest.fixture
async def ems_fake() -> AsyncIterator[tuple[FakeEms, str]]:
    fake = FakeEms("1100000001", SIGN_KEY)
    async for base in serve(fake.app):
        yield fake, base + "/amp-prod-api/f/amp/api/open"


def sf(url: str, check_word: str = "fjcg5PGKaNpPSHFAZ4QsCOkV71R3zVci", session=None) -> SfExpress:
    settings = SfSettings(partner_id="SWZW", check_word=check_word, endpoint=url, timeout_seconds=0.1)
    return SfExpress(settings, session, FixedClock())


def k100(base: str, session, key: str = "k100key") -> Kuaidi100:
    settings = Kuaidi100Settings(
        "CUSTOMER01",
        key,
        query_endpoint=base + "/poll/query.do",
        subscribe_endpoint=base + "/poll",
        callback_url="https://zw.swgov.cn/callbacks/kuaidi100",
        salt="s4lt",
        timeout_seconds=0.1,
    )
    return Kuaidi100(settings, session, "shunfeng")


async def test_sf_books_a_pickup_and_refuses_the_same_order_twice(sf_fake, session):
    fake, url = sf_fake
    carrier = sf(url, session=session)
    booking = await carrier.book(BookingRequest("SW-441521-0001", WINDOW, DEPARTMENT, remark="易碎 ~*"))
    assert (booking.carrier, booking.reference, booking.waybill) == ("sf", "SW-441521-0001", "SF7444407670710")
    assert fake.received[-1]["contactInfoList"][0]["company"] == "海丰县代收窗口"
    with pytest.raises(CarrierError) as caught:
        await carrier.book(BookingRequest("SW-441521-0001", WINDOW, DEPARTMENT))
    assert caught.value.code == "8016"


async def test_sf_tracks_a_waybill_into_normalized_events_oldest_first(sf_fake, session):
    _, url = sf_fake
    events = await sf(url, session=session).track("SF7444407670710", phone="13800138000")
    assert [e.status for e in events] == [TrackingStatus.PICKED_UP, TrackingStatus.IN_TRANSIT, TrackingStatus.DELIVERED]


async def test_sf_cancels_an_order(sf_fake, session):
    fake, url = sf_fake
    await sf(url, session=session).cancel("SW-441521-0001", "SF7444407670710")
    assert fake.cancelled == ["SW-441521-0001"]


async def test_sf_with_a_wrong_check_word_is_refused_as_an_invalid_signature(sf_fake, session):
    _, url = sf_fake
    with pytest.raises(CarrierError) as caught:
        await sf(url, check_word="wrong", session=session).track("SF7444407670710")
    assert (caught.value.code, caught.value.retryable) == ("A1006", False)


@pytest.mark.parametrize(
    ("mode", "code", "retryable"),
    [("rate_limit", "A1005", True), ("unknown_code", "A1777", True), ("timeout", "timeout", True),
     ("malformed", "http_200", True)],
)  # fmt: skip
async def test_sf_maps_each_failure(sf_fake, session, mode, code, retryable):
    fake, url = sf_fake
    fake.mode = mode
    with pytest.raises(CarrierError) as caught:
        await sf(url, session=session).track("SF7444407670710")
    assert (caught.value.code, caught.value.retryable) == (code, retryable)


async def test_kuaidi100_queries_a_signed_request_into_events(k100_fake, session):
    _, base = k100_fake
    events = await k100(base, session).track("SF1412955438811", phone="13800138000")
    assert [e.status for e in events] == [TrackingStatus.PICKED_UP, TrackingStatus.IN_TRANSIT, TrackingStatus.DELIVERED]
    assert events[-1].place == "广东,汕尾市"


async def test_kuaidi100_with_a_wrong_key_is_refused(k100_fake, session):
    _, base = k100_fake
    with pytest.raises(CarrierError) as caught:
        await k100(base, session, key="wrong").track("SF1412955438811")
    assert caught.value.code == "503"


async def test_kuaidi100_subscribes_once_and_a_second_subscription_is_harmless(k100_fake, session):
    fake, base = k100_fake
    await k100(base, session).subscribe("SF1412955438811", phone="13800138000")
    await k100(base, session).subscribe("SF1412955438811")
    params = fake.subscribed["SF1412955438811"]["parameters"]
    assert params["salt"] == "s4lt" and params["callbackurl"].endswith("/callbacks/kuaidi100")
    with pytest.raises(CarrierError) as caught:
        await k100(base, session, key="wrong").subscribe("SF0000000000001")
    assert caught.value.code == "600"


@pytest.mark.parametrize(("mode", "code"), [("unknown_code", "777"), ("timeout", "timeout"), ("malformed", "http_200")])
async def test_kuaidi100_maps_each_failure(k100_fake, session, mode, code):
    fake, base = k100_fake
    fake.mode = mode
    with pytest.raises(CarrierError) as caught:
        await k100(base, session).track("SF1412955438811")
    assert caught.value.code == code


async def test_ems_tracks_with_an_sm4_sealed_request_unverified_against_the_real_platform(ems_fake, session):
    _, url = ems_fake
    carrier = Ems(EmsSettings("1100000001", "auth", SIGN_KEY, endpoint=url, timeout_seconds=0.1), session, FixedClock())
    events = await carrier.track("1100000000000")
    assert [e.status for e in events] == [TrackingStatus.PICKED_UP, TrackingStatus.DELIVERED]
    wrong = EmsSettings("1100000001", "auth", base64.b64encode(b"x" * 16).decode(), endpoint=url)
    with pytest.raises(CarrierError):
        await Ems(wrong, session, FixedClock()).track("1100000000000")
