"""``handoff sms send`` and ``handoff carrier track`` from the command line."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web

from cli import carrier
from cli.main import build_parser, main
from tests.fakes.carrier_servers import FakeSf

LINK = "link=https://zw.swgov.cn/t/7k2m9q4x8c3v"


def test_sms_send_through_the_console_prints_the_line_and_the_receipt(capsys):
    code = main(
        ["sms", "send", "--provider", "console", "--to", "13800138000", "--template", "receipt", "--param", LINK]
    )
    line, receipt = capsys.readouterr().out.splitlines()
    assert code == 0
    assert json.loads(line)["text"].endswith("办理进度请查看：https://zw.swgov.cn/t/7k2m9q4x8c3v")
    assert json.loads(receipt)["status"] == "delivered"


def test_sms_send_with_a_missing_parameter_is_one_chinese_line_and_exit_2(capsys):
    code = main(["sms", "send", "--provider", "console", "--to", "138", "--template", "accepted", "--param", LINK])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == (
        "handoff sms: 错误：短信未发出（console，template_params，permanent_failure）：短信模板 accepted：缺少参数 due"
    )


def test_sms_send_with_an_unknown_provider_is_refused_in_chinese(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["sms", "send", "--provider", "smsbao", "--to", "138", "--template", "receipt"])
    assert caught.value.code == 2
    assert "无效" in capsys.readouterr().err


@pytest.fixture
def sf_server() -> Iterator[str]:
    """The fake SF on its own loop in a thread, since the CLI runs its own event loop."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(FakeSf({"SWZW": "cw"}).app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/std/service"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_carrier_track_prints_normalized_events_and_the_last_movement(sf_server, capsys):
    args = build_parser().parse_args(["carrier", "track", "--carrier", "sf", "SF7444407670710"])
    env = {"HANDOFF_SF_PARTNER_ID": "SWZW", "HANDOFF_SF_CHECK_WORD": "cw", "HANDOFF_SF_ENDPOINT": sf_server}
    assert carrier.run(args, env) == 0
    out = json.loads(capsys.readouterr().out)
    assert [e["status"] for e in out["events"]] == ["picked_up", "in_transit", "delivered"]
    assert out["last_movement"] == "2026-03-11T09:40:11+08:00"


def test_carrier_track_with_a_wrong_check_word_says_why_in_chinese(sf_server):
    args = build_parser().parse_args(["carrier", "track", "--carrier", "sf", "SF7444407670710"])
    env = {"HANDOFF_SF_PARTNER_ID": "SWZW", "HANDOFF_SF_CHECK_WORD": "wrong", "HANDOFF_SF_ENDPOINT": sf_server}
    with pytest.raises(Exception, match="查询失败（sf，A1006）：数字签名无效"):
        carrier.run(args, env)
