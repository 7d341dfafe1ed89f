"""Every exchange and queue name, and what each consumer group listens to — in one place.

Per consumer group G (queue ``handoff.G``):
* a durable **quorum** queue bound to the topic exchange ``handoff.events`` for G's routing keys,
  with ``x-delivery-limit`` and a dead-letter route to ``handoff.G.parked`` (a quorum queue drops
  a poison message past its delivery limit unless it has somewhere to dead-letter it);
* delayed-retry queues ``handoff.G.retry.N`` (quorum, dead-lettering at least once, ``x-message-ttl`` = the delay)
  that dead-letter back into ``handoff.G`` through the default exchange;
* ``handoff.G.parked``: messages that failed every retry, with their last error, waiting for an
  admin's ``handoff parked replay``;
* hold queues ``handoff.G.hold.N`` (quorum like the retry queues, ``x-message-ttl`` = 200 ms, 1 s, 5 s) that
  dead-letter back into ``handoff.G`` like the retry queues: a message that came ahead of its
  predecessor waits there (worker/consumer.py). Being held is not a failed attempt; the first
  holds are short, and a message held for long (its predecessor is in a long retry) is looked
  at less often.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace

EXCHANGE = "handoff.events"
DELIVERY_LIMIT = 10
RETRY_DELAYS_MS: tuple[int, ...] = (1_000, 5_000, 30_000, 120_000, 600_000)
HOLD_DELAYS_MS: tuple[int, ...] = (200, 1_000, 5_000)
HOLDS_PER_STEP = 10
"""A held message waits 200 ms for its first 10 holds, 1 s for the next 10, then 5 s."""


def matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: ``*`` one word, ``#`` zero or more words."""
    words, parts = routing_key.split("."), pattern.split(".")

    def match(i: int, j: int) -> bool:
        if j == len(parts):
            return i == len(words)
        if parts[j] == "#":
            return any(match(k, j + 1) for k in range(i, len(words) + 1))
        return i < len(words) and (parts[j] == "*" or fnmatch.fnmatchcase(words[i], parts[j])) and match(i + 1, j + 1)

    return match(0, 0)


@dataclass(frozen=True)
class Group:
    """A consumer group: one queue, the routing keys it binds, its retry delays."""

    name: str
    bindings: tuple[str, ...]
    retry_delays_ms: tuple[int, ...] = RETRY_DELAYS_MS
    hold_delays_ms: tuple[int, ...] = HOLD_DELAYS_MS
    prefix: str = "handoff"
    prefetch: int = 64
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def queue(self) -> str:
        return f"{self.prefix}.{self.name}"

    @property
    def parked(self) -> str:
        return f"{self.queue}.parked"

    def retry_queue(self, attempt: int) -> str:
        return f"{self.queue}.retry.{attempt}"

    def delay_for(self, attempt: int) -> int:
        """Delay before retry number ``attempt`` (1-based); None past the last one."""
        return self.retry_delays_ms[attempt - 1]

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays_ms)

    def hold_step(self, holds: int) -> int:
        """Which hold queue (1-based) takes a message held ``holds`` times before."""
        return min(holds // HOLDS_PER_STEP, len(self.hold_delays_ms) - 1) + 1

    def hold_queue(self, step: int) -> str:
        return f"{self.queue}.hold.{step}"

    def hold_delay(self, holds: int) -> int:
        return self.hold_delays_ms[self.hold_step(holds) - 1]

    def binds(self, routing_key: str) -> bool:
        """Whether the group's queue receives messages with this routing key."""
        return any(matches(pattern, routing_key) for pattern in self.bindings)

    @property
    def queues(self) -> list[str]:
        """Every queue the group declares."""
        return [
            self.queue,
            self.parked,
            *(self.retry_queue(n) for n in range(1, self.max_attempts + 1)),
            *(self.hold_queue(n) for n in range(1, len(self.hold_delays_ms) + 1)),
        ]


def exchange_name(prefix: str = "handoff") -> str:
    return f"{prefix}.events"


# The consumer groups of worker/ and what each listens to.
GROUPS: dict[str, Group] = {
    "notifications": Group("notifications", ("case.#", "stage.#", "package.#")),
    "logistics": Group("logistics", ("package.sealed", "package.booked", "package.exception")),
    # recomputing groups: the more messages a batch, the fewer transactions (a fixed number of
    # statements each, whatever the batch's size), so a wider prefetch window: units of up to 64
    "deadlines": Group("deadlines", ("case.#", "stage.#", "calendar.#"), prefetch=256),
    "projections": Group("projections", ("case.#", "stage.#"), prefetch=256),
}


def groups(prefix: str = "handoff") -> dict[str, Group]:
    """The consumer groups under another name prefix (another installation on the same broker)."""
    return {name: replace(group, prefix=prefix) for name, group in GROUPS.items()}
