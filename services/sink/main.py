"""Turns recorded station calls into meter rows and finished transactions into session
rows, and answers read-only queries on them.

A batch is inserted at once and acknowledged only after the insert; one that fails is
delivered again later (with backoff: ClickHouse may be down for a while). A message
delivered again may have been stored already (the insert succeeded, the ack was lost):
its samples are looked up by station, time and message sequence, and not inserted twice.
"""
import asyncio
import logging

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg

from chargebus import events, subjects
from chargebus.access import AccessDirectory
from chargebus.config import Settings
from chargebus.consumers import UNUSABLE, DeadLetters, DurableConsumer
from chargebus.events import CallContext
from chargebus.meter import METER_ACTIONS, placement, samples
from chargebus.meterstore import (SAMPLE_COLUMNS, SESSION_COLUMNS, EngineUnavailable, MeterStore,
                                  QueryRefused)
from chargebus.stores import Stores, transaction_key

log = logging.getLogger(__name__)


class MeterSink:
    def __init__(self, nc: Client, store: MeterStore, sites: AccessDirectory):
        self._nc = nc
        self._store = store
        self._sites = sites
        self._stores = Stores(nc.jetstream())
        self._dead_letters = DeadLetters(nc.jetstream(), subjects.METER_SINK_CONSUMER)
        self._session_dead_letters = DeadLetters(nc.jetstream(), subjects.SESSION_SINK_CONSUMER)

    async def write(self, batch: list[Msg]) -> None:
        """Insert the batch's samples at once; a message that holds no usable meter data
        goes to the dead letters instead of holding up the rest."""
        rows_by_message: list[tuple[Msg, list[tuple]]] = []
        for msg in batch:
            try:
                rows_by_message.append((msg, await self._rows_of(msg)))
            except UNUSABLE as error:
                await self._dead_letters.send(msg, f"no usable meter data: {error!r}")
        stored = await self._already_stored(rows_by_message)
        columns: dict[str, list] = {name: [] for name in SAMPLE_COLUMNS}
        appenders = [columns[name].append for name in SAMPLE_COLUMNS]
        for msg, rows in rows_by_message:
            if msg.metadata.sequence.stream in stored:
                continue
            for row in rows:
                for append, value in zip(appenders, row):
                    append(value)
        if columns["station_id"]:
            await asyncio.to_thread(self._store.insert_samples, columns)

    async def _already_stored(self, rows_by_message) -> set[int]:
        """The messages delivered before whose samples are in ClickHouse already."""
        again = [(msg, rows) for msg, rows in rows_by_message
                 if rows and (msg.metadata.num_delivered or 1) > 1]
        if not again:
            return set()
        every_row = [row for _, rows in again for row in rows]
        timestamps = [row[SAMPLE_COLUMNS.index("timestamp_ms")] for row in every_row]
        return await asyncio.to_thread(
            self._store.stored_sequences, [row[0] for row in every_row], min(timestamps),
            max(timestamps), [msg.metadata.sequence.stream for msg, _ in again])

    async def _rows_of(self, msg: Msg) -> list[tuple]:
        context = CallContext.from_headers(msg.headers)
        payload = orjson.loads(msg.data)
        where = placement(context.version, context.action, payload)
        if where.evse_id is None and where.transaction_id:
            where = where._replace(evse_id=await self._evse_of(context, where.transaction_id))
        sequence = msg.metadata.sequence.stream
        access = self._sites.get(context.station_id)
        site = access.site if access is not None and access.site else ""
        return [(*sample, site, sequence) for sample in samples(
            context.station_id, context.version, context.action, payload, where)]

    async def _evse_of(self, context: CallContext, transaction_id: str) -> int | None:
        """The payload left the EVSE out; the transaction's start told it."""
        transaction = await self._stores.transactions.get(
            *transaction_key(context.station_id, transaction_id))
        return transaction.evse_id if transaction else None

    async def write_sessions(self, batch: list[Msg]) -> None:
        """Session rows are versioned (ReplacingMergeTree): inserting one twice is harmless."""
        columns: dict[str, list] = {name: [] for name in SESSION_COLUMNS}
        for msg in batch:
            try:
                row = orjson.loads(msg.data)
                values = [row[name] for name in SESSION_COLUMNS]
            except UNUSABLE as error:
                await self._session_dead_letters.send(msg, f"no usable session: {error!r}")
                continue
            for name, value in zip(SESSION_COLUMNS, values):
                columns[name].append(value)
        if columns["station"]:
            await asyncio.to_thread(self._store.insert_sessions, columns)

    async def answer_query(self, msg: Msg) -> None:
        try:
            result = await asyncio.to_thread(self._store.query_json, msg.data.decode())
        except QueryRefused as refused:
            await self._nc.publish(msg.reply, str(refused).encode(),
                                   headers={events.ERROR: "refused"})
        except Exception as error:
            await self._nc.publish(msg.reply, str(error).encode(), headers={events.ERROR: "failed"})
        else:
            await self._nc.publish(msg.reply, result)


async def start_sink(settings: Settings, nc: Client):
    js = nc.jetstream()
    try:
        store = await asyncio.to_thread(MeterStore.open, settings.clickhouse_url,
                                        settings.chdb_path)
    except EngineUnavailable as error:
        raise SystemExit(f"sink: {error}") from None
    sites = AccessDirectory(nc)
    await sites.start()
    sink = MeterSink(nc, store, sites)
    meter_subjects = sorted({subjects.station_events(action)
                             for actions in METER_ACTIONS.values() for action in actions})
    consumer = DurableConsumer(
        js, subjects.OCPP_STREAM, subjects.METER_SINK_CONSUMER, meter_subjects, sink.write,
        batch_size=settings.sink_batch_size, batch_seconds=settings.sink_batch_seconds,
        ack_wait=settings.consumer_ack_wait_seconds, max_backoff=settings.sink_max_retry_seconds)
    sessions = DurableConsumer(
        js, subjects.SESSION_STREAM, subjects.SESSION_SINK_CONSUMER, [subjects.all_sessions()],
        sink.write_sessions, batch_size=settings.sink_batch_size,
        batch_seconds=settings.sink_batch_seconds, ack_wait=settings.consumer_ack_wait_seconds,
        max_backoff=settings.sink_max_retry_seconds)
    await consumer.start()
    await sessions.start()
    queries = await nc.subscribe(subjects.sink_query(), queue=subjects.queue_group("sink"),
                                 cb=sink.answer_query)

    async def stop() -> None:
        await queries.unsubscribe()
        await consumer.stop()
        await sessions.stop()
        await sites.stop()
        store.close()

    return stop
