"""``handoff sms send``: send one templated SMS through a configured provider."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp

from adapters.sms.factory import PROVIDERS, build_provider
from adapters.sms.settings import SettingsError
from adapters.sms.templates import TEMPLATES
from cli.base import CliError
from handoff.ports import ProviderError, SmsReceipt


class _SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "sms", help="通过已配置的短信服务商发送一条模板短信", description="短信服务商的命令行检查工具。"
    )
    actions = parser.add_subparsers(dest="sms_command", metavar="ACTION", required=True)
    send = actions.add_parser(
        "send",
        help="发送一条模板短信",
        description="按 HANDOFF_* 设置连接服务商，发送一条模板短信，输出服务商的回执（JSON）。",
    )
    send.add_argument("--provider", required=True, choices=PROVIDERS, help="服务商")
    send.add_argument("--to", required=True, metavar="PHONE", help="手机号码")
    send.add_argument("--template", required=True, choices=sorted(TEMPLATES), metavar="KEY", help="模板名")
    send.add_argument("--param", action="append", default=[], type=_param, metavar="K=V", help="模板参数，可多次")
    send.set_defaults(run=run)


def _param(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"模板参数应写作 名=值，而不是 {text!r}")
    return key, value


def run(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    receipt = asyncio.run(_send(args, os.environ if env is None else env))
    print(json.dumps({"provider": receipt.provider, "message_id": receipt.message_id, "status": receipt.status.value,
                      "code": receipt.raw_code, "reason": receipt.reason}, ensure_ascii=False))  # fmt: skip
    return 0


async def _send(args: argparse.Namespace, env: Mapping[str, str]) -> SmsReceipt:
    async with aiohttp.ClientSession() as session:
        try:
            sender = build_provider(args.provider, env, session, _SystemClock())
            return await sender.send(args.to, args.template, dict(args.param))
        except SettingsError as exc:
            raise CliError(str(exc)) from exc
        except ProviderError as exc:
            raise CliError(f"短信未发出（{exc.provider}，{exc.raw_code}，{exc.status.value}）：{exc.reason}") from exc
