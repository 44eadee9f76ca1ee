"""Putting an event into the feed, once: ``origin`` names what it was made from (a
stream message, a transaction's event), and JetStream stores one event per origin
within the feed's duplicate window, however often it is made again."""
from nats.js import JetStreamContext

from chargebus.bus import events, subjects
from chargebus.feed.events import FeedEvent


async def publish(js: JetStreamContext, event: FeedEvent, origin: str) -> None:
    await js.publish(subjects.feed_event(event.kind, event.station_id),
                     event.model_dump_json().encode(), headers={events.NATS_MSG_ID: origin})
