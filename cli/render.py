"""``handoff render KIND --sample -o FILE.pdf``: print a document from built-in sample data (to
check a printer, and for tests). The kinds made so far are listed; the others come with issue 5."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli.base import CliError
from labels import samples
from labels.receipt_notice import render_receipt_notice
from labels.transfer_slip import render_transfer_slip

KINDS: dict[str, Callable[[], bytes]] = {
    "receipt-notice": lambda: render_receipt_notice(samples.receipt_notice()),
    "transfer-slip": lambda: render_transfer_slip(samples.transfer_slip()),
}


def register(sub: Any) -> None:
    parser = sub.add_parser("render", help="用示例数据生成文书 PDF（检查打印机用）")
    parser.add_argument("kind", choices=sorted(KINDS), help="文书种类")
    parser.add_argument("--sample", action="store_true", required=True, help="使用内置示例数据")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="FILE.pdf", help="输出文件")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    pdf = KINDS[args.kind]()
    try:
        args.output.write_bytes(pdf)
    except OSError as exc:
        raise CliError(f"无法写入 {args.output}：{exc.strerror}") from exc
    print(f"已生成 {args.output}（{len(pdf) // 1024} KB）")
    return 0
