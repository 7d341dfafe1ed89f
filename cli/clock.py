"""``handoff clock``: ask the legal working-day clock about one case."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from adapters.calendar import load_calendar, read_schedule_file
from cli.base import CliError
from handoff.clock import ClockReading, StagePeriod, read_clock
from handoff.errors import DomainError
from handoff.matter import StageType
from handoff.timeutil import local_date

STAGE_HELP = (
    "TYPE:START:[END]，例如 expert_review:2026-03-10:2026-03-20；END 留空表示尚未结束。TYPE 可选："
    + ", ".join(t.value for t in StageType)
)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "clock",
        help="计算一个办件的法定工作日时钟（已用、剩余、到期日、特殊环节）",
        description="按民法典第二百零一条（开始当日不计入）和特殊环节不计时的规则计算，输出一个 JSON 对象。",
    )
    parser.add_argument("--accepted", required=True, type=_date, metavar="DATE", help="受理日期 YYYY-MM-DD")
    parser.add_argument("--limit", required=True, type=_limit, metavar="N", help="承诺期限（工作日），即办件为 0")
    parser.add_argument(
        "--legal-limit",
        type=_limit,
        metavar="N",
        help="法定期限（工作日），与承诺期限并行计算 legal_due_date、legal_overdue",
    )
    parser.add_argument("--stage", action="append", default=[], type=_stage, metavar="SPEC", help=STAGE_HELP)
    parser.add_argument("--extend", action="append", default=[], type=_days, metavar="N", help="延期工作日数，可多次")
    parser.add_argument("--decided", type=_date, metavar="DATE", help="办结日期")
    parser.add_argument("--at", type=_date, metavar="DATE", help="计算日期（默认今天，北京时间）")
    parser.add_argument(
        "--calendar", action="append", default=[], type=Path, metavar="FILE.toml", help="额外载入的节假日安排文件"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    schedules = []
    for path in args.calendar:
        try:
            schedules.append(read_schedule_file(path))
        except OSError as exc:
            raise CliError(f"无法读取日程文件 {path}：{exc.strerror}") from exc
        except DomainError as exc:
            raise CliError(f"{path}：{exc.title}") from exc
    calendar = load_calendar(schedules)
    if args.legal_limit is not None and args.legal_limit < args.limit:
        raise CliError(f"承诺期限（{args.limit}）不得超过法定期限（{args.legal_limit}）")
    at = args.at or local_date(datetime.now(UTC))
    try:
        reading = read_clock(
            calendar,
            accepted_on=args.accepted,
            limit=args.limit,
            at=at,
            stages=args.stage,
            extensions=args.extend,
            decided_on=args.decided,
            legal_limit=args.legal_limit,
        )
    except DomainError as exc:
        raise CliError(exc.title) from exc
    print(json.dumps(reading_json(reading), ensure_ascii=False, indent=2))
    return 0


def reading_json(reading: ClockReading) -> dict[str, Any]:
    return {
        "accepted": reading.accepted_on.isoformat(),
        "as_of": reading.as_of.isoformat(),
        "limit": reading.limit,
        "extension_days": reading.extension_days,
        "promised": reading.promised,
        "due_date": reading.due_date.isoformat(),
        "used": reading.used,
        "remaining": reading.remaining,
        "excluded_days": reading.excluded_days,
        "paused": reading.paused,
        "decided": reading.decided_on.isoformat() if reading.decided_on else None,
        "early": reading.early,
        "overdue": reading.overdue,
        "legal_limit": reading.legal_limit,
        "legal_due_date": reading.legal_due_date.isoformat() if reading.legal_due_date else None,
        "legal_used": reading.legal_used,
        "legal_remaining": reading.legal_remaining,
        "legal_overdue": reading.legal_overdue,
        "provisional": reading.provisional,
        "provisional_reason": reading.provisional_reason,
        "stages": [
            {
                "type": s.type,
                "start": s.start.isoformat(),
                "end": s.end.isoformat() if s.end else None,
                "working_days": s.working_days,
                "calendar_days": s.calendar_days,
                "limit": s.limit,
                "over_limit": s.over_limit,
            }
            for s in reading.stages
        ],
    }


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{text}” 不是 YYYY-MM-DD 格式的日期") from None


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{text}” 不是整数") from None
    if not 0 <= value <= 3650:
        raise argparse.ArgumentTypeError(f"承诺期限 {value} 不合理（0–3650 个工作日）")
    return value


def _days(text: str) -> int:
    value = _limit(text)
    if value == 0:
        raise argparse.ArgumentTypeError("延期天数必须是正整数")
    return value


def _stage(text: str) -> StagePeriod:
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"“{text}” 格式应为 TYPE:START:[END]")
    kind, start, end = parts
    try:
        stage_type = StageType(kind)
    except ValueError:
        raise argparse.ArgumentTypeError(f"未知的特殊环节类型 “{kind}”") from None
    try:
        return StagePeriod(type=stage_type.value, start=_date(start), end=_date(end) if end else None)
    except DomainError as exc:
        raise argparse.ArgumentTypeError(exc.title) from None
