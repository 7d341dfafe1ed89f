"""What every command shares: a parser whose errors are one Chinese line and exit 2."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")


def run_service(main: Coroutine[Any, Any, T]) -> T:
    """Run a long-lived service (serve, worker) on uvloop where it is installed: its event loop
    costs less CPU per request and per message than asyncio's own."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; plain asyncio still works
        return asyncio.run(main)
    return uvloop.run(main)


class CliError(Exception):
    """A mistake of the person at the keyboard: printed as one line, exit status 2."""


class HandoffParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: 错误：{_in_chinese(message)}（用 --help 查看用法）", file=sys.stderr)
        raise SystemExit(2)


_ARGPARSE_PHRASES = [
    (re.compile(r"^the following arguments are required: (.*)$"), "缺少必需的参数：{0}"),
    (re.compile(r"^argument (\S+): expected one argument$"), "参数 {0} 需要一个值"),
    (re.compile(r"^argument (\S+): invalid choice: (.*?) \(choose from (.*)\)$"), "参数 {0} 的值 {1} 无效，可选：{2}"),
    (re.compile(r"^argument (\S+): (.*)$"), "参数 {0}：{1}"),
    (re.compile(r"^unrecognized arguments: (.*)$"), "无法识别的参数：{0}"),
    (re.compile(r"^invalid choice: (.*?) \(choose from (.*)\)$"), "无效的命令 {0}，可选：{1}"),
]


def _in_chinese(message: str) -> str:
    """argparse speaks English; a clerk reads Chinese."""
    for pattern, template in _ARGPARSE_PHRASES:
        match = pattern.match(message)
        if match:
            return template.format(*match.groups())
    return message
