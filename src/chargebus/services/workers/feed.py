"""The feed's makers: a durable consumer per source, each turning what it reads into a
feed event (chargebus.feed.events) and publishing it to the FEED stream: the presence
bucket (connected, disconnected), the stations' StatusNotifications and
SecurityEventNotifications as recorded, the audit trail of calls. Transactions are
published by the transactions consumer as it applies their events
(services/workers/transactions.py): a record in KV holds only its latest version, so a
consumer of the bucket would miss the states a busy transaction passed through, as it
would a station's statuses; the calls themselves are all kept.

A presence record, too, holds its latest version only: a station that disconnects and
connects again while this consumer lags is seen connected once.

Each event's origin is its source message (subject and sequence), so a batch delivered
again (a worker died before it acknowledged) is stored once (chargebus.feed.publishing).
"""
import asyncio
import logging
from collections.abc import Callable

import orjson
from nats.js import JetStreamContext
from pydantic import BaseModel, ValidationError

from chargebus.bus import subjects
from chargebus.bus.client import BusClient, BusMsg
from chargebus.bus.consumers import UNUSABLE, DeadLetters, DurableConsumer, delivery
from chargebus.bus.events import CallContext
from chargebus.feed import events as feed
from chargebus.feed import publishing
from chargebus.feed.events import FeedEvent
from chargebus.operations.audit import CommandRecord
from chargebus.ocpp.clock import parse_timestamp
from chargebus.ocpp.converters import converter
from chargebus.state.records import Presence

log = logging.getLogger(__name__)

PRESENCE, STATUSES, COMMANDS, SECURITY = subjects.FEED_CONSUMERS
STATUS_ACTION = "StatusNotification"
SECURITY_ACTION = "SecurityEventNotification"


class FeedMaker:
    def __init__(self, nc: BusClient, ack_wait: float):
        self._nc = nc
        self._js: JetStreamContext = nc.jetstream()
        self._ack_wait = ack_wait

    def consumers(self) -> list[DurableConsumer]:
        def records(model: type[BaseModel], make: Callable[..., FeedEvent]
                    ) -> Callable[[BusMsg], FeedEvent | None]:
            return lambda msg: make(model.model_validate_json(msg.data)) if msg.data else None

        def consumer(stream: str, name: str, filter_subject: str,
                     make: Callable[[BusMsg], FeedEvent | None]) -> DurableConsumer:
            dead_letters = DeadLetters(self._js, name)
            return DurableConsumer(
                self._nc, stream, name, filter_subject,
                lambda batch: self._publish(batch, make, dead_letters),
                ack_wait=self._ack_wait)

        return [
            consumer(subjects.kv_stream(subjects.PRESENCE_BUCKET), PRESENCE,
                     subjects.kv_keys(subjects.PRESENCE_BUCKET),
                     records(Presence, feed.of_presence)),
            consumer(subjects.OCPP_STREAM, STATUSES, subjects.station_events(STATUS_ACTION),
                     _status_event),
            consumer(subjects.COMMAND_STREAM, COMMANDS, subjects.command_records(),
                     records(CommandRecord, feed.of_command)),
            consumer(subjects.OCPP_STREAM, SECURITY, subjects.station_events(SECURITY_ACTION),
                     _security_event),
        ]

    async def _publish(self, batch: list[BusMsg], make: Callable[[BusMsg], FeedEvent | None],
                       dead_letters: DeadLetters) -> None:
        published = []
        for msg in batch:
            try:
                event = make(msg)
            except (ValidationError, *UNUSABLE) as error:
                await dead_letters.send(msg, f"no feed event: {error!r}")
                continue
            if event is None:  # a deleted record
                continue
            published.append(publishing.publish(
                self._js, event, f"{msg.subject}:{delivery(msg).stream_seq}"))
        # All at once, and the batch acknowledged only once every one is stored.
        await asyncio.gather(*published)


def _status_event(msg: BusMsg) -> FeedEvent:
    context = CallContext.from_headers(msg.headers)
    report = converter(context.version).status(orjson.loads(msg.data))
    return feed.of_status(context.station_id, report, parse_timestamp(context.received))


def _security_event(msg: BusMsg) -> FeedEvent:
    context = CallContext.from_headers(msg.headers)
    return feed.of_security_event(context.station_id, orjson.loads(msg.data))
