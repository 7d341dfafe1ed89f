"""What the relay and the consumers need from a message broker; RabbitMQ (rabbit.py) and the
in-process bus for the embedded default (memory.py) both provide it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

LAST_ERROR = "x-handoff-last-error"
"""Header of a parked message: why its last attempt failed (both buses set it)."""


@dataclass(frozen=True)
class Outgoing:
    message_id: str
    routing_key: str
    body: bytes
    ordering_key: str
    seq: int | None = None
    """The event's place in its ordering key's stream (the envelope's ``seq``), if it has one."""


@dataclass
class Incoming:
    message_id: str
    routing_key: str
    body: bytes
    ordering_key: str
    attempt: int = 0
    headers: Mapping[str, Any] = field(default_factory=dict)
    seq: int | None = None
    holds: int = 0
    """How many times the message was held back waiting for a predecessor (never an attempt)."""


class PublishFailed(Exception):
    """The broker did not confirm every message of a batch (it is down, unreachable or refused
    them): none may be taken as published. What the relay backs off from with one line of log."""


class RetryLater(Exception):
    """The handler could not finish now (a provider is down…): try again after a delay."""


class Park(Exception):
    """The message can never succeed as it is: park it for a person, with this reason."""


class Hold(Exception):
    """The message came ahead of a predecessor: deliver it again shortly. Not a failure: it does
    not count as an attempt, and a message is never parked for being held."""


class PartlyHeld(Exception):
    """Raised by a batch handler that handled every message of its batch but ``waiting`` (their
    message ids), which came ahead of a predecessor: those are held (as by :class:`Hold`), the
    others are done."""

    def __init__(self, waiting: frozenset[str]) -> None:
        super().__init__(f"{len(waiting)} messages of the batch wait for their predecessors")
        self.waiting = waiting


Handler = Callable[[Incoming], Awaitable[None]]
BatchHandler = Callable[[Sequence[Incoming]], Awaitable[None]]
"""Handles several messages at once, all or nothing (one transaction) — or :class:`PartlyHeld`
when all were handled but some that must wait. When it raises anything else, the consumer splits
the batch and tries the parts, down to single messages, which go to the one-message handler and
their own outcome (retry, park): a bad message costs its neighbours only their part."""


class Publisher(Protocol):
    async def publish(self, messages: Sequence[Outgoing]) -> None:
        """Publish all; return only when the broker has confirmed every one. Raises on failure
        or timeout, and then the caller must assume none was published."""
        ...


class Bus(Publisher, Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def consume(self, group: Any, handler: Handler, batch: BatchHandler | None = None) -> None:
        """Start delivering the group's messages to ``handler`` (until close); with ``batch``,
        messages that arrive together are first offered to it as one batch."""
        ...

    async def parked(self, group: Any, limit: int = 100) -> list[Incoming]: ...

    async def depth(self, group: Any) -> int:
        """How many messages wait in the group's queue (not counting those being handled)."""
        ...

    async def replay(self, group: Any, limit: int = 100) -> int:
        """Move parked messages back to the group's queue; return how many."""
        ...


@dataclass(frozen=True)
class ParkedMessage:
    """What an admin sees of a parked message (``handoff parked list`` and the admin API)."""

    id: str
    type: str
    last_error: str

    @classmethod
    def of(cls, message: Incoming) -> ParkedMessage:
        return cls(message.message_id, message.routing_key, str(message.headers.get(LAST_ERROR, "")))

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "type": self.type, "last_error": self.last_error}
