"""What every command shares: a parser whose errors are one Chinese line and exit 2."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class CliError(Exception):
    """A mistake of the person at the keyboard: printed as one line, exit status 2."""


class HandoffParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: 错误：{message}（用 --help 查看用法）", file=sys.stderr)
        raise SystemExit(2)
