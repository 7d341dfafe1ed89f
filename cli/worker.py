"""``handoff worker [--group NAME]…``: run consumer groups of worker/ (all of them by default).

SIGTERM or Ctrl+C: stop taking messages, let the ones in hand finish, stop the periodic work, close.
Prometheus metrics and a health check are served on ``--metrics-port`` (0: none)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adapters.logs import configure_logging
from adapters.settings import Settings
from adapters.sms.settings import SettingsError
from cli.base import CliError, run_service
from cli.bootstrap import GROUP_NAMES, Runtime, build, build_workers, consumer_groups, periodic_checks
from handoff.errors import DomainError
from worker.group import start_groups, stop_tickers
from worker.metrics import Sampler


def register(sub: Any) -> None:
    parser = sub.add_parser("worker", help="运行消费组（短信通知、快递下单与跟踪、期限监控、统计指标）")
    parser.add_argument(
        "--group",
        action="append",
        choices=list(GROUP_NAMES),
        help="要运行的消费组，可重复；默认全部",
    )
    parser.add_argument("--metrics-port", type=int, default=9100, help="指标与健康检查端口（默认 9100，0 表示不提供）")
    parser.add_argument("--metrics-host", default="127.0.0.1", help="指标端口的监听地址（默认 127.0.0.1）")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.metrics_port <= 65535:
        raise CliError("指标端口必须在 0–65535 之间")
    names = list(dict.fromkeys(args.group or GROUP_NAMES))
    try:
        settings = Settings.from_env()
        refusal = settings.production_refusal()
        if refusal:
            raise CliError(refusal)
        settings.token_lifetimes()  # a bad HANDOFF_TOKEN_DAYS_* is refused before anything starts
        return run_service(work(settings, names, args.metrics_host, args.metrics_port))
    except DomainError as exc:
        raise CliError(exc.title) from exc
    except (RuntimeError, SettingsError) as exc:
        raise CliError(str(exc)) from exc
    except OSError as exc:
        raise CliError(f"无法启动：{exc.strerror or exc}") from exc


async def work(settings: Settings, names: list[str], host: str, port: int) -> int:
    configure_logging(settings.log_level, settings.log_format)
    runtime = await build(settings)
    if runtime.settings.broker_backend == "memory":
        await runtime.close()
        raise CliError("内置消息总线（memory://）只在 handoff serve 的进程内有效：请设置 HANDOFF_BROKER_URL=amqp://…")
    session = aiohttp.ClientSession()
    await runtime.bus.start()
    all_groups = consumer_groups(settings)
    chosen = {name: all_groups[name] for name in names}
    workers = await build_workers(runtime, names, session)
    tickers = await start_groups(runtime.bus, chosen, workers, runtime.metrics)
    sampler = Sampler(runtime.metrics, runtime.engine, runtime.bus, chosen, extra=periodic_checks(runtime, workers))
    sampler_task = asyncio.create_task(sampler.run())
    metrics_site = await _metrics_server(runtime, host, port) if port else None
    # Listen for SIGTERM before saying we are ready: a stop asked right after is a clean stop.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(f"消费组已启动：{'、'.join(names)}", flush=True)
    await stop.wait()
    print("正在停止：处理完手上的消息……", flush=True)
    # The sampler first: a queue-depth query cut off by the closing connection would end the
    # process with a CancelledError instead of a clean stop.
    sampler.stop()
    await sampler_task
    await runtime.bus.close()  # stops consuming; in-flight messages finish first
    await stop_tickers(tickers)
    if metrics_site is not None:
        await metrics_site.cleanup()
    await runtime.close()
    await session.close()
    print("已停止", flush=True)
    return 0


async def _metrics_server(runtime: Runtime, host: str, port: int) -> web.AppRunner:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(runtime.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
