"""The consumer's acknowledgements (adapters/broker/rabbit.py ``_Acks``): one ``ack(multiple=True)``
per run of handled messages, never over a message still in hand, and never twice."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from adapters.broker.rabbit import _Acks


class Delivered:
    """A delivered message as the broker sees its acknowledgement."""

    def __init__(self, tag: int, broker: Broker) -> None:
        self.delivery_tag = tag
        self.broker = broker

    async def ack(self, multiple: bool = False) -> None:
        self.broker.ack(self.delivery_tag, multiple)


class Broker:
    """The unacknowledged deliveries of one channel, with RabbitMQ's rules: an unknown tag is a
    channel error; ``multiple`` acknowledges every outstanding tag up to it."""

    def __init__(self, count: int) -> None:
        self.outstanding = set(range(1, count + 1))
        self.frames: list[tuple[int, bool]] = []

    def ack(self, tag: int, multiple: bool) -> None:
        assert tag in self.outstanding, f"unknown delivery tag {tag}"
        self.frames.append((tag, multiple))
        self.outstanding -= {t for t in self.outstanding if t <= tag} if multiple else {tag}

    def messages(self) -> list[Any]:
        return [Delivered(tag, self) for tag in sorted(self.outstanding)]


async def test_a_run_of_handled_messages_is_acknowledged_with_one_multiple_ack() -> None:
    broker = Broker(5)
    m = broker.messages()
    acks = _Acks()
    await acks.settled(m[:3])
    await acks.settled(m[3:])
    assert broker.frames == [(3, True), (5, True)] and not broker.outstanding


async def test_messages_after_one_still_in_hand_wait_for_it_then_go_in_one_ack() -> None:
    broker = Broker(6)
    m = broker.messages()
    acks = _Acks(wait=60)
    await acks.settled([m[2], m[3], m[5]])  # 1, 2 in hand
    assert broker.frames == []
    await acks.settled([m[0]])
    assert broker.frames == [(1, False)]
    await acks.settled([m[1]], otherwise=[])
    assert broker.frames == [(1, False), (4, True)]  # 2, 3, 4 together; 6 waits for 5
    await acks.settled([m[4]])
    assert broker.frames[-1] == (6, True) and not broker.outstanding


async def test_a_message_settled_by_its_own_ack_is_never_the_tag_of_a_multiple_ack() -> None:
    broker = Broker(4)
    m = broker.messages()
    acks = _Acks()
    await m[3].ack()  # sent to a retry queue, acknowledged by itself
    await acks.settled([m[0], m[1], m[2]], otherwise=[4])
    assert broker.frames == [(4, False), (3, True)] and not broker.outstanding


async def test_what_waits_too_long_for_an_earlier_message_is_acknowledged_by_itself_once() -> None:
    broker = Broker(4)
    m = broker.messages()
    acks = _Acks(wait=0.01)
    await acks.settled([m[1], m[2]])  # 1 is slow
    await asyncio.sleep(0.05)
    assert sorted(broker.frames) == [(2, False), (3, False)]
    await acks.settled([m[0], m[3]])  # the floor runs over 2 and 3 without acknowledging them again
    assert broker.frames[-1] == (4, True) and not broker.outstanding


async def test_units_finishing_in_any_order_with_slow_frames_leave_nothing_unacknowledged_and_no_unknown_tag() -> None:
    """Many units settling at once, some messages acknowledged by themselves (a retry), some
    waiting past ``wait``, and every frame taking its time to leave (the connection's frame queue
    is bounded): the broker never sees a tag it does not know, and ends with nothing outstanding."""
    rng = random.Random(7)

    class Slow(Delivered):
        async def ack(self, multiple: bool = False) -> None:
            await asyncio.sleep(rng.random() * 0.002)  # the frame leaves later
            self.broker.ack(self.delivery_tag, multiple)

    for _ in range(20):
        broker = Broker(200)
        messages = [Slow(tag, broker) for tag in range(1, 201)]
        acks = _Acks(wait=0.003)
        units, start = [], 0
        while start < len(messages):
            size = rng.randint(1, 6)
            units.append(messages[start : start + size])
            start += size

        async def settle(unit: list[Slow], acks: _Acks = acks) -> None:
            await asyncio.sleep(rng.random() * 0.02)
            by_itself = [m for m in unit if rng.random() < 0.1]
            for m in by_itself:
                await m.ack()
                await acks.settled([], [m.delivery_tag])
            await acks.settled([m for m in unit if m not in by_itself])

        await asyncio.gather(*(settle(u) for u in units))
        await acks.flush()
        assert not broker.outstanding
