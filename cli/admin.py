"""Operations: ``handoff migrate``, ``handoff token create``, ``handoff relay``, ``handoff parked``."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Any

from adapters.broker.bus import Bus, ParkedMessage
from adapters.broker.topology import GROUPS, Group, groups
from adapters.db import queries
from adapters.db.engine import make_engine
from adapters.db.migrate import current_revision, upgrade
from adapters.db.positions import gaps
from adapters.settings import Settings
from api.auth import Role, Scope
from cli.base import CliError
from cli.bootstrap import build, make_bus
from handoff.codes import hash_token, new_api_token
from handoff.errors import DomainError
from worker.consumer import place_of


def register(sub: Any) -> None:
    migrate = sub.add_parser("migrate", help="把数据库结构升级到最新版本（Alembic）")
    migrate.set_defaults(run=lambda a: _run(run_migrate()))

    token = sub.add_parser("token", help="访问令牌")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = token_sub.add_parser("create", help="为一名用户签发访问令牌（只显示一次）")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--scope", required=True, help="office:编号[,office:编号] 或 region:区划代码前缀 或 *")
    create.add_argument("--name", default="", help="姓名")
    create.add_argument("--user-id", default="", help="用户编号（默认由姓名或角色生成）")
    create.add_argument(
        "--expires",
        default="",
        help="有效天数（如 30）或到期日期（如 2027-03-01，当日有效）；默认工作人员 90 天、快递员 30 天",
    )
    create.set_defaults(run=lambda a: _run(run_token(a)))

    relay = sub.add_parser("relay", help="运行发件箱中继（把已提交的事件发布到消息队列）")
    relay.set_defaults(run=lambda a: _run(run_relay()))

    parked = sub.add_parser("parked", help="查看或重放停放的消息")
    parked_sub = parked.add_subparsers(dest="parked_command", metavar="ACTION", required=True)
    for action in ("list", "replay"):
        p = parked_sub.add_parser(action, help="列出停放的消息" if action == "list" else "把停放的消息放回队列重新处理")
        p.add_argument("--group", required=True, choices=sorted(GROUPS))
        p.add_argument("--limit", type=int, default=100)
        p.set_defaults(run=lambda a, action=action: _run(run_parked(a, action)))


def _run(coroutine: Any) -> int:
    try:
        return int(asyncio.run(coroutine))
    except DomainError as exc:
        raise CliError(exc.title) from exc
    except (OSError, ConnectionError) as exc:
        raise CliError(f"无法连接：{exc}") from exc


async def run_migrate() -> int:
    settings = Settings.from_env()
    if settings.sqlite_path() is not None:
        settings.sqlite_path().parent.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        print(f"数据库已是最新结构（版本 {await current_revision(engine)}）：{settings.database_url}")
    finally:
        await engine.dispose()
    return 0


async def run_token(args: argparse.Namespace) -> int:
    scope = Scope.parse(args.scope)
    name = args.name.strip() or args.role
    user_id = args.user_id.strip() or re.sub(r"[^0-9A-Za-z_-]", "", name) or args.role
    settings = Settings.from_env()
    now = datetime.now(UTC)
    expires = args.expires.strip()
    expires_at = settings.token_lifetimes().expiry(
        args.role,
        now,
        days=int(expires) if expires.isascii() and expires.isdigit() else None,
        until=expires if expires and not (expires.isascii() and expires.isdigit()) else None,
    )
    engine = make_engine(settings.database_url)
    token = new_api_token()
    try:
        await upgrade(engine) if settings.database_backend == "sqlite" else None
        async with engine.begin() as conn:
            await queries.create_user_token(
                conn,
                user_id=user_id,
                name=name,
                role=args.role,
                scope=str(scope),
                phone="",
                token_hash=hash_token(token),
                at=now,
                expires_at=expires_at,
            )
    finally:
        await engine.dispose()
    issued = {"user_id": user_id, "role": args.role, "scope": str(scope), "expires_at": expires_at.isoformat()}
    print(json.dumps({**issued, "token": token}, ensure_ascii=False))
    return 0


async def run_relay() -> int:
    import signal

    runtime = await build(Settings.from_env())
    await runtime.bus.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.relay.stop)
    print("发件箱中继已启动", flush=True)
    await runtime.relay.run()
    await runtime.close()
    return 0


async def run_parked(args: argparse.Namespace, action: str) -> int:
    settings = Settings.from_env()
    if settings.broker_backend != "amqp":
        raise CliError("停放的消息保存在 RabbitMQ 中：请设置 HANDOFF_BROKER_URL=amqp://…")
    bus = make_bus(settings)
    engine = make_engine(settings.database_url)
    await bus.start()
    try:
        group = groups(settings.broker_prefix)[args.group]
        if action == "list":
            for line in await parked_report(bus, engine, group, args.limit):
                print(json.dumps(line, ensure_ascii=False))
        else:
            print(f"已放回 {await bus.replay(group, args.limit)} 条消息")
    finally:
        await bus.close()
        await engine.dispose()
    return 0


async def parked_report(bus: Bus, engine: Any, group: Group, limit: int) -> list[dict[str, Any]]:
    """One line per parked message: id, type, last error, and where it stands in its case's
    stream — ``gap`` true when its successors went on without it (DESIGN §8). Replayed, it is
    applied then, behind them."""
    messages = await bus.parked(group, limit)
    async with engine.connect() as conn:
        recorded = {(g["ordering_key"], g["seq"]): g for g in await gaps(conn, consumer=group.name, open_only=True)}
    lines: list[dict[str, Any]] = []
    for message in messages:
        line: dict[str, Any] = dict(ParkedMessage.of(message).as_json())
        place = place_of(message)
        if place is not None:
            gap = recorded.get((place.key, place.seq))
            line.update(
                case_id=place.case_id,
                ordering_key=place.key,
                seq=place.seq,
                gap=gap is not None,
                gap_since=gap["parked_at"].isoformat() if gap is not None else None,
            )
        lines.append(line)
    return lines
