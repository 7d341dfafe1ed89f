"""Every exchange and queue name, and what each consumer group listens to — in one place.

Per consumer group G (queue ``handoff.G``):
* a durable **quorum** queue bound to the topic exchange ``handoff.events`` for G's routing keys,
  with ``x-delivery-limit`` and a dead-letter route to ``handoff.G.parked`` (a quorum queue drops
  a poison message past its delivery limit unless it has somewhere to dead-letter it);
* delayed-retry queues ``handoff.G.retry.N`` (classic, durable, ``x-message-ttl`` = the delay)
  that dead-letter back into ``handoff.G`` through the default exchange;
* ``handoff.G.parked``: messages that failed every retry, with their last error, waiting for an
  admin's ``handoff parked replay``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

EXCHANGE = "handoff.events"
DELIVERY_LIMIT = 10
RETRY_DELAYS_MS: tuple[int, ...] = (1_000, 5_000, 30_000, 120_000, 600_000)


@dataclass(frozen=True)
class Group:
    """A consumer group: one queue, the routing keys it binds, its retry delays."""

    name: str
    bindings: tuple[str, ...]
    retry_delays_ms: tuple[int, ...] = RETRY_DELAYS_MS
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


def exchange_name(prefix: str = "handoff") -> str:
    return f"{prefix}.events"


# The consumer groups of worker/ and what each listens to.
GROUPS: dict[str, Group] = {
    "notifications": Group("notifications", ("case.#", "stage.#", "package.#")),
    "logistics": Group("logistics", ("package.sealed", "package.booked", "package.exception")),
    "deadlines": Group("deadlines", ("case.#", "stage.#", "calendar.#")),
    "projections": Group("projections", ("case.#", "stage.#")),
}


def groups(prefix: str = "handoff") -> dict[str, Group]:
    """The consumer groups under another name prefix (another installation on the same broker)."""
    return {name: replace(group, prefix=prefix) for name, group in GROUPS.items()}
