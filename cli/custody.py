"""``handoff custody``: custody anchored beyond the database (DESIGN §12).

* ``checkpoint``: sign a checkpoint over every package's chain now (the workers make one a day);
* ``verify --all``: recompute every chain (links, anchor, state and holder), compare each with the
  newest checkpoint, and check the checkpoints themselves; exit 0 when all is good, else 1 with
  one Chinese line per problem;
* ``report PACKAGE -o FILE.pdf``: a package's custody report (by id or package code).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.crypto import Ed25519Signer, IdCipher
from adapters.db import checkpoints, queries
from adapters.db.engine import make_engine
from adapters.db.outbox import write_outbox
from adapters.db.repositories import SqlUnitOfWork
from adapters.settings import Settings
from cli.base import CliError
from cli.bootstrap import prepare_database
from handoff.codes import PackageCode
from handoff.errors import DomainError
from labels.custody_report import render_custody_report
from labels.from_domain import custody_report_data


def register(sub: Any) -> None:
    custody = sub.add_parser("custody", help="监管链存证：生成检查点、全量验证、监管链报告")
    actions = custody.add_subparsers(dest="custody_command", metavar="ACTION", required=True)
    checkpoint = actions.add_parser("checkpoint", help="立即对全部材料包的监管链生成一个签名检查点")
    checkpoint.set_defaults(run=lambda a: _run(run_checkpoint()))
    verify = actions.add_parser("verify", help="重新计算全部监管链，并与最新检查点比对")
    verify.add_argument("--all", action="store_true", required=True, help="验证全部材料包与全部检查点")
    verify.set_defaults(run=lambda a: _run(run_verify()))
    report = actions.add_parser("report", help="生成一个材料包的监管链报告 PDF")
    report.add_argument("package", help="材料包编号（如 441581-20260302-0007-6）或材料包 id")
    report.add_argument("-o", "--output", required=True, type=Path, metavar="FILE.pdf", help="输出文件")
    report.set_defaults(run=lambda a: _run(run_report(a)))


def _run(coroutine: Any) -> int:
    try:
        return int(asyncio.run(coroutine))
    except DomainError as exc:
        raise CliError(exc.title) from exc
    except (OSError, ConnectionError) as exc:
        raise CliError(f"无法连接数据库：{exc}") from exc
    except RuntimeError as exc:
        raise CliError(str(exc)) from exc


async def _engine(settings: Settings) -> AsyncEngine:
    engine = make_engine(settings.database_url)
    try:
        await prepare_database(settings, engine)
    except BaseException:
        await engine.dispose()
        raise
    return engine


async def run_checkpoint() -> int:
    settings = Settings.from_env()
    signer = Ed25519Signer(settings.checkpoint_key_bytes())
    engine = await _engine(settings)
    try:
        made = await checkpoints.make(engine, signer, datetime.now(UTC))
    finally:
        await engine.dispose()
    assert made is not None  # only a daily checkpoint is ever skipped
    print(f"已生成存证检查点 No.{made.n}：{made.count} 个材料包")
    print(f"  默克尔根：{made.root}")
    print(f"  签名：{made.signature.hex()}")
    print(f"  {made.short()}")
    return 0


async def run_verify() -> int:
    settings = Settings.from_env()
    signer = Ed25519Signer(settings.checkpoint_key_bytes())
    cipher = IdCipher(settings.id_key_ring(), settings.id_hash_key_bytes())
    engine = await _engine(settings)
    try:
        result = await checkpoints.verify_all(engine, signer, cipher)
    finally:
        await engine.dispose()
    if not result.ok:
        for line in result.lines():
            print(line)
        print(
            f"验证未通过：{len(result.lines())} 处问题（{result.packages} 个材料包，{result.checkpoints} 个检查点）",
            file=sys.stderr,
        )
        return 1
    basis = f"与最新检查点 No.{result.last} 一致" if result.last else "尚无检查点可比对"
    print(f"验证通过：{result.packages} 个材料包的监管链完整，{basis}；{result.checkpoints} 个检查点签名有效、首尾相接")
    return 0


async def run_report(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    cipher = IdCipher(settings.id_key_ring(), settings.id_hash_key_bytes())
    engine = await _engine(settings)
    try:
        async with SqlUnitOfWork(engine, cipher, write_outbox) as uow:
            wanted = args.package.strip()
            package = await uow.packages.get(wanted)
            if package is None:
                try:
                    package = await uow.packages.by_code(PackageCode.parse(wanted).compact)
                except DomainError:
                    package = None
            if package is None:
                raise CliError(f"材料包 {wanted} 不存在")
            case = await uow.cases.get(package.case_id)
        async with engine.connect() as conn:
            offices = await queries.offices(conn)
            parties = [p.split(":", 1)[1] for e in package.custody for p in (e.from_party, e.to_party) if ":" in p]
            names = await queries.user_names(conn, [*(e.actor for e in package.custody), *parties])
            problem, covering = await checkpoints.standing(conn, package)
    finally:
        await engine.dispose()
    data = custody_report_data(
        package,
        case=case,
        offices=offices,
        names=names,
        problem=problem,
        checkpoint=covering,
        printed_at=datetime.now(UTC),
    )
    try:
        args.output.write_bytes(render_custody_report(data))
    except OSError as exc:
        raise CliError(f"无法写入 {args.output}：{exc.strerror}") from exc
    print(f"已生成 {args.output}：{'验证通过' if problem is None else '验证未通过：' + problem}")
    return 0
