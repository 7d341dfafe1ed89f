"""Which failures mean "a service we depend on cannot be reached" (issue 15, DESIGN §10): the
database or the broker is down, restarting, refusing connections or dropped ours
(adapters/outages.py tells them). The API answers those 503 with ``Retry-After`` — the client may
try again — never 500, which says "our bug"."""

from __future__ import annotations

from adapters.outages import unavailable

__all__ = ["DEPENDENCY_ZH", "RETRY_AFTER_SECONDS", "TITLE", "unavailable"]

RETRY_AFTER_SECONDS = 5
TITLE = "服务暂时不可用，请稍后重试"
DEPENDENCY_ZH = {"database": "数据库", "broker": "消息队列"}
