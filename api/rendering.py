"""Where documents are drawn (issue 13, item 12: six ledger exports once kept a clerk's receipt
notice waiting 18.6 s).

Rendering is CPU work, run off the event loop. Counter documents — what a clerk prints while an
applicant or a courier waits: receipt notice, transfer slip, registration card, stage notice,
courier label, manifest, pickup receipt — have a thread of their own; exports (the ledger as PDF,
XLSX or CSV, seconds for a long one) have their own small pool, so a document never queues behind
an export. One thread for counter documents because reportlab does not promise thread safety and
the GIL would not run two renders at once anyway; two pools so that the GIL is shared between a
counter render and an export instead of the counter render waiting for the export to end.

Exports are bounded as well: one at a time per user (a second one while the first runs is a 429
with ``Retry-After``), and at most ``max_exports`` in flight in all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from api.ratelimit import busy

T = TypeVar("T")

COUNTER_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="handoff-render")
EXPORT_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="handoff-export")


def export_pool(workers: int) -> Executor:
    """The export pool for ``HANDOFF_EXPORT_WORKERS`` (1 or 2: more only share the same core)."""
    workers = min(max(workers, 1), 2)
    return EXPORT_POOL if workers == 1 else ThreadPoolExecutor(workers, thread_name_prefix="handoff-export")


@dataclass
class Renderers:
    counter: Executor = COUNTER_POOL
    exports: Executor = EXPORT_POOL
    max_exports: int = 4
    """Exports in flight (rendering or waiting for the pool) across all users."""
    retry_after_seconds: float = 10.0
    exporting: set[str] = field(default_factory=set)
    """Users with an export in flight."""
    export_renders: int = 0
    """Exports handed to the export pool and not finished."""

    async def document(self, draw: Callable[[T], bytes], data: T) -> bytes:
        """A counter document, on the counter thread."""
        return await asyncio.get_running_loop().run_in_executor(self.counter, draw, data)

    async def export(self, draw: Callable[[T], bytes], data: T) -> bytes:
        """An export, on the export pool (inside ``export_slot``)."""
        self.export_renders += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.exports, draw, data)
        finally:
            self.export_renders -= 1

    @asynccontextmanager
    async def export_slot(self, user_id: str) -> AsyncIterator[None]:
        """Hold the user's one export slot while the export is read and drawn."""
        if user_id in self.exporting:
            raise busy("您的上一个导出尚未完成，请等它完成后再导出", self.retry_after_seconds)
        if len(self.exporting) >= self.max_exports:
            raise busy("正在进行的导出较多，请稍后再导出", self.retry_after_seconds)
        self.exporting.add(user_id)
        try:
            yield
        finally:
            self.exporting.discard(user_id)
