"""What the consumer sends about its messages on one channel (adapters/broker/rabbit.py ``_Link``):
one ``ack(multiple=True)`` per settled run, never over a message still in hand, never a tag twice,
and nothing once the channel is closing — a frame that reaches the broker after the channel's
close ends the whole connection (CHANNEL_ERROR 504)."""

from __future__ import annotations

import asyncio
import random

from adapters.broker.rabbit import _Link


class Broker:
    """One channel as RabbitMQ sees it: an unknown delivery tag is a channel error, ``multiple``
    settles every outstanding tag up to it, and a frame after the close is a connection error."""

    def __init__(self, count: int) -> None:
        self.outstanding = set(range(1, count + 1))
        self.frames: list[tuple[int, bool]] = []
        self.closed = False
        self.errors: list[str] = []

    @property
    def is_closed(self) -> bool:  # the AMQP channel (aiormq's), as _Link reads it
        return self.closed

    def ack(self, tag: int, multiple: bool) -> None:
        if self.closed:
            self.errors.append(f"CHANNEL_ERROR 504: ack {tag} on a closed channel")
        elif tag not in self.outstanding:
            self.errors.append(f"PRECONDITION_FAILED: unknown delivery tag {tag}")
        self.frames.append((tag, multiple))
        self.outstanding -= {t for t in self.outstanding if t <= tag} if multiple else {tag}


class Delivered:
    def __init__(self, tag: int, broker: Broker, slow: float = 0.0) -> None:
        self.delivery_tag = tag
        self.broker = broker
        self.slow = slow

    async def ack(self, multiple: bool = False) -> None:
        if self.slow:
            await asyncio.sleep(self.slow)  # a frame waiting for room in the connection's buffer
        self.broker.ack(self.delivery_tag, multiple)


class Channel:
    """The aio-pika channel over the broker's: closing it is one more frame."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    @property
    def is_closed(self) -> bool:
        return self.broker.closed

    async def close(self) -> None:
        await asyncio.sleep(0)
        self.broker.closed = True


def messages(broker: Broker, slow: float = 0.0) -> list[Delivered]:
    return [Delivered(tag, broker, slow) for tag in sorted(broker.outstanding)]


async def test_a_run_of_handled_messages_is_acknowledged_with_one_multiple_ack() -> None:
    broker = Broker(5)
    m = messages(broker)
    link = _Link(broker)
    await link.ack(m[:3])
    await link.ack(m[3:])
    assert broker.frames == [(3, True), (5, True)] and not broker.outstanding and not broker.errors


async def test_messages_after_one_still_in_hand_wait_for_it_then_go_in_one_ack() -> None:
    broker = Broker(4)
    m = messages(broker)
    link = _Link(broker, wait=10)
    await link.ack(m[1:])
    assert broker.frames == []  # 1 is still in hand: acknowledging 4 with multiple would cover it
    await link.ack(m[:1])
    assert broker.frames == [(4, True)] and not broker.outstanding and not broker.errors


async def test_a_message_settled_by_itself_is_never_acknowledged_again() -> None:
    broker = Broker(3)
    m = messages(broker)
    link = _Link(broker, wait=10)

    async def retried() -> bool:  # its copy published to a retry queue, then its own ack
        await m[1].ack()
        return True

    await link.settle_alone(m[1], retried)
    await link.ack([m[0], m[2]])
    assert broker.frames == [(2, False), (3, True)] and not broker.outstanding and not broker.errors


async def test_a_message_waiting_too_long_for_an_earlier_one_is_acknowledged_by_itself() -> None:
    broker = Broker(3)
    m = messages(broker)
    link = _Link(broker, wait=0.01)
    await link.ack(m[1:])
    await asyncio.sleep(0.1)
    assert sorted(broker.frames) == [(2, False), (3, False)]  # the prefetch window is not held back
    await link.ack(m[:1])
    assert broker.frames[-1] == (1, False) and not broker.outstanding and not broker.errors


async def test_nothing_is_sent_once_the_channel_is_closing_and_the_close_waits_for_a_frame_being_sent() -> None:
    broker = Broker(4)
    m = messages(broker, slow=0.05)
    link = _Link(broker, wait=10)
    sending = asyncio.create_task(link.ack(m[:2]))
    await asyncio.sleep(0.01)  # the ack of 1–2 is on its way
    await link.close(Channel(broker))
    await sending
    assert broker.frames == [(2, True)] and broker.closed
    await link.ack(m[2:])

    async def refused() -> bool:
        raise AssertionError("sent on a closing channel")

    await link.settle_alone(m[3], refused)
    await link.flush()
    assert broker.frames == [(2, True)] and not broker.errors


async def one_random_run(seed: int) -> None:
    rng = random.Random(seed)
    broker = Broker(120)
    m = [Delivered(tag, broker, slow=rng.choice([0, 0, 0.001, 0.003])) for tag in range(1, 121)]
    link = _Link(broker, wait=0.005)
    units: list[list[Delivered]] = []
    start = 0
    while start < len(m):
        size = rng.randint(1, 12)
        units.append(m[start : start + size])
        start += size
    close = rng.random() < 0.3

    async def unit(deliveries: list[Delivered]) -> None:
        await asyncio.sleep(rng.random() * 0.01)
        alone = [d for d in deliveries if rng.random() < 0.1]
        for d in alone:

            async def retried(d: Delivered = d) -> bool:
                await d.ack()
                return True

            await link.settle_alone(d, retried)
        await link.ack([d for d in deliveries if d not in alone])

    async def closer() -> None:
        if close:
            await asyncio.sleep(rng.random() * 0.01)
            await link.close(Channel(broker))

    await asyncio.gather(*(unit(u) for u in units), closer())
    await link.flush()
    assert broker.errors == [], (seed, broker.errors[:3])
    if not close:
        assert not broker.outstanding, (seed, sorted(broker.outstanding)[:5])
        assert len(broker.frames) < len(m)  # runs, not one frame a message


async def test_concurrent_units_with_slow_frames_never_ack_an_unknown_tag_nor_after_the_close() -> None:
    for seed in range(40):
        await one_random_run(seed)
