"""The ``handoff`` console command. Each command group lives in its own module of this package
and registers itself here; the list below is the whole command surface at a glance."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from cli import admin, carrier, clock, custody, render, serve, sms, worker
from cli.base import CliError, HandoffParser

COMMAND_MODULES = [
    clock,
    serve,
    admin,
    sms,
    carrier,
    render,
    worker,
    custody,
]


def build_parser() -> HandoffParser:
    parser = HandoffParser(
        prog="handoff",
        description="Handoff：异地代收窗口与属地审批部门之间的材料流转、监管链、短信通知与法定工作日计时。",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=HandoffParser)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 2
    try:
        code: int = run(args)
    except CliError as exc:
        print(f"handoff {args.command}: 错误：{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())
