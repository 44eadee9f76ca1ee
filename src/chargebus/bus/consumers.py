"""Durable JetStream pull consumers: a batch is acknowledged only once it is handled."""
import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from typing import NamedTuple, TypeVar

import orjson
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from chargebus.bus import events, subjects
from chargebus.bus.client import BusClient, BusMsg
from chargebus.bus.events import CallContext

log = logging.getLogger(__name__)

# Handles a batch; may return messages that are to come again later rather than now.
BatchHandler = Callable[[list[BusMsg]], Awaitable[Collection[BusMsg] | None]]

REDELIVERY_DELAY = 2.0
MAX_REDELIVERY_DELAY = 60.0
# A batch still being handled is reported as such this often, as a share of the ack wait:
# a slow batch (a sink's first insert makes its chdb reader, seconds) was otherwise
# delivered to a second sink meanwhile, whose lookup did not see the rows under way yet,
# and both stored them.
PROGRESS_SHARE = 0.3

# JetStream's status headers on the replies to a pull request.
DESCRIPTION = "Description"
HEARTBEAT = "100"
CONFLICT = "409"

# What reading a message that is not of the expected shape raises: such a message will
# never become usable, however often it is delivered.
UNUSABLE = (KeyError, IndexError, TypeError, ValueError, AttributeError)


class DeadLetters:
    """Where a consumer puts a message it can never use, so that one bad message
    neither blocks the stream nor disappears."""

    def __init__(self, js: JetStreamContext, consumer: str):
        self._js = js
        self._subject = subjects.dead_letter(consumer)

    async def send(self, msg: BusMsg | Msg, reason: str) -> None:
        log.error("dead letter from %s: %s", msg.subject, reason)
        await self._js.publish(self._subject, msg.data,
                               headers=(msg.headers or {}) | {events.REASON: reason[:1000]})


Read = TypeVar("Read")


async def usable_calls(batch: list[BusMsg], dead_letters: DeadLetters, what: str,
                       read: Callable[[dict], Read]) -> AsyncIterator[tuple[CallContext, Read]]:
    """Each recorded call of the batch with its payload read, or to the dead letters
    where it cannot be (``what`` says what it should have been)."""
    for msg in batch:
        try:
            yield CallContext.from_headers(msg.headers), read(orjson.loads(msg.data))
        except UNUSABLE as error:
            await dead_letters.send(msg, f"no usable {what}: {error!r}")


class DurableConsumer:
    """Hands batches of a stream's messages to ``handle``; acks them when it returns,
    asks for redelivery when it raises. Several processes may share one consumer.

    A batch is whatever arrives for one pull request: ``batch_size`` messages, or fewer
    when ``batch_seconds`` pass first; the next batch is requested before one is handled,
    so that it arrives meanwhile. With ``overlap``, a batch is handled while the one
    before it still is (the meter sink reads one batch while a thread inserts the last);
    without, strictly one after the other (the transactions consumer applies events in
    order). The pull requests are sent here rather than through
    nats-py's fetch(), which awaits each message separately and took about half of a
    meter sink's time.
    """

    def __init__(self, nc: BusClient, stream: str, durable: str,
                 filter_subject: str, handle: BatchHandler,
                 batch_size: int = 256, batch_seconds: float = 0.5, ack_wait: float = 30.0,
                 max_backoff: float = MAX_REDELIVERY_DELAY, overlap: bool = False):
        self._nc = nc
        self._stream = stream
        self._config = ConsumerConfig(
            durable_name=durable,
            filter_subject=filter_subject,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=ack_wait,
            max_ack_pending=max(batch_size * 4, 1024),  # two batches out, and retries
        )
        self._durable = durable
        self._handle = handle
        self._progress_every = ack_wait * PROGRESS_SHARE
        self._overlap = overlap
        self._max_backoff = max_backoff
        self._batch_size = batch_size
        self._batch_seconds = batch_seconds
        self._running = False
        self._task: asyncio.Task | None = None
        self._subscription: Subscription | None = None
        self._arrived: list[BusMsg] = []
        self._pull_ended = asyncio.Event()

    async def start(self) -> None:
        await self._nc.jetstream().add_consumer(self._stream, self._config)
        self._inbox = self._nc.new_inbox()
        self._subscription = await self._nc.subscribe_direct(self._inbox, self._receive)
        self._running = True
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Finish the batch under way, then stop pulling."""
        self._running = False
        if self._task is not None:
            await self._task
        if self._subscription is not None:
            await self._subscription.unsubscribe()

    def _receive(self, msg: BusMsg) -> None:
        status = msg.status
        if status is None:
            self._arrived.append(msg)
            if len(self._arrived) >= self._batch_size:
                self._pull_ended.set()
        elif status != HEARTBEAT:
            # 404/408: the request ended with fewer messages; 409: it was refused
            # (consumer deleted, too many waiting pulls, leader changed): pull again.
            if status == CONFLICT:
                log.warning("pull from %s ended: %s", self._config.durable_name,
                            msg.header(DESCRIPTION) or "")
            self._pull_ended.set()

    async def _request(self) -> bool:
        """Ask for the next batch; False when the request could not be sent."""
        self._pull_ended.clear()
        request = {"batch": self._batch_size, "expires": int(self._batch_seconds * 1e9)}
        try:
            await self._nc.publish(
                subjects.consumer_next(self._stream, self._durable),
                orjson.dumps(request), reply=self._inbox)
        except Exception:
            log.exception("pulling from %s failed", self._config.durable_name)
            return False
        return True

    async def _collect(self) -> list[BusMsg]:
        """The messages of the request under way, once it is full or has ended."""
        try:
            # The server ends an unfilled request when it expires; if its word is lost
            # (a reconnect), stop waiting a little later.
            await asyncio.wait_for(self._pull_ended.wait(), self._batch_seconds + 2.0)
        except TimeoutError:
            pass
        batch, self._arrived = self._arrived, []
        return batch

    async def _run(self) -> None:
        requested = await self._request()
        settling: asyncio.Task | None = None  # with overlap: the batch handled meanwhile
        while self._running:
            if not requested:
                await asyncio.sleep(REDELIVERY_DELAY)
                requested = await self._request()
                continue
            batch = await self._collect()
            # The next batch comes in while this one is handled.
            requested = self._running and await self._request()
            if not batch:
                continue
            if not self._overlap:
                await self._settle(batch)
                continue
            handling = asyncio.create_task(self._settle(batch))
            if settling is not None:
                await settling
            settling = handling
        if settling is not None:
            await settling
        if requested:
            # Stopping: whatever the last request brought goes back for others at once.
            for msg in await self._collect():
                await msg.nak()

    async def _settle(self, batch: list[BusMsg]) -> None:
        reporting = asyncio.create_task(self._report_progress(batch))
        try:
            later = await self._handle(batch) or ()
        except Exception as error:
            reporting.cancel()
            # One line, not a traceback: while a database is down this repeats.
            log.warning("%s could not handle a batch of %d (%s: %s); it will be delivered "
                        "again", self._config.durable_name, len(batch),
                        type(error).__name__, str(error).splitlines()[0][:300] if str(error)
                        else "")
            for msg in batch:
                await msg.nak(delay=_backoff(msg, self._max_backoff))
            return
        reporting.cancel()
        for msg in later:
            await msg.nak(delay=_backoff(msg, self._max_backoff))
        if later:
            waiting = {id(msg) for msg in later}
            batch = [msg for msg in batch if id(msg) not in waiting]
        await self._nc.acknowledge(batch)

    async def _report_progress(self, batch: list[BusMsg]) -> None:
        while True:
            await asyncio.sleep(self._progress_every)
            try:
                await self._nc.still_working(batch)
            except Exception as error:  # the handler's own outcome is what counts
                log.warning("%s: could not report a batch in progress: %s",
                            self._config.durable_name, error)


class Delivery(NamedTuple):
    stream_seq: int
    times: int  # 1 the first time the message is delivered


def delivery(msg: BusMsg | Msg) -> Delivery:
    """Which stream message ``msg`` is and how often it has been delivered, read from its
    ack subject: nats-py's msg.metadata builds a datetime and five objects for this, about
    a quarter of what the meter sink spent per message."""
    reply = msg.reply or ""
    if not reply.startswith(subjects.jetstream_ack_prefix()):
        raise ValueError(f"not a JetStream message: {msg.reply!r}")
    tokens = reply.split(".")
    if len(tokens) == 9:  # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>...
        return Delivery(int(tokens[5]), int(tokens[4]))
    # With domain and account hash ($JS.ACK.<domain>.<hash>.<stream>...)
    return Delivery(int(tokens[Msg.Ack.StreamSeq]), int(tokens[Msg.Ack.NumDelivered]))


def _backoff(msg: BusMsg, longest: float) -> float:
    """Wait longer each time the same message fails (a database that is down)."""
    attempts = delivery(msg).times
    return min(longest, REDELIVERY_DELAY * 2 ** min(attempts - 1, 16))
