"""Durable JetStream pull consumers: a batch is acknowledged only once it is handled."""
import asyncio
import logging
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from chargebus import events, subjects

log = logging.getLogger(__name__)

BatchHandler = Callable[[list[Msg]], Awaitable[None]]

REDELIVERY_DELAY = 2.0
MAX_REDELIVERY_DELAY = 60.0

# What reading a message that is not of the expected shape raises: such a message will
# never become usable, however often it is delivered.
UNUSABLE = (KeyError, IndexError, TypeError, ValueError, AttributeError)


class DeadLetters:
    """Where a consumer puts a message it can never use, so that one bad message
    neither blocks the stream nor disappears."""

    def __init__(self, js: JetStreamContext, consumer: str):
        self._js = js
        self._subject = subjects.dead_letter(consumer)

    async def send(self, msg: Msg, reason: str) -> None:
        log.error("dead letter from %s: %s", msg.subject, reason)
        await self._js.publish(self._subject, msg.data,
                               headers=(msg.headers or {}) | {events.REASON: reason[:1000]})


class DurableConsumer:
    """Hands batches of a stream's messages to ``handle``; acks them when it returns,
    asks for redelivery when it raises. Several processes may share one consumer."""

    def __init__(self, js: JetStreamContext, stream: str, durable: str,
                 filter_subjects: list[str], handle: BatchHandler,
                 batch_size: int = 256, batch_seconds: float = 0.5, ack_wait: float = 30.0,
                 max_backoff: float = MAX_REDELIVERY_DELAY):
        self._js = js
        self._stream = stream
        self._config = ConsumerConfig(
            durable_name=durable,
            filter_subjects=filter_subjects,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=ack_wait,
            max_ack_pending=max(batch_size * 4, 1024),
        )
        self._handle = handle
        self._max_backoff = max_backoff
        self._batch_size = batch_size
        self._batch_seconds = batch_seconds
        self._running = False
        self._task: asyncio.Task | None = None
        self._subscription = None

    async def start(self) -> None:
        await self._js.add_consumer(self._stream, self._config)
        self._subscription = await self._js.pull_subscribe_bind(
            durable=self._config.durable_name, stream=self._stream)
        self._running = True
        self._task = asyncio.create_task(self._run(self._subscription))

    async def stop(self) -> None:
        """Finish the batch under way, then stop fetching."""
        self._running = False
        if self._task is not None:
            await self._task
        if self._subscription is not None:
            # A pull subscription left subscribed holds the status replies of its pull
            # requests unconsumed, and the connection's drain would wait for them forever.
            await self._subscription.unsubscribe()

    async def _run(self, subscription) -> None:
        while self._running:
            try:
                batch = await subscription.fetch(self._batch_size, timeout=self._batch_seconds)
            except (NatsTimeoutError, asyncio.TimeoutError):  # nothing new: ask again
                continue
            except Exception:
                log.exception("fetching from %s failed", self._config.durable_name)
                await asyncio.sleep(REDELIVERY_DELAY)
                continue
            try:
                await self._handle(batch)
            except Exception as error:
                # One line, not a traceback: while a database is down this repeats.
                log.warning("%s could not handle a batch of %d (%s: %s); it will be delivered "
                            "again", self._config.durable_name, len(batch),
                            type(error).__name__, str(error).splitlines()[0][:300] if str(error)
                            else "")
                for msg in batch:
                    await msg.nak(delay=_backoff(msg, self._max_backoff))
                continue
            for msg in batch:
                await msg.ack()


def _backoff(msg: Msg, longest: float) -> float:
    """Wait longer each time the same message fails (a database that is down)."""
    attempts = msg.metadata.num_delivered or 1
    return min(longest, REDELIVERY_DELAY * 2 ** min(attempts - 1, 16))
