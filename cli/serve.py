"""``handoff serve``: the API and the outbox relay in one process (the embedded default: SQLite
and the in-process bus, demo data, the demo users and their one password printed at start)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from adapters.demo import DemoStart, start_demo
from adapters.demo_cases import STORIES, build_demo_cases
from adapters.logs import configure_logging
from adapters.settings import Settings
from adapters.sms.settings import SettingsError
from api.app import create_app
from cli.base import CliError, run_service
from cli.bootstrap import GROUP_NAMES, build, build_workers, consumer_groups, periodic_checks
from handoff.errors import DomainError
from worker.group import start_groups, stop_tickers
from worker.metrics import Sampler


def register(sub: Any) -> None:
    parser = sub.add_parser("serve", help="启动服务（接口 + 消息中继），默认内置 SQLite 与演示数据")
    parser.add_argument("--host", help="监听地址（默认 127.0.0.1，或 HANDOFF_HOST）")
    parser.add_argument("--port", type=int, help="端口（默认 8080，或 HANDOFF_PORT）")
    parser.add_argument("--no-demo", action="store_true", help="不载入演示数据")
    parser.add_argument(
        "--no-workers", action="store_true", help="只运行接口与消息中继，消费组由 handoff worker 另行运行"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    explicit: dict[str, Any] = {}
    if args.host:
        explicit["host"] = args.host
    if args.port:
        if not 1 <= args.port <= 65535:
            raise CliError("端口必须在 1–65535 之间")
        explicit["port"] = args.port
    if args.no_demo:
        explicit["demo_data"] = False
    try:
        settings = Settings.from_env(**explicit)
        refusal = settings.production_refusal()
        if refusal:
            raise CliError(refusal)
        settings.token_lifetimes()  # a bad HANDOFF_TOKEN_DAYS_* is refused before anything starts
        settings.session_idle()
        if explicit.keys() & {"host", "port"}:
            settings = _links_follow_the_address(settings)
        return run_service(serve(settings, workers=not args.no_workers))
    except DomainError as exc:
        raise CliError(exc.title) from exc
    except OSError as exc:
        raise CliError(f"无法启动：{exc.strerror or exc}") from exc
    except (RuntimeError, SettingsError) as exc:
        raise CliError(str(exc)) from exc


def _links_follow_the_address(settings: Settings) -> Settings:
    """With --host or --port and no configured bases, the links in SMS and QR codes point here."""
    from dataclasses import replace

    here = f"http://{settings.host}:{settings.port}"
    defaults = Settings()
    return replace(
        settings,
        public_base_url=here if settings.public_base_url == defaults.public_base_url else settings.public_base_url,
        scan_base_url=here if settings.scan_base_url == defaults.scan_base_url else settings.scan_base_url,
    )


async def serve(settings: Settings, workers: bool = True) -> int:
    configure_logging(settings.log_level, settings.log_format)
    runtime = await build(settings)
    demo: DemoStart | None = None
    built = 0
    if settings.demo_data:
        async with runtime.engine.begin() as conn:
            demo = await start_demo(conn, datetime.now(UTC))
        # The demo cases go through the services (their own transactions), before the bus and
        # the relay start: their events are then relayed like any other.
        built = await build_demo_cases(
            runtime.engine,
            runtime.container.uow,
            runtime.container.deps,
            announce=lambda n: print(f"正在生成 {n} 个演示办件（仅首次启动，需要几秒到十几秒）……", flush=True),
        )
    await runtime.bus.start()
    session = aiohttp.ClientSession()
    all_groups = consumer_groups(settings)
    chosen = {name: all_groups[name] for name in (GROUP_NAMES if workers else ())}
    running = await build_workers(runtime, list(chosen), session)
    tickers = await start_groups(runtime.bus, chosen, running, runtime.metrics)
    relay_task = asyncio.create_task(runtime.relay.run())
    sampler = Sampler(runtime.metrics, runtime.engine, runtime.bus, chosen, extra=periodic_checks(runtime, running))
    sampler_task = asyncio.create_task(sampler.run())
    app = create_app(runtime.container, registry=runtime.metrics.registry)
    app_runner = web.AppRunner(app, access_log=None)
    await app_runner.setup()
    site = web.TCPSite(app_runner, settings.host, settings.port)
    await site.start()
    # Listen for SIGTERM before saying we are ready: a stop asked right after is a clean stop.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    base = f"http://{settings.host}:{settings.port}"
    print(f"Handoff 已启动：{base}")
    print(f"  工作台：{base}/console   申请人进度页：{base}/t/<短信链接中的查询码>")
    print(f"  接口说明（OpenAPI）：{base}/api/v1/openapi.json")
    print(f"  健康检查：{base}/healthz   就绪检查：{base}/readyz   指标：{base}/metrics")
    print(f"  数据库：{settings.database_url}   消息：{settings.broker_url}")
    print(f"  消费组：{'、'.join(chosen) if chosen else '无（请另行运行 handoff worker）'}")
    for note in runtime.notes:
        print(f"  {note}")
    if demo is not None:
        print(
            f"  演示数据：{len(STORIES)} 个示例办件（{'本次生成' if built else '此前已生成'}），"
            "分布在城区、海丰、陆河、陆丰四个代收窗口，涵盖各个办理环节"
        )
    if demo is not None and demo.users:
        print(f"  演示账号（在工作台用用户名和密码登录；演示密码：{demo.password}）：")
        for user in demo.users:
            print(f"    {user.user_id:<12} {user.role:<13} {user.name}")
        print("  （演示密码只设给尚无密码的演示账号，改过的密码保持不变；")
        print("    设备和对接系统的访问令牌用 handoff token create 签发）")
    print(
        f"  短信：{'、'.join(p.strip() for p in settings.extra.get('HANDOFF_SMS_PROVIDERS', 'console').split(','))}"
        "（console 把每条短信作为一行 JSON 写到标准输出或 HANDOFF_SMS_CONSOLE_FILE）"
    )
    print("按 Ctrl+C 停止。", flush=True)
    await stop.wait()
    print("正在停止……", flush=True)
    await app_runner.cleanup()
    runtime.relay.stop()
    await relay_task
    sampler.stop()
    await sampler_task
    await stop_tickers(tickers)
    await runtime.close()
    await session.close()
    return 0
