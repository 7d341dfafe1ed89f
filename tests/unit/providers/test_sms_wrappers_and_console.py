"""Failover and timing around any sender, and the console provider."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

import pytest

from adapters.sms.console import ConsoleSms
from adapters.sms.settings import ConsoleSmsSettings
from adapters.sms.wrappers import FailoverSms, RecordedMetrics, TimedSms
from handoff.ports import ProviderError, SmsOutcomeUnknown, SmsReceipt, SmsStatus
from tests.fakes.provider_clock import FixedClock, Monotonic

LINK = {"link": "https://zw.swgov.cn/t/7k2m9q4x8c3v"}


class ScriptedSender:
    def __init__(self, name: str) -> None:
        self.name = name
        self.failing: SmsStatus | None = None
        self.cut_off = False
        self.calls = 0

    async def send(
        self, phone: str, template_key: str, params: Mapping[str, str], *, reference: str = ""
    ) -> SmsReceipt:
        self.calls += 1
        if self.cut_off:
            raise SmsOutcomeUnknown(self.name, "timeout", "无应答")
        if self.failing is not None:
            raise ProviderError(self.name, self.failing, "X", "scripted")
        return SmsReceipt(self.name, f"{self.name}-{self.calls}", SmsStatus.SENDING)


@pytest.fixture
def pair():
    return ScriptedSender("alibaba"), ScriptedSender("tencent")


async def test_failover_moves_to_the_next_provider_on_a_technical_failure(pair):
    first, second = pair
    first.failing = SmsStatus.TECHNICAL_FAILURE
    sender = FailoverSms([first, second], cooldown=300, monotonic=Monotonic())
    assert (await sender.send("13800138000", "receipt", LINK)).provider == "tencent"


async def test_failover_comes_back_only_after_the_cool_down(pair):
    first, second = pair
    clock = Monotonic()
    sender = FailoverSms([first, second], cooldown=300, monotonic=clock)
    first.failing = SmsStatus.TECHNICAL_FAILURE
    await sender.send("13800138000", "receipt", LINK)
    first.failing = None  # healthy again, but still resting: no flip-flop
    clock.t += 299
    assert (await sender.send("13800138000", "receipt", LINK)).provider == "tencent"
    assert first.calls == 1
    clock.t += 1
    assert (await sender.send("13800138000", "receipt", LINK)).provider == "alibaba"


@pytest.mark.parametrize("status", [SmsStatus.PERMANENT_FAILURE, SmsStatus.TEMPORARY_FAILURE])
async def test_failover_does_not_move_on_a_failure_about_the_message(pair, status):
    first, second = pair
    first.failing = status
    with pytest.raises(ProviderError):
        await FailoverSms([first, second], cooldown=300, monotonic=Monotonic()).send("138", "receipt", LINK)
    assert second.calls == 0


async def test_failover_never_moves_on_when_the_first_provider_may_have_sent_it(pair):
    first, second = pair
    first.cut_off = True
    sender = FailoverSms([first, second], cooldown=300, monotonic=Monotonic())
    with pytest.raises(SmsOutcomeUnknown):
        await sender.send("138", "receipt", LINK, reference="n-1")
    assert (first.calls, second.calls) == (1, 0)
    assert [p.name for p in sender.active()] == ["tencent"]  # it rests, and the next SMS goes on


async def test_when_every_provider_fails_the_last_error_is_raised_and_all_rest(pair):
    first, second = pair
    first.failing = second.failing = SmsStatus.TECHNICAL_FAILURE
    sender = FailoverSms([first, second], cooldown=300, monotonic=Monotonic())
    with pytest.raises(ProviderError) as caught:
        await sender.send("138", "receipt", LINK)
    assert caught.value.provider == "tencent"
    assert [p.name for p in sender.active()] == ["alibaba"]  # the one resting longest is tried


async def test_timing_records_each_outcome_with_its_duration(pair):
    first, _ = pair
    metrics, clock = RecordedMetrics(), Monotonic()
    timed = TimedSms(first, metrics, monotonic=clock)
    await timed.send("138", "receipt", LINK)
    first.failing = SmsStatus.TECHNICAL_FAILURE
    with pytest.raises(ProviderError):
        await timed.send("138", "receipt", LINK)
    assert [(p, o) for p, o, _ in metrics.samples] == [("alibaba", "sending"), ("alibaba", "technical_failure")]


async def test_the_console_provider_writes_one_json_line_per_sms_to_the_file(tmp_path):
    path = tmp_path / "sms.jsonl"
    console = ConsoleSms(ConsoleSmsSettings(file=str(path)), FixedClock(), new_id=lambda: "console-1")
    receipt = await console.send("13800138000", "receipt", LINK, reference="n-1")
    await console.send("13800138000", "delivered", LINK)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2
    assert lines[0] == {
        "provider_message_id": "console-1",
        "phone": "13800138000",
        "template": "receipt",
        "params": LINK,
        "reference": "n-1",
        "text": "【政务服务】您的申请材料已收件，办理进度请查看：https://zw.swgov.cn/t/7k2m9q4x8c3v",
        "time": "2026-03-10T02:30:00+00:00",
    }
    assert receipt.message_id == "console-1"


async def test_the_console_provider_writes_to_standard_output_when_no_file_is_set():
    out = io.StringIO()
    await ConsoleSms(ConsoleSmsSettings.from_env({}), FixedClock(), stdout=out).send("138", "rating_request", LINK)
    assert json.loads(out.getvalue())["text"].startswith("【政务服务】请为本次政务服务评价")


async def test_the_configured_providers_are_built_in_failover_order_from_settings():
    import aiohttp

    from adapters.sms.factory import build_report_receivers, build_sender, build_status_queries
    from adapters.sms.settings import SettingsError

    env = {
        "HANDOFF_SMS_PROVIDERS": "tencent,console",
        "HANDOFF_TENCENT_SECRET_ID": "AKID",
        "HANDOFF_TENCENT_SECRET_KEY": "k",
        "HANDOFF_TENCENT_SMS_SDK_APP_ID": "1400006666",
        "HANDOFF_TENCENT_SMS_SIGN_NAME": "汕尾政务",
        "HANDOFF_TENCENT_SMS_TEMPLATES": '{"receipt": "1110"}',
    }
    async with aiohttp.ClientSession() as session:
        sender = build_sender(env, session, FixedClock(), RecordedMetrics())
        assert isinstance(sender, FailoverSms)
        assert [p.name for p in sender.providers] == ["tencent", "console"]
        assert list(build_report_receivers(env)) == ["tencent"]
        assert list(build_status_queries(env, session, FixedClock())) == ["tencent"]  # the console cannot tell
        with_file = {**env, "HANDOFF_SMS_CONSOLE_FILE": "/tmp/sms.jsonl"}
        assert list(build_status_queries(with_file, session, FixedClock())) == ["tencent", "console"]  # it reads back
        with pytest.raises(SettingsError, match="HANDOFF_SMS_PROVIDERS"):
            build_sender({"HANDOFF_SMS_PROVIDERS": "smsbao"}, session, FixedClock(), RecordedMetrics())


def test_the_sweeper_is_configured_by_its_own_settings_and_refuses_nonsense():
    from datetime import timedelta

    from adapters.settings import Settings
    from adapters.sms.settings import SettingsError
    from cli.bootstrap import sweep_settings

    sweep = sweep_settings(
        Settings.from_env({"HANDOFF_SMS_SWEEP_SECONDS": "15", "HANDOFF_SMS_SENDING_GRACE_SECONDS": "900"})
    )
    assert (sweep.interval, sweep.created_grace, sweep.sending_grace) == (
        15.0,
        timedelta(minutes=2),
        timedelta(minutes=15),
    )
    with pytest.raises(SettingsError, match="HANDOFF_SMS_CREATED_GRACE_SECONDS"):
        sweep_settings(Settings.from_env({"HANDOFF_SMS_CREATED_GRACE_SECONDS": "0"}))
