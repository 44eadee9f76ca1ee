"""Station notifications that are no meter data, into the station events table
(chargebus.meter.stationevents), read by one durable consumer per action like the meter
calls. A call that cannot be read goes to the dead letters; a batch is inserted at once,
and a message delivered again is looked up first (chargebus.services.sink.redelivery)."""
import asyncio

from chargebus.bus import subjects
from chargebus.bus.client import BusClient, BusMsg
from chargebus.bus.consumers import UNUSABLE, DeadLetters, delivery
from chargebus.bus.events import CallContext
from chargebus.meter.stationevents import EventColumns
from chargebus.ocpp.clock import parse_timestamp
from chargebus.services.sink.redelivery import add_unstored
from chargebus.services.sink.store import MeterStore


class EventSink:
    def __init__(self, nc: BusClient, store: MeterStore):
        self._store = store
        self._dead_letters = DeadLetters(nc.jetstream(), subjects.EVENT_SINK_CONSUMER)

    async def write(self, batch: list[BusMsg]) -> None:
        rows, delivered_before = EventColumns(), EventColumns()
        for msg in batch:
            delivered = delivery(msg)
            try:
                call = CallContext.from_headers(msg.headers)
                # When chargebus received it: a station's own clock may be anywhere.
                received_ms = round(parse_timestamp(call.received).timestamp() * 1000)
                (delivered_before if delivered.times > 1 else rows).add(
                    call.station_id, received_ms, delivered.stream_seq, call.version,
                    call.action, msg.data)
            except UNUSABLE as error:
                await self._dead_letters.send(msg, f"no usable station event: {error!r}")
        await add_unstored(rows.lists, delivered_before.lists,
                           self._store.stored_event_sequences, "station", "ts")
        if len(rows):
            await asyncio.to_thread(self._store.insert_events, rows.lists)
