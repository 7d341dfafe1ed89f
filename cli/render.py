"""``handoff render KIND --sample -o FILE.pdf``: print any document from built-in sample data (to
check a printer, and for tests). The ledger also exports as ``--format xlsx`` or ``csv``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli.base import CliError
from labels import samples
from labels.courier_label import render_courier_label
from labels.custody_report import render_custody_report
from labels.decisions import (
    render_acceptance_notice,
    render_denial_decision,
    render_iou_receipt,
    render_one_time_notice,
    render_rejection_decision,
    render_supplement_notice,
)
from labels.ledger import ledger_csv, ledger_xlsx, render_ledger
from labels.manifest import render_manifest
from labels.pickup_receipt import render_pickup_receipt
from labels.receipt_notice import render_receipt_notice
from labels.registration_card import render_registration_card
from labels.stage_notice import render_stage_notice
from labels.transfer_slip import render_transfer_slip

KINDS: dict[str, Callable[[], bytes]] = {
    "receipt-notice": lambda: render_receipt_notice(samples.receipt_notice()),
    "transfer-slip": lambda: render_transfer_slip(samples.transfer_slip()),
    "ledger": lambda: render_ledger(samples.ledger()),
    "registration-card": lambda: render_registration_card(samples.registration_card()),
    "stage-notice": lambda: render_stage_notice(samples.stage_notice()),
    "courier-label": lambda: render_courier_label(samples.courier_label()),
    "manifest": lambda: render_manifest(samples.manifest()),
    "pickup-receipt": lambda: render_pickup_receipt(samples.pickup_receipt()),
    "custody-report": lambda: render_custody_report(samples.custody_report()),
    "one-time-notice": lambda: render_one_time_notice(samples.one_time_notice()),
    "supplement-notice": lambda: render_supplement_notice(samples.supplement_notice()),
    "iou-receipt": lambda: render_iou_receipt(samples.iou_receipt()),
    "acceptance-notice": lambda: render_acceptance_notice(samples.acceptance_notice()),
    "rejection-decision": lambda: render_rejection_decision(samples.rejection_decision()),
    "denial-decision": lambda: render_denial_decision(samples.denial_decision()),
}
LEDGER_EXPORTS: dict[str, Callable[[], bytes]] = {
    "xlsx": lambda: ledger_xlsx(samples.ledger()),
    "csv": lambda: ledger_csv(samples.ledger()),
}


def register(sub: Any) -> None:
    parser = sub.add_parser("render", help="用示例数据生成文书 PDF（检查打印机用）")
    parser.add_argument("kind", choices=list(KINDS), help="文书种类")
    parser.add_argument("--sample", action="store_true", required=True, help="使用内置示例数据")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="FILE.pdf", help="输出文件")
    parser.add_argument(
        "--format", choices=["pdf", *LEDGER_EXPORTS], default="pdf", help="输出格式（xlsx、csv 仅用于台账）"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.format == "pdf":
        content = KINDS[args.kind]()
    elif args.kind == "ledger":
        content = LEDGER_EXPORTS[args.format]()
    else:
        raise CliError(f"只有台账（ledger）可以导出为 {args.format}，{args.kind} 只能生成 PDF")
    try:
        args.output.write_bytes(content)
    except OSError as exc:
        raise CliError(f"无法写入 {args.output}：{exc.strerror}") from exc
    print(f"已生成 {args.output}（{max(1, len(content) // 1024)} KB）")
    return 0
