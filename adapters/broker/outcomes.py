"""The one place where a handler's result becomes ack, delayed retry or park."""

from __future__ import annotations

from enum import Enum

from adapters.broker.bus import Hold, Park
from adapters.broker.topology import Group


class Outcome(Enum):
    ACK = "ack"
    RETRY = "retry"
    PARK = "park"
    HOLD = "hold"


def decide(error: BaseException | None, attempt: int, group: Group) -> Outcome:
    """``attempt`` is how many times the message was retried before this delivery."""
    if error is None:
        return Outcome.ACK
    if isinstance(error, Hold):
        return Outcome.HOLD
    if isinstance(error, Park):
        return Outcome.PARK
    if attempt >= group.max_attempts:
        return Outcome.PARK
    return Outcome.RETRY


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:1000]
