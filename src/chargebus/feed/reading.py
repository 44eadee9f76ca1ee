"""Reading the feed from a place in it: a page at a time, or followed live. The place is
the FEED stream's sequence: a client that kept the last id it saw resumes after it and
misses nothing the stream still holds (a week)."""
from collections.abc import AsyncIterator

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from chargebus.bus import subjects
from chargebus.feed.events import FeedEvent, ServedEvent

# A page ends when no event comes this long after the last, although more were pending.
IDLE_SECONDS = 2.0


def _config(after: int | None) -> ConsumerConfig:
    if after is None:
        return ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
    return ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                          opt_start_seq=after + 1)


async def page(js: JetStreamContext, after: int, limit: int, station_id: str | None = None
               ) -> list[ServedEvent]:
    """Up to ``limit`` events after ``after``, oldest first."""
    subscription = await js.subscribe(subjects.feed_events(station_id),
                                      stream=subjects.FEED_STREAM, ordered_consumer=True,
                                      config=_config(after))
    found: list[ServedEvent] = []
    try:
        info = await subscription.consumer_info()
        pending = (info.num_pending or 0) + (info.delivered.consumer_seq or 0
                                             if info.delivered else 0)
        while pending and len(found) < limit:
            try:
                msg = await subscription.next_msg(timeout=IDLE_SECONDS)
            except (TimeoutError, NatsTimeoutError):
                break
            found.append(ServedEvent(**FeedEvent.model_validate_json(msg.data).model_dump(),
                                     id=msg.metadata.sequence.stream))
            pending = msg.metadata.num_pending
    finally:
        await subscription.unsubscribe()
    return found


async def follow(js: JetStreamContext, after: int | None, station_id: str | None,
                 quiet_seconds: float) -> AsyncIterator[ServedEvent | None]:
    """The events after ``after`` (None: from now on) as they come; None after each
    ``quiet_seconds`` without one, for the caller to show it is still there."""
    subscription = await js.subscribe(subjects.feed_events(station_id),
                                      stream=subjects.FEED_STREAM, ordered_consumer=True,
                                      config=_config(after))
    try:
        while True:
            try:
                msg = await subscription.next_msg(timeout=quiet_seconds)
            except (TimeoutError, NatsTimeoutError):
                yield None
                continue
            yield ServedEvent(**FeedEvent.model_validate_json(msg.data).model_dump(),
                              id=msg.metadata.sequence.stream)
    finally:
        await subscription.unsubscribe()
