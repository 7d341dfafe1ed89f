"""The relay while the broker is down: one line of log a failed batch, with the cause, and a pause
that grows and that commits (pokes) do not cut short; a bug keeps its traceback."""

from __future__ import annotations

import asyncio
import logging

from adapters.broker.bus import PublishFailed
from worker.relay import OutboxRelay


class Failing(OutboxRelay):
    """A relay whose every batch fails with ``error`` (the publish, as the broker refuses it)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(engine=None, publisher=None, poll_seconds=0.05, max_backoff=0.2)  # type: ignore[arg-type]
        self.error = error
        self.attempts = 0

    async def run_once(self) -> int:
        self.attempts += 1
        raise self.error


async def _run_while_poked(relay: Failing, seconds: float) -> None:
    """Run the relay for ``seconds`` while commits poke it every millisecond (as OutboxPoke and
    LISTEN do while the API goes on committing)."""
    task = asyncio.create_task(relay.run())
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        relay.wake()
        await asyncio.sleep(0.001)
    relay.stop()
    await asyncio.wait_for(task, 5)


def _relay_lines(caplog) -> list[logging.LogRecord]:  # type: ignore[no-untyped-def]
    return [r for r in caplog.records if r.name == "handoff.relay"]


async def test_a_broker_down_is_one_line_a_retry_and_pokes_do_not_cut_the_pause_short(caplog):
    caplog.set_level(logging.INFO, logger="handoff.relay")
    relay = Failing(PublishFailed("publishing channel is closed"))
    await _run_while_poked(relay, 0.5)
    # pauses of 0.1, 0.2, 0.2 … s: a slower machine only makes fewer attempts; poked every
    # millisecond without the pause it would be hundreds
    assert 1 <= relay.attempts <= 6, relay.attempts
    lines = _relay_lines(caplog)
    assert len(lines) == relay.attempts
    for record in lines:
        assert record.levelno == logging.WARNING
        assert record.exc_info is None or record.exc_info is False
        assert "PublishFailed: publishing channel is closed" in record.getMessage()


async def test_an_unreachable_broker_or_database_is_one_line_too(caplog):
    caplog.set_level(logging.INFO, logger="handoff.relay")
    relay = Failing(ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5672)"))
    await _run_while_poked(relay, 0.1)
    [first, *_] = _relay_lines(caplog)
    assert not first.exc_info
    assert "ConnectionRefusedError" in first.getMessage()


async def test_a_bug_keeps_its_traceback_and_backs_off_too(caplog):
    caplog.set_level(logging.INFO, logger="handoff.relay")
    relay = Failing(KeyError("payload"))
    await _run_while_poked(relay, 0.3)
    assert 1 <= relay.attempts <= 5, relay.attempts
    lines = _relay_lines(caplog)
    assert lines and all(r.exc_info and r.exc_info[0] is KeyError for r in lines)
