"""``handoff carrier track``: ask a configured carrier where a waybill is."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp

from adapters.logistics.common import last_movement
from adapters.logistics.factory import CARRIERS, build_tracking
from adapters.logistics.settings import SettingsError
from cli.base import CliError
from handoff.ports import CarrierError, TrackingEvent


class _SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def register(sub: Any) -> None:
    parser = sub.add_parser("carrier", help="查询已配置承运商的运单轨迹", description="承运商的命令行检查工具。")
    actions = parser.add_subparsers(dest="carrier_command", metavar="ACTION", required=True)
    track = actions.add_parser(
        "track",
        help="查询一个运单的轨迹",
        description="按 HANDOFF_* 设置连接承运商，输出规范化后的轨迹与最后一次移动时间（JSON）。",
    )
    track.add_argument("--carrier", required=True, choices=CARRIERS, help="承运商")
    track.add_argument("--phone", default="", help="寄件人或收件人手机号（顺丰按运单号查询时需要后四位）")
    track.add_argument("waybill", metavar="WAYBILL", help="运单号")
    track.set_defaults(run=run)


def run(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    events = asyncio.run(_track(args, os.environ if env is None else env))
    moved = last_movement(events)
    print(
        json.dumps(
            {
                "carrier": args.carrier,
                "waybill": args.waybill,
                "last_movement": moved.isoformat() if moved else None,
                "events": [
                    {"status": e.status.value, "code": e.raw_code, "reason": e.reason,
                     "at": e.occurred_at.isoformat(), "place": e.place, "description": e.description}
                    for e in events
                ],
            },
            ensure_ascii=False,
            indent=2,
        )
    )  # fmt: skip
    return 0


async def _track(args: argparse.Namespace, env: Mapping[str, str]) -> Sequence[TrackingEvent]:
    async with aiohttp.ClientSession() as session:
        try:
            carrier = build_tracking(args.carrier, env, session, _SystemClock())
            return await carrier.track(args.waybill, phone=args.phone)
        except SettingsError as exc:
            raise CliError(str(exc)) from exc
        except CarrierError as exc:
            raise CliError(f"查询失败（{exc.carrier}，{exc.code}）：{exc.reason}") from exc
