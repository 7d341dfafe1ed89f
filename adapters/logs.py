"""Structured logs: every ``extra={...}`` a call passes (case_id, package_id, group, provider…)
is printed with the line — as ``key=value`` pairs for a person at a terminal, or as one JSON
object per line (``HANDOFF_LOG_FORMAT=json``) for a log collector. Personal data never goes in:
callers pass ids, not names, phones or identity numbers."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class KeyValueFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in sorted(extras.items()))
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class OneLineWarnings(logging.Filter):
    """A library's warning keeps its line and loses its traceback. aiormq warns "Cancelling cause
    reader exited abnormally" with the whole traceback of a lost broker connection; ours log the
    loss in one line and reconnect, so after a broker restart the log shows the event, not pages
    of stack. Errors keep their tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.WARNING and record.exc_info:
            exc = record.exc_info[1]
            if exc is not None:
                said = f"{type(exc).__name__}: {exc}"
                record.msg = f"{record.msg} ({said.replace('%', '%%') if record.args else said})"
            record.exc_info, record.exc_text = None, None
        return True


QUIET_LIBRARIES = ("aiormq.connection",)


def configure_logging(level: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LIBRARIES:
        library = logging.getLogger(name)
        if not any(isinstance(f, OneLineWarnings) for f in library.filters):
            library.addFilter(OneLineWarnings())
