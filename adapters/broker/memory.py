"""The in-process bus behind ``memory://``: the same interface as RabbitMQ, for the embedded
one-command start only (nothing survives a restart; the outbox does, and the relay publishes
again). Tests of messaging run on RabbitMQ."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from adapters.broker.bus import LAST_ERROR, BatchHandler, Handler, Incoming, Outgoing
from adapters.broker.outcomes import Outcome, decide, describe
from adapters.broker.topology import Group, matches

__all__ = ["MemoryBus", "matches"]

log = logging.getLogger("handoff.broker")


class MemoryBus:
    def __init__(self) -> None:
        self._groups: dict[str, tuple[Group, asyncio.Queue[Incoming], Handler]] = {}
        self._parked: dict[str, list[Incoming]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._closing = True
        for _, queue, _ in self._groups.values():
            await queue.join()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        for m in messages:
            for group, queue, _ in self._groups.values():
                if any(matches(p, m.routing_key) for p in group.bindings):
                    queue.put_nowait(Incoming(m.message_id, m.routing_key, m.body, m.ordering_key, seq=m.seq))

    async def consume(self, group: Group, handler: Handler, batch: BatchHandler | None = None) -> None:
        """One message at a time (``batch`` is an optimisation the embedded bus does not need)."""
        queue: asyncio.Queue[Incoming] = asyncio.Queue()
        self._groups[group.name] = (group, queue, handler)
        self._parked.setdefault(group.name, [])
        self._tasks.append(asyncio.create_task(self._run(group, queue, handler)))

    async def _run(self, group: Group, queue: asyncio.Queue[Incoming], handler: Handler) -> None:
        while True:
            message = await queue.get()
            try:
                error: BaseException | None = None
                try:
                    await handler(message)
                except Exception as exc:
                    error = exc
                outcome = decide(error, message.attempt, group)
                if outcome is Outcome.HOLD:
                    delay = group.hold_delay(message.holds) / 1000
                    message.holds += 1
                    asyncio.get_running_loop().call_later(delay, queue.put_nowait, message)
                elif outcome is Outcome.RETRY and error is not None:
                    message.attempt += 1
                    delay = group.delay_for(message.attempt) / 1000
                    log.info("retrying %s in %.1f s: %s", message.message_id, delay, describe(error))
                    asyncio.get_running_loop().call_later(delay, queue.put_nowait, message)
                elif outcome is Outcome.PARK and error is not None:
                    message.headers = {**message.headers, LAST_ERROR: describe(error)}
                    self._parked[group.name].append(message)
                    log.warning("parked %s: %s", message.message_id, describe(error))
            finally:
                queue.task_done()

    async def depth(self, group: Group) -> int:
        entry = self._groups.get(group.name)
        return entry[1].qsize() if entry else 0

    async def parked(self, group: Group, limit: int = 100) -> list[Incoming]:
        return list(self._parked.get(group.name, [])[:limit])

    async def replay(self, group: Group, limit: int = 100) -> int:
        parked = self._parked.get(group.name, [])
        if not parked:  # also a group nobody consumes here: nothing can have been parked
            return 0
        moved, self._parked[group.name] = parked[:limit], parked[limit:]
        _, queue, _ = self._groups[group.name]
        for message in moved:
            message.attempt = 0
            message.holds = 0
            queue.put_nowait(message)
        return len(moved)
