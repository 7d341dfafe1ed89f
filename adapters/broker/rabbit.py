"""RabbitMQ through aio-pika: confirmed, pipelined publishing with timeouts; consumers with
manual acks, delayed retries and parking; reconnection with the topology declared again.

One node or a cluster. ``HANDOFF_BROKER_URL`` may list several comma-separated ``amqp://`` URLs,
one per node of a RabbitMQ cluster (DESIGN §11). :class:`ConnectionSupervisor` keeps one live
connection: with one URL it is aio-pika's robust connection (it reconnects to that URL and
restores its channels and consumers); with several it is a plain connection, and when it is lost
the supervisor tries the same node once more, then the next ones in order, round after round with
a growing pause, until one answers. Then each consumer opens a new channel, declares its topology
again and resumes consuming; the publisher opens a new channel on its next batch, and a batch cut
off by the failover has its unconfirmed or refused (nacked) messages sent again on the live node
within its timeout — always on a new channel: on RabbitMQ 3.10 a channel opened on a surviving
node while the queue's new leader is being elected nacks everything it publishes to that queue
from then on (a consumer whose retry or hold is refused likewise takes a new channel). Sending
again is safe: the relay marks outbox rows published only after every confirm, and the consumers'
inbox absorbs the duplicates.

On a cluster every queue of a group is a quorum queue replicated on ``len(urls)`` nodes
(``x-quorum-initial-group-size``), the retry and hold queues too; those are quorum queues with the
``at-least-once`` dead-letter strategy on one node as well (:func:`declare_group`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from aio_pika.exceptions import DeliveryError
from pamqp.commands import Basic

from adapters.broker.bus import LAST_ERROR, BatchHandler, Handler, Hold, Incoming, Outgoing, PartlyHeld
from adapters.broker.bus import PublishFailed as PublishFailed  # where it lived first
from adapters.broker.outcomes import Outcome, decide, describe
from adapters.broker.topology import DELIVERY_LIMIT, Group, exchange_name
from adapters.outages import unavailable

log = logging.getLogger("handoff.broker")

ATTEMPT = "x-handoff-attempt"
HOLDS = "x-handoff-holds"
ORDERING = "x-handoff-ordering-key"
ROUTING = "x-handoff-routing-key"
SEQ = "x-handoff-seq"


def broker_urls(url: str | Sequence[str]) -> list[str]:
    """The node URLs of a broker setting: one URL, or several separated by commas."""
    parts = url.split(",") if isinstance(url, str) else list(url)
    urls = [u.strip() for u in parts if u.strip()]
    if not urls:
        raise ValueError("no broker URL")
    return urls


class ConnectionSupervisor:
    """One live connection to a node of ``urls`` (see the module's docstring). ``on_reconnect``
    callbacks run after each failover to a new connection (several URLs only)."""

    def __init__(
        self, urls: Sequence[str], *, timeout: float = 10.0, interval: float = 1.0, max_interval: float = 5.0
    ) -> None:
        self.urls = list(urls)
        self.timeout = timeout
        self.interval = interval
        self.max_interval = max_interval
        self.failovers = 0
        self._connection: AbstractConnection | None = None
        self._index = 0
        self._ready = asyncio.Event()
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[], Awaitable[None]]] = []

    @property
    def several(self) -> bool:
        """Whether this is a cluster: several nodes to fail over to."""
        return len(self.urls) > 1

    @property
    def connection(self) -> AbstractConnection:
        if self._connection is None:
            raise RuntimeError("bus not started")
        return self._connection

    @property
    def connected(self) -> bool:
        # a robust connection (one URL) that is reconnecting is not closed, but not connected either
        connection = self._connection
        return (
            connection is not None
            and not connection.is_closed
            and connection.connected.is_set()
            and self._ready.is_set()
        )

    @property
    def node(self) -> str:
        """The URL of the node connected to (the last one, while reconnecting)."""
        return self.urls[self._index]

    def on_reconnect(self, listener: Callable[[], Awaitable[None]]) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        self._closing = False
        if not self.several:
            self._connection = await aio_pika.connect_robust(
                self.urls[0], timeout=self.timeout, reconnect_interval=self.interval
            )
            self._ready.set()
            return
        error: BaseException | None = None
        for index in range(len(self.urls)):
            try:
                await self._connect(index)
                return
            except Exception as exc:
                log.warning("RabbitMQ node %d of %d unreachable: %s", index + 1, len(self.urls), describe(exc))
                error = exc
        assert error is not None
        raise error

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._ready.wait(), max(timeout, 0.0))
        except TimeoutError:
            return False
        return self.connected

    async def close(self) -> None:
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            await asyncio.gather(self._reconnecting, return_exceptions=True)
            self._reconnecting = None
        connection, self._connection = self._connection, None
        self._ready.clear()
        if connection is not None and not connection.is_closed:
            await connection.close()

    async def _connect(self, index: int) -> None:
        connection = await aio_pika.connect(self.urls[index], timeout=self.timeout)
        connection.close_callbacks.add(self._on_close)
        self._connection, self._index = connection, index
        self._ready.set()

    def _on_close(self, sender: Any, exc: BaseException | None = None) -> None:
        if self._closing or sender is not self._connection:
            return
        self._ready.clear()
        log.warning("lost the connection to RabbitMQ node %d: %s", self._index + 1, exc)
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        pause, lost = self.interval, self._index
        while not self._closing:
            # the same node once more (it may only have dropped the connection), then the next ones
            for step in range(len(self.urls)):
                index = (lost + step) % len(self.urls)
                try:
                    await self._connect(index)
                except Exception as exc:
                    log.info("RabbitMQ node %d unreachable: %s", index + 1, describe(exc))
                    continue
                self.failovers += 1
                log.warning("connected to RabbitMQ node %d of %d", index + 1, len(self.urls))
                for listener in list(self._listeners):
                    try:
                        await listener()
                    except Exception:
                        log.warning("could not resume after reconnecting", exc_info=True)
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.max_interval)


class RabbitBus:
    def __init__(
        self,
        url: str | Sequence[str],
        *,
        prefix: str = "handoff",
        publish_timeout: float = 10.0,
        reconnect_interval: float = 1.0,
        linger: float = 0.003,
    ) -> None:
        self.urls = broker_urls(url)
        self.linger = linger
        """How long a consumer lets messages gather before it takes a batch of fewer than it could."""
        self.url = self.urls[0]
        self.reconnect_interval = reconnect_interval
        self.prefix = prefix
        self.publish_timeout = publish_timeout
        self.confirm_wait = max(0.5, publish_timeout / 2)
        """How long one round of a batch waits for its confirms before sending the rest again on a
        new channel (nacks and a lost connection end a round at once; this is for a channel that
        goes silent)."""
        self.supervisor = ConnectionSupervisor(self.urls, timeout=publish_timeout, interval=reconnect_interval)
        self._publish_channel: AbstractChannel | None = None
        self._publish_lock = asyncio.Lock()
        self._consumers: list[_Consumer] = []
        self.resent = 0
        """Messages sent again after a failover (their confirm was lost, or came back a nack)."""

    @property
    def cluster_size(self) -> int | None:
        """How many nodes the queues are replicated on: the nodes listed, on a cluster."""
        return len(self.urls) if self.supervisor.several else None

    async def start(self) -> None:
        await self.supervisor.start()
        self.supervisor.on_reconnect(self._resume_consumers)
        self._publish_channel = await self._open_publish_channel()

    async def _open_publish_channel(self) -> AbstractChannel:
        channel = await self.connection.channel(publisher_confirms=True)
        await channel.declare_exchange(exchange_name(self.prefix), aio_pika.ExchangeType.TOPIC, durable=True)
        return channel

    async def _resume_consumers(self) -> None:
        for consumer in list(self._consumers):
            await consumer.resume()

    async def close(self) -> None:
        """Stop every consumer (the messages in hand are finished first), then disconnect."""
        consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            await consumer.stop()
        await self.supervisor.close()

    @property
    def connection(self) -> AbstractConnection:
        return self.supervisor.connection

    @property
    def connected(self) -> bool:
        return self.supervisor.connected

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        """All confirmed, or PublishFailed. Confirms are awaited together (pipelined). On a
        cluster each round waits at most ``confirm_wait``, and what was nacked or left unconfirmed
        is sent again on a new channel (see :meth:`_drop_publish_channel`) until
        ``publish_timeout``; on one node there is one round of ``publish_timeout``, and the next
        batch goes out on a new channel."""
        if not messages:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.publish_timeout
        remaining = list(messages)
        async with self._publish_lock:
            while True:
                # one node: one round, the whole timeout (nothing to send again on before the next batch)
                wait = (
                    min(self.confirm_wait, deadline - loop.time())
                    if self.supervisor.several
                    else deadline - loop.time()
                )
                remaining, error = await self._publish_once(remaining, wait)
                if not remaining:
                    return
                await self._drop_publish_channel()
                if not self.supervisor.several or loop.time() >= deadline:
                    raise PublishFailed(describe(error) if isinstance(error, BaseException) else str(error))
                log.info("sending %d messages again: %s", len(remaining), error)
                self.resent += len(remaining)
                await asyncio.sleep(min(0.05, max(deadline - loop.time(), 0.0)))
                await self.supervisor.wait_connected(deadline - loop.time())

    async def _drop_publish_channel(self) -> None:
        """Never publish again on a channel that nacked or did not confirm in time. Such a channel
        may refuse every later message: on RabbitMQ 3.10, a channel opened on a surviving node
        while a quorum queue elects its new leader nacks all it publishes to that queue from then
        on, while a new channel on the same connection is confirmed (measured:
        tests/integration/backbone/test_cluster.py). And one whose connection died silently never
        confirms. The next round opens a new channel on the live connection."""
        channel, self._publish_channel = self._publish_channel, None
        if channel is not None and not channel.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(channel.close(), 1.0)

    async def _publish_once(
        self, messages: list[Outgoing], timeout: float
    ) -> tuple[list[Outgoing], BaseException | str | None]:
        """The messages not confirmed within ``timeout``, and why."""
        channel = self._publish_channel
        if (channel is None or channel.is_closed) and self.supervisor.connected:
            try:
                channel = self._publish_channel = await asyncio.wait_for(
                    self._open_publish_channel(), max(timeout, 0.001)
                )
            except Exception as exc:
                return messages, exc
        if channel is None or channel.is_closed:
            return messages, "publishing channel is closed"
        exchange = await channel.get_exchange(exchange_name(self.prefix), ensure=False)
        sending = [
            asyncio.ensure_future(
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
                )
            )
            for m in messages
        ]
        _, late = await asyncio.wait(sending, timeout=max(timeout, 0.001))
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        failed: list[Outgoing] = []
        error: BaseException | str | None = None
        for message, task in zip(messages, sending, strict=True):
            if task in late:
                failed.append(message)
                error = error or "broker did not confirm in time"
            elif task.exception() is not None:
                failed.append(message)
                error = task.exception()
            elif not isinstance(task.result(), Basic.Ack):
                failed.append(message)
                error = f"broker refused a message: {task.result()!r}"
        return failed, error

    async def declare(self, group: Group) -> None:
        channel = await self.connection.channel()
        await declare_group(channel, group, self.prefix, self.cluster_size)
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
            await declare_group(channel, group, self.prefix, self.cluster_size)
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
            await declare_group(channel, group, self.prefix, self.cluster_size)
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


async def declare_group(channel: AbstractChannel, group: Group, prefix: str, cluster_size: int | None = None) -> None:
    """The group's exchange, queues and bindings. ``cluster_size``: the queues of a cluster (module
    docstring) — every one a quorum queue on that many nodes."""
    exchange = await channel.declare_exchange(exchange_name(prefix), aio_pika.ExchangeType.TOPIC, durable=True)
    quorum = queue_arguments(quorum=True, cluster_size=cluster_size)
    # A message whose delay ends moves back to the group's queue by dead-lettering. From a classic
    # queue that move is at most once: a broker killed in the middle loses the message (and a lost
    # event holds all its case's successors behind the gap). From a quorum queue with this
    # strategy the message leaves only once the group's queue has taken it.
    delayed = {**quorum, "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
    await channel.declare_queue(group.parked, durable=True, arguments=quorum)
    queue = await channel.declare_queue(
        group.queue,
        durable=True,
        arguments={
            **quorum,
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": group.parked,
        },
    )
    for key in group.bindings:
        await queue.bind(exchange, routing_key=key)
    waits = [
        *((group.retry_queue(n), delay) for n, delay in enumerate(group.retry_delays_ms, start=1)),
        *((group.hold_queue(n), delay) for n, delay in enumerate(group.hold_delays_ms, start=1)),
    ]
    for name, delay in waits:
        await channel.declare_queue(
            name,
            durable=True,
            arguments={
                **delayed,
                "x-message-ttl": delay,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": group.queue,
            },
        )


def queue_arguments(*, quorum: bool, cluster_size: int | None) -> dict[str, Any]:
    if not quorum:
        return {}
    arguments: dict[str, Any] = {"x-queue-type": "quorum"}
    if cluster_size is not None:
        arguments["x-quorum-initial-group-size"] = cluster_size
    return arguments


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


@dataclass
class _Delivery:
    message: AbstractIncomingMessage
    incoming: Incoming
    key: str
    link: _Link


class _Link:
    """One channel that messages came on, and everything sent about them on it.

    A channel here is the AMQP channel itself (aiormq's): aio-pika's robust channel reopens on a
    new one after a reconnection, and every channel numbers its deliveries from 1 again, so a
    delivery tag means something only on the channel it came on. Every frame about a message —
    its acknowledgement, its nack, the copy published to a retry, hold or parked queue — is sent
    on its own channel, under that channel's lock, one frame sent (drained to the socket) before
    the next is decided: aiormq's frame buffer is bounded, and frames waiting for room there may
    pass one another. Once a channel is ``closing`` (being renewed, or closed), nothing more is
    sent on it: its unsettled messages come again from the broker (the inbox and the ordering
    gate make that harmless) and the ones in hand are dropped, never settled on another channel.

    **Acknowledgements, a run at a time.** ``ack(multiple=True)`` of tag T acknowledges every
    unsettled message of the channel up to T, so it is sent only once every delivery up to T is
    settled — handled (to acknowledge), or settled by its own frames (retry, hold, park, nack) —
    and T is one still to acknowledge. ``floor`` is the highest tag up to which all are settled.
    A message handled above the floor (an earlier one still in hand) waits for it; after ``wait``
    seconds it is acknowledged by itself, so a slow message never holds back the acks — nor the
    prefetch window — of those after it."""

    def __init__(self, raw: Any, wait: float = 0.3, broken: Callable[[_Link], None] | None = None) -> None:
        self.raw = raw
        self.wait = wait
        self.broken = broken
        """Told when a frame could not be sent: the channel is to be renewed (its unsettled messages
        would otherwise hold the prefetch window for good)."""
        self.closing = False
        self.lock = asyncio.Lock()
        self.floor = 0
        self._settled: dict[int, AbstractIncomingMessage | None] = {}
        """Settled tags above the floor: the message to acknowledge, or None when it was settled."""
        self._flushing: asyncio.TimerHandle | None = None
        self._flushes: set[asyncio.Task[None]] = set()
        self.multiple_acks = 0
        self.single_acks = 0

    @property
    def usable(self) -> bool:
        return not self.closing and not self.raw.is_closed

    async def ack(self, messages: Sequence[AbstractIncomingMessage]) -> None:
        """These messages were handled: acknowledge them (with the runs they complete)."""
        async with self.lock:
            if not self.usable:
                return  # dropped: the broker delivers them again
            for message in messages:
                if _tag(message) > self.floor:
                    self._settled[_tag(message)] = message
            await self._advance()
        self._schedule_flush()

    async def settle_alone(self, message: AbstractIncomingMessage, send: Callable[[], Awaitable[bool]]) -> None:
        """Send the frames that settle this message by itself (``send``, under the lock; it returns
        whether the message is settled), then acknowledge the runs it completes."""
        async with self.lock:
            if not self.usable:
                return
            if not await send():
                return
            if _tag(message) > self.floor:
                self._settled[_tag(message)] = None
            await self._advance()
        self._schedule_flush()

    async def _advance(self) -> None:
        top: AbstractIncomingMessage | None = None
        count = 0
        while self.floor + 1 in self._settled:
            self.floor += 1
            done = self._settled.pop(self.floor)
            if done is not None:
                top, count = done, count + 1
        if top is not None:
            if count > 1:
                self.multiple_acks += 1
            else:
                self.single_acks += 1
            await top.ack(multiple=count > 1)

    def _schedule_flush(self) -> None:
        if self._flushing is None and self.usable and any(m is not None for m in self._settled.values()):
            self._flushing = asyncio.get_running_loop().call_later(self.wait, self._flush_later)

    def _flush_later(self) -> None:
        self._flushing = None
        task = asyncio.get_running_loop().create_task(self.flush())
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def flush(self) -> None:
        """Acknowledge, one by one, what still waits for an earlier message."""
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        async with self.lock:
            for tag in sorted(self._settled):
                message = self._settled[tag]
                if message is None or not self.usable:
                    continue
                self._settled[tag] = None
                self.single_acks += 1
                try:
                    await message.ack()
                except Exception as exc:
                    # a lost connection is expected (a broker restart): one line; anything else is a bug
                    log.warning("could not acknowledge a message: %s", describe(exc), exc_info=unavailable(exc) is None)
                    self.closing = True  # send nothing more on it
                    if self.broken is not None:
                        self.broken(self)

    async def close(self, channel: AbstractChannel | None) -> None:
        """Send nothing more on this channel; once what is being sent is out, close ``channel``
        (the aio-pika channel over it, if it is to be closed)."""
        self.closing = True
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        async with self.lock:
            if channel is not None and not channel.is_closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(channel.close(), 1.0)


def _tag(message: AbstractIncomingMessage) -> int:
    return int(message.delivery_tag or 0)


class _Consumer:
    """Delivers one group's messages.

    **Units.** What has arrived is gathered into units of up to ``max_batch`` messages across
    cases (ordering keys), at most ``lanes`` units in hand at once (with a batch handler, a third
    one only once half a batch waits: under load the batches grow rather than their number), and
    a key is in one unit at a time: a case's events are handled one after another, in sequence
    order within a unit, while different cases go in parallel and together. Without a batch
    handler a unit is one key's messages, handled one by one.

    **Batches.** With a batch handler a unit is offered to it in one go (one transaction). If
    that fails, the unit is split in halves and each half tried in turn, down to single messages,
    which go to the one-message handler and their own outcome (ack, retry, park): a bad message
    costs its neighbours only their half, and they still commit as batches. Messages being retried
    go one by one, and so do their keys' others in the unit. :class:`PartlyHeld`: the messages
    that must wait for a predecessor are held, the others acknowledged.

    **Acknowledgements.** One ``ack(multiple=True)`` per settled run of delivery tags, on the
    channel the messages came on (:class:`_Link`). (Order across processes, redeliveries and
    retries is not this class's doing: the consumers hold back a message that came early —
    worker/consumer.py.)"""

    def __init__(
        self,
        bus: RabbitBus,
        group: Group,
        handler: Handler,
        batch: BatchHandler | None,
        lanes: int = 8,
        max_batch: int | None = None,
    ) -> None:
        self.bus = bus
        self.group = group
        self.handler = handler
        self.batch = batch
        self.lanes = lanes
        self.max_batch = max_batch or min(64, max(1, group.prefetch // 2))
        """Half the prefetch window by default: the next unit gathers while one is in hand."""
        self.linger = bus.linger
        self.ack_wait = 0.3
        self._pending: list[_Delivery] = []
        self._busy: set[str] = set()
        self._units: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._dispatcher: asyncio.Task[None] | None = None
        self._links: dict[int, _Link] = {}
        self._channel: AbstractChannel | None = None
        self._tag: str | None = None
        self._stopping = False
        self._resuming = asyncio.Lock()
        self._reopening: asyncio.Task[None] | None = None
        self._acks_before = (0, 0)
        self.units = 0
        """Units handled, and the messages in them (for the benchmarks: messages per unit)."""
        self.messages = 0

    @property
    def ack_frames(self) -> tuple[int, int]:
        """Acknowledgements sent so far: (multiple, single) — for the benchmarks."""
        multiple, single = self._acks_before
        for link in self._links.values():
            multiple, single = multiple + link.multiple_acks, single + link.single_acks
        return multiple, single

    async def start(self) -> None:
        self._dispatcher = asyncio.create_task(self._dispatch())
        await self._open()

    async def _open(self) -> None:
        channel = await self.bus.connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=self.group.prefetch)
        await declare_group(channel, self.group, self.bus.prefix, self.bus.cluster_size)
        queue = await channel.get_queue(self.group.queue)
        self._channel = channel
        self._tag = await queue.consume(self._on_message, no_ack=False)
        if self.bus.supervisor.several:
            channel.close_callbacks.add(self._on_channel_closed)

    async def resume(self) -> None:
        """After a failover: a new channel on the live node, the topology declared again, consuming
        again. The messages in hand from the lost channel are finished but not settled; the broker
        delivers them again (the inbox makes that harmless)."""
        async with self._resuming:
            if self._stopping or (self._channel is not None and not self._channel.is_closed):
                return
            while not self._stopping:
                if not self.bus.supervisor.connected:
                    return  # the supervisor calls again once it has a node
                try:
                    await self._open()
                    log.info("consuming %s again", self.group.queue)
                    return
                except Exception:
                    log.warning("could not consume %s again; retrying", self.group.queue, exc_info=True)
                    await asyncio.sleep(self.bus.reconnect_interval)

    def _on_channel_closed(self, sender: Any, exc: BaseException | None = None) -> None:
        # a channel can close alone (a queue unavailable while its leader moves): open another on
        # the same connection; a lost connection is the supervisor's (it calls resume)
        for link in self._links.values():
            if link.raw.is_closed:
                link.closing = True
        if self._stopping or sender is not self._channel:
            return
        log.warning("channel of %s closed: %s", self.group.queue, exc)
        if self._reopening is None or self._reopening.done():
            self._reopening = asyncio.get_running_loop().create_task(self._reopen_later())

    async def _reopen_later(self) -> None:
        await asyncio.sleep(self.bus.reconnect_interval / 4)
        await self.resume()

    async def stop(self) -> None:
        """Stop taking messages, finish the ones in hand."""
        self._stopping = True
        if self._reopening is not None:
            self._reopening.cancel()
            await asyncio.gather(self._reopening, return_exceptions=True)
        if self._channel is not None and self._tag is not None and not self._channel.is_closed:
            with contextlib.suppress(Exception):
                queue = await self._channel.get_queue(self.group.queue, ensure=False)
                await queue.cancel(self._tag)
        await self._idle.wait()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
        for link in list(self._links.values()):
            await link.flush()
        for link in list(self._links.values()):
            await link.close(None)
        if self._channel is not None and not self._channel.is_closed:
            with contextlib.suppress(Exception):
                await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            raw = message.channel
        except Exception:  # its channel is gone: the broker delivers the message again
            return
        link = self._link(raw)
        if not link.usable:
            return  # its channel is being renewed: the broker delivers it again
        incoming = _incoming(message)
        key = incoming.ordering_key or incoming.message_id
        self._pending.append(_Delivery(message, incoming, key, link))
        self._idle.clear()
        self._wake.set()

    def _link(self, raw: Any) -> _Link:
        found = self._links.get(id(raw))
        if found is not None and found.raw is raw:
            return found
        for key, old in list(self._links.items()):  # forget the channels that are gone
            if old.raw.is_closed:
                old.closing = True
                del self._links[key]
                multiple, single = self._acks_before
                self._acks_before = (multiple + old.multiple_acks, single + old.single_acks)
        link = self._links[id(raw)] = _Link(raw, self.ack_wait, self._renew)
        return link

    async def _dispatch(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending and len(self._units) < self.lanes:
                if self.batch is not None and len(self._units) >= 2 and len(self._pending) < self.max_batch // 2:
                    break  # two batches in hand: let the next one grow (the next arrival wakes us)
                if self.batch is not None and len(self._pending) < self.max_batch:
                    await asyncio.sleep(self.linger)  # let a few more arrive: one transaction for many
                unit = self._take()
                if not unit:
                    break  # every waiting key is in hand: the next unit to finish wakes us
                task = asyncio.create_task(self._unit(unit))
                self._units.add(task)
            if not self._pending and not self._units:
                self._idle.set()

    def _take(self) -> list[_Delivery]:
        """The next unit: waiting messages of keys not in hand, in arrival order — across keys with
        a batch handler, one key's without — up to ``max_batch``; a key left out (in hand, or past
        the size) keeps all its later messages waiting, so its order holds. Messages of a channel
        being renewed are dropped (the broker delivers them again)."""
        taken: list[_Delivery] = []
        rest: list[_Delivery] = []
        left_out: set[str] = set(self._busy)
        one_key: str | None = None
        for delivery in self._pending:
            if not delivery.link.usable:
                continue
            key = delivery.key
            fits = len(taken) < self.max_batch and (self.batch is not None or one_key in (None, key))
            if key in left_out or not fits:
                left_out.add(key)
                rest.append(delivery)
                continue
            one_key = key
            taken.append(delivery)
        self._pending = rest
        self._busy.update(d.key for d in taken)
        return taken

    async def _unit(self, unit: list[_Delivery]) -> None:
        try:
            # a redelivered or held message may arrive after its successor: put them back in order
            unit.sort(key=lambda d: (d.incoming.ordering_key, d.incoming.seq or 0))
            await self._handle(unit)
        except Exception:  # pragma: no cover - _handle settles every message itself
            log.exception("a unit of %d messages failed", len(unit))
        finally:
            self.units += 1
            self.messages += len(unit)
            self._busy.difference_update(d.key for d in unit)
            task = asyncio.current_task()
            if task is not None:
                self._units.discard(task)
            self._wake.set()

    async def _handle(self, unit: list[_Delivery]) -> None:
        alone = unit
        if self.batch is not None:
            # retried messages go one by one (each to its own outcome), and so does their key
            retried = {d.key for d in unit if d.incoming.attempt != 0}
            together = [d for d in unit if d.key not in retried]
            alone = [d for d in unit if d.key in retried]
            if len(together) > 1:
                await self._batch(together)
            else:
                alone = together + alone
        handled: list[_Delivery] = []
        for delivery in alone:
            if await self._one(delivery):
                handled.append(delivery)
        await self._ack(handled)

    async def _batch(self, deliveries: list[_Delivery]) -> None:
        """Offer the deliveries to the batch handler; on failure, each half in turn."""
        assert self.batch is not None
        if len(deliveries) == 1:
            if await self._one(deliveries[0]):
                await self._ack(deliveries)
            return
        if not any(d.link.usable for d in deliveries):
            return  # their channel is being renewed: they come again
        try:
            await self.batch([d.incoming for d in deliveries])
        except PartlyHeld as held:
            await self._ack([d for d in deliveries if d.incoming.message_id not in held.waiting])
            for d in deliveries:
                if d.incoming.message_id in held.waiting:
                    await self._settle(d, Hold(str(held)))
            return
        except Exception as exc:
            log.info("a batch of %d failed (%s); trying it in halves", len(deliveries), describe(exc))
            half = len(deliveries) // 2
            await self._batch(deliveries[:half])
            await self._batch(deliveries[half:])
            return
        await self._ack(deliveries)

    async def _one(self, delivery: _Delivery) -> bool:
        """Handle one message; True when it is to be acknowledged (else it is settled here)."""
        error: BaseException | None = None
        try:
            await self.handler(delivery.incoming)
        except Exception as exc:
            error = exc
        if decide(error, delivery.incoming.attempt, self.group) is Outcome.ACK:
            return True
        assert error is not None
        await self._settle(delivery, error)
        return False

    async def _ack(self, deliveries: Sequence[_Delivery]) -> None:
        by_link: dict[int, tuple[_Link, list[AbstractIncomingMessage]]] = {}
        for d in deliveries:
            by_link.setdefault(id(d.link), (d.link, []))[1].append(d.message)
        for link, messages in by_link.values():
            try:
                await link.ack(messages)
            except Exception as exc:
                # The channel went away: the broker will redeliver, and the inbox makes that harmless.
                # A lost connection is expected (a broker restart): one line; anything else is a bug.
                log.warning(
                    "could not acknowledge messages; consuming on a new channel: %s",
                    describe(exc),
                    exc_info=unavailable(exc) is None,
                )
                self._renew(link)

    async def _settle(self, delivery: _Delivery, error: BaseException) -> None:
        """A message that failed, or must wait: a copy to its retry, hold or parked queue, then its
        ack — on the channel it came on, and only while that channel is the live one (a message of
        a channel being renewed is dropped: it comes again)."""
        message, incoming, link = delivery.message, delivery.incoming, delivery.link
        outcome = decide(error, incoming.attempt, self.group)
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

        async def send() -> bool:
            channel = self._channel
            if channel is None or channel.is_closed or not await _over(channel, link.raw):
                link.closing = True  # not the live channel any more: it is being renewed
                return False
            try:
                await channel.default_exchange.publish(
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
                # refused: this channel may refuse all it publishes from now on; the message goes
                # back to the queue, and nothing more is sent here
                await message.nack(requeue=True)
                link.closing = True
                self._renew(link)
                return False
            await message.ack()
            return True

        try:
            await link.settle_alone(message, send)
        except Exception as exc:
            # The channel went away (or cannot be trusted): the broker will redeliver, and the
            # inbox makes that harmless. A lost connection is expected: one line.
            log.warning(
                "could not settle a message; consuming on a new channel: %s",
                describe(exc),
                exc_info=unavailable(exc) is None,
            )
            self._renew(link)

    def _renew(self, link: _Link) -> None:
        """A refused retry or hold, or a frame that could not be sent: this channel may refuse all
        it publishes from now on (see RabbitBus._drop_publish_channel), and each nack of the message
        it carries counts toward the delivery limit. Close it and consume on a new one; its
        unsettled messages come again."""
        link.closing = True
        if self._stopping or (self._reopening is not None and not self._reopening.done()):
            return  # the running renewal looks at the live channel again before it ends
        self._reopening = asyncio.get_running_loop().create_task(self._reopen_now())

    async def _reopen_now(self) -> None:
        """While the live channel is one given up on (its link closing), close it — once what is
        being sent on it is out — and consume on a new one."""
        while not self._stopping:
            channel = self._channel
            if channel is None or channel.is_closed:
                await self.resume()
                if self._channel is None or self._channel.is_closed:
                    return  # no node now: the supervisor resumes the consumers once it has one
                continue
            link = await self._live_link(channel)
            if link is None or not link.closing:
                return  # the live channel is sound
            log.warning("channel of %s refused a message; consuming on a new channel", self.group.queue)
            for other in list(self._links.values()):  # nothing more on any of them
                other.closing = True
            await link.close(channel)
            await self.resume()

    async def _live_link(self, channel: AbstractChannel) -> _Link | None:
        try:
            raw = await channel.get_underlay_channel()
        except Exception:
            return None
        link = self._links.get(id(raw))
        return link if link is not None and link.raw is raw else None


async def _over(channel: AbstractChannel, raw: Any) -> bool:
    """Whether the aio-pika ``channel`` is (still) over the AMQP channel ``raw``."""
    try:
        return await channel.get_underlay_channel() is raw
    except Exception:
        return False
