"""RabbitMQ through aio-pika: confirmed, pipelined publishing with timeouts; consumers with
manual acks, delayed retries and parking; reconnection with the topology declared again."""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Sequence
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from aio_pika.exceptions import DeliveryError
from pamqp.commands import Basic

from adapters.broker.bus import LAST_ERROR, BatchHandler, Handler, Hold, Incoming, Outgoing
from adapters.broker.outcomes import Outcome, decide, describe
from adapters.broker.topology import DELIVERY_LIMIT, Group, exchange_name

log = logging.getLogger("handoff.broker")

ATTEMPT = "x-handoff-attempt"
HOLDS = "x-handoff-holds"
ORDERING = "x-handoff-ordering-key"
ROUTING = "x-handoff-routing-key"
SEQ = "x-handoff-seq"


class PublishFailed(Exception):
    pass


class RabbitBus:
    def __init__(
        self, url: str, *, prefix: str = "handoff", publish_timeout: float = 10.0, reconnect_interval: float = 1.0
    ) -> None:
        self.url = url
        self.reconnect_interval = reconnect_interval
        self.prefix = prefix
        self.publish_timeout = publish_timeout
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._publish_lock = asyncio.Lock()
        self._consumers: list[_Consumer] = []

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(
            self.url, timeout=self.publish_timeout, reconnect_interval=self.reconnect_interval
        )
        self._publish_channel = await self._connection.channel(publisher_confirms=True)
        await self._publish_channel.declare_exchange(
            exchange_name(self.prefix), aio_pika.ExchangeType.TOPIC, durable=True
        )

    async def close(self) -> None:
        """Stop every consumer (the messages in hand are finished first), then disconnect."""
        consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            await consumer.stop()
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    @property
    def connection(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise RuntimeError("bus not started")
        return self._connection

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        """All confirmed, or PublishFailed. Confirms are awaited together (pipelined)."""
        if not messages:
            return
        channel = self._publish_channel
        if channel is None or channel.is_closed:
            raise PublishFailed("publishing channel is closed")
        async with self._publish_lock:
            exchange = await channel.get_exchange(exchange_name(self.prefix), ensure=False)
            pending = [
                exchange.publish(
                    aio_pika.Message(
                        body=m.body,
                        message_id=m.message_id,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        headers=_headers(m),
                    ),
                    routing_key=m.routing_key,
                    mandatory=False,
                    timeout=self.publish_timeout,
                )
                for m in messages
            ]
            try:
                results = await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), self.publish_timeout)
            except TimeoutError as exc:
                raise PublishFailed("broker did not confirm in time") from exc
        for result in results:
            if isinstance(result, BaseException):
                raise PublishFailed(describe(result)) from result
            if not isinstance(result, Basic.Ack):
                raise PublishFailed(f"broker refused a message: {result!r}")

    async def declare(self, group: Group) -> None:
        channel = await self.connection.channel()
        await declare_group(channel, group, self.prefix)
        await channel.close()

    async def consume(self, group: Group, handler: Handler, batch: BatchHandler | None = None) -> None:
        consumer = _Consumer(self, group, handler, batch)
        await consumer.start()
        self._consumers.append(consumer)

    async def depth(self, group: Group) -> int:
        channel = await self.connection.channel()
        try:
            queue = await channel.declare_queue(group.queue, passive=True)
            return int(queue.declaration_result.message_count or 0)
        finally:
            await channel.close()

    async def parked(self, group: Group, limit: int = 100) -> list[Incoming]:
        channel = await self.connection.channel()
        try:
            await declare_group(channel, group, self.prefix)
            queue = await channel.get_queue(group.parked)
            seen: list[Incoming] = []
            messages: list[AbstractIncomingMessage] = []
            for _ in range(limit):
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    break
                messages.append(message)
                seen.append(_incoming(message))
            for message in messages:
                await message.nack(requeue=True)
            return seen
        finally:
            await channel.close()

    async def replay(self, group: Group, limit: int = 100) -> int:
        channel = await self.connection.channel(publisher_confirms=True)
        try:
            await declare_group(channel, group, self.prefix)
            queue = await channel.get_queue(group.parked)
            moved = 0
            for _ in range(limit):
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    break
                headers = {k: v for k, v in (message.headers or {}).items() if k not in (ATTEMPT, HOLDS, LAST_ERROR)}
                await channel.default_exchange.publish(
                    aio_pika.Message(
                        body=message.body,
                        message_id=message.message_id,
                        headers=headers,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=group.queue,
                )
                await message.ack()
                moved += 1
            return moved
        finally:
            await channel.close()


def _headers(message: Outgoing) -> dict[str, Any]:
    headers: dict[str, Any] = {ORDERING: message.ordering_key, ROUTING: message.routing_key}
    if message.seq is not None:
        headers[SEQ] = message.seq
    return headers


DELAY_QUEUE = {
    # A message whose delay ends moves back to the group's queue by dead-lettering. From a classic
    # queue that move is at most once: a broker killed in the middle loses the message (and a lost
    # event holds all its case's successors behind the gap). From a quorum queue with this
    # strategy the message leaves only once the group's queue has taken it.
    "x-queue-type": "quorum",
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
}


async def declare_group(channel: AbstractChannel, group: Group, prefix: str) -> None:
    exchange = await channel.declare_exchange(exchange_name(prefix), aio_pika.ExchangeType.TOPIC, durable=True)
    await channel.declare_queue(group.parked, durable=True, arguments={"x-queue-type": "quorum"})
    queue = await channel.declare_queue(
        group.queue,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": group.parked,
        },
    )
    for key in group.bindings:
        await queue.bind(exchange, routing_key=key)
    for attempt, delay in enumerate(group.retry_delays_ms, start=1):
        await channel.declare_queue(
            group.retry_queue(attempt),
            durable=True,
            arguments={
                **DELAY_QUEUE,
                "x-message-ttl": delay,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": group.queue,
            },
        )
    for step, delay in enumerate(group.hold_delays_ms, start=1):
        await channel.declare_queue(
            group.hold_queue(step),
            durable=True,
            arguments={
                **DELAY_QUEUE,
                "x-message-ttl": delay,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": group.queue,
            },
        )


def _incoming(message: AbstractIncomingMessage) -> Incoming:
    headers = dict(message.headers or {})
    seq = headers.get(SEQ)
    return Incoming(
        message_id=message.message_id or "",
        routing_key=str(headers.get(ROUTING) or message.routing_key or ""),
        body=message.body,
        ordering_key=str(headers.get(ORDERING, "")),
        attempt=_count(headers.get(ATTEMPT)),
        headers=headers,
        seq=seq if isinstance(seq, int) else None,
        holds=_count(headers.get(HOLDS)),
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class _Consumer:
    """Delivers one group's messages. Messages are spread over ``lanes`` by their ordering key, so a
    case's events are handled one after another, while different cases go in parallel. Each lane
    takes what has arrived (up to ``max_batch``), puts each key's messages in sequence order, and
    offers them to the batch handler in one go; if that fails, it handles the messages one by one,
    each to its own outcome. (Order across processes, redeliveries and retries is not the lanes'
    doing: the consumers hold back a message that came early — worker/consumer.py.)"""

    def __init__(
        self,
        bus: RabbitBus,
        group: Group,
        handler: Handler,
        batch: BatchHandler | None,
        lanes: int = 8,
        max_batch: int = 64,
    ) -> None:
        self.bus = bus
        self.group = group
        self.handler = handler
        self.batch = batch
        self.max_batch = max_batch
        self.linger = 0.003
        self._lanes: list[asyncio.Queue[tuple[AbstractIncomingMessage, Incoming]]] = [
            asyncio.Queue() for _ in range(lanes)
        ]
        self._workers: list[asyncio.Task[None]] = []
        self._channel: AbstractChannel | None = None
        self._tag: str | None = None

    async def start(self) -> None:
        self._channel = await self.bus.connection.channel(publisher_confirms=True)
        await self._channel.set_qos(prefetch_count=self.group.prefetch)
        await declare_group(self._channel, self.group, self.bus.prefix)
        queue = await self._channel.get_queue(self.group.queue)
        self._workers = [asyncio.create_task(self._lane(q)) for q in self._lanes]
        self._tag = await queue.consume(self._on_message, no_ack=False)

    async def stop(self) -> None:
        """Stop taking messages, finish the ones in hand."""
        if self._channel is not None and self._tag is not None and not self._channel.is_closed:
            queue = await self._channel.get_queue(self.group.queue, ensure=False)
            await queue.cancel(self._tag)
        for lane in self._lanes:
            await lane.join()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        incoming = _incoming(message)
        key = incoming.ordering_key or incoming.message_id
        self._lanes[zlib.crc32(key.encode()) % len(self._lanes)].put_nowait((message, incoming))

    async def _lane(self, queue: asyncio.Queue[tuple[AbstractIncomingMessage, Incoming]]) -> None:
        while True:
            taken = [await queue.get()]
            if self.batch is not None and queue.empty():
                await asyncio.sleep(self.linger)  # let a few more arrive: one transaction for many
            while len(taken) < self.max_batch and not queue.empty():
                taken.append(queue.get_nowait())
            # a redelivered or held message may arrive after its successor: put them back in order
            taken.sort(key=lambda pair: (pair[1].ordering_key, pair[1].seq or 0))
            try:
                await self._handle(taken)
            finally:
                for _ in taken:
                    queue.task_done()

    async def _handle(self, taken: list[tuple[AbstractIncomingMessage, Incoming]]) -> None:
        if self.batch is not None and len(taken) > 1 and all(i.attempt == 0 for _, i in taken):
            try:
                await self.batch([i for _, i in taken])
            except Hold:
                log.debug("a message of a batch of %d waits for its predecessor; one by one", len(taken))
            except Exception:
                log.info("batch of %d failed; handling one by one", len(taken), exc_info=True)
            else:
                for message, incoming in taken:
                    await self._quietly(self._settle(message, incoming, None))
                return
        for message, incoming in taken:
            error: BaseException | None = None
            try:
                await self.handler(incoming)
            except Exception as exc:
                error = exc
            await self._quietly(self._settle(message, incoming, error))

    async def _quietly(self, settling: Any) -> None:
        try:
            await settling
        except Exception:
            # The channel went away: the broker will redeliver, and the inbox makes that harmless.
            log.warning("could not settle a message", exc_info=True)

    async def _settle(self, message: AbstractIncomingMessage, incoming: Incoming, error: BaseException | None) -> None:
        outcome = decide(error, incoming.attempt, self.group)
        if outcome is Outcome.ACK:
            await message.ack()
            return
        assert error is not None and self._channel is not None
        headers: dict[str, Any] = dict(incoming.headers)
        if outcome is Outcome.HOLD:
            headers[HOLDS] = incoming.holds + 1
            target = self.group.hold_queue(self.group.hold_step(incoming.holds))
            log.debug("holding %s (%s): %s", incoming.message_id, incoming.routing_key, describe(error))
        elif outcome is Outcome.RETRY:
            headers[LAST_ERROR] = describe(error)
            headers[ATTEMPT] = incoming.attempt + 1
            target = self.group.retry_queue(incoming.attempt + 1)
            log.info(
                "retrying %s (%s) in %d ms: %s",
                incoming.message_id,
                incoming.routing_key,
                self.group.delay_for(incoming.attempt + 1),
                headers[LAST_ERROR],
            )
        else:
            headers[LAST_ERROR] = describe(error)
            target = self.group.parked
            log.warning("parking %s (%s): %s", incoming.message_id, incoming.routing_key, headers[LAST_ERROR])
        try:
            await self._channel.default_exchange.publish(
                aio_pika.Message(
                    body=message.body,
                    message_id=incoming.message_id,
                    headers=headers,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=target,
            )
        except DeliveryError:
            await message.nack(requeue=True)
            return
        await message.ack()
