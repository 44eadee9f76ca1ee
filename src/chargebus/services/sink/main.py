"""Turns recorded station calls into meter rows (and station events,
chargebus.services.sink.events) and finished transactions into session rows, and answers
read-only queries on them (chargebus.bus.queryreplies).

A batch is inserted at once and acknowledged only after the insert; one that fails is
delivered again later (with backoff: ClickHouse may be down for a while). A message
delivered again may have been stored already (the insert succeeded, the ack was lost):
its samples are looked up by station, time and message sequence, and not inserted twice.
"""
import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import orjson
from nats.aio.msg import Msg

from chargebus.bus import events, queryreplies, subjects
from chargebus.bus.client import BusClient, BusMsg
from chargebus.bus.consumers import (UNUSABLE, BatchHandler, DeadLetters, Delivery,
                                     DurableConsumer, delivery)
from chargebus.meter.calls import (meter_action_names, meter_call, strict_meter_call,
                                   transaction_start)
from chargebus.meter.columns import CallColumns, SampleColumns
from chargebus.meter.rules import CallLayout, Placement
from chargebus.meter.stationevents import event_action_names
from chargebus.ocpp.v16.meter_values import StopTransaction16
from chargebus.ocpp import OcppVersion
from chargebus.operations.audit import CommandRecord
from chargebus.runtime.config import Settings
from chargebus.runtime.service import Stop
from chargebus.services.sink.events import EventSink
from chargebus.services.sink.redelivery import add_unstored
from chargebus.services.sink.store import (COMMAND_COLUMNS, SESSION_COLUMNS, CallsUnreadable,
                                           EngineUnavailable,
                                           MeterStore, QueryOverLimit, QueryRefused,
                                           QueryUserUnsafe)
from chargebus.state.admission import AdmissionDirectory
from chargebus.state.stores import Stores, transaction_key

log = logging.getLogger(__name__)

# A TransactionEvent that names no EVSE takes it from its transaction's record, which the
# transactions consumer may not have written yet: such a message is delivered again
# (with backoff) up to this many times, then stored with EVSE 0.
EVSE_WAIT_DELIVERIES = 5

# OcppVersion() costs more. A call without the header is no key, and unusable.
_VERSIONS: dict[str | None, OcppVersion] = {version.value: version for version in OcppVersion}

# The context of a 1.6 start's meterStart and a stop's meterStop as register readings.
TRANSACTION_BEGIN = "Transaction.Begin"
TRANSACTION_END = "Transaction.End"

# Queries run at once, each on a thread of its own; more wait their turn. The inserts
# use other threads (asyncio's), so that queries never hold them up.
QUERIES_AT_ONCE = 2


class MeterSink:
    def __init__(self, nc: BusClient, store: MeterStore, sites: AdmissionDirectory):
        self._nc = nc
        self._store = store
        self._sites = sites
        self._stores = Stores(nc.jetstream())
        self._dead_letters = DeadLetters(nc.jetstream(), subjects.METER_SINK_CONSUMER)
        self._session_dead_letters = DeadLetters(nc.jetstream(), subjects.SESSION_SINK_CONSUMER)
        self._command_dead_letters = DeadLetters(nc.jetstream(), subjects.COMMAND_SINK_CONSUMER)
        self._query_threads = ThreadPoolExecutor(QUERIES_AT_ONCE, thread_name_prefix="query")
        self._queries: set[asyncio.Task] = set()

    async def write(self, batch: list[BusMsg]) -> list[BusMsg]:
        """Insert the batch's samples; a message that holds no usable meter data goes
        to the dead letters instead of holding up the rest. Returns the messages to be
        delivered again later: their transaction's EVSE is not known yet.

        Calls go to ClickHouse as their JSON, one insert per layout, and ClickHouse makes
        the rows (chargebus.meter.clickhouse.payloads); the sink makes them for what ClickHouse
        would read otherwise, and for a message delivered again, which it looks up first
        (below).
        """
        samples = SampleColumns()
        calls: dict[CallLayout, CallColumns] = {}
        sites: dict[str, str] = {}  # station -> site, read once a batch
        delivered_before, later = [], []
        for msg in batch:
            delivered = delivery(msg)
            if delivered.times > 1:
                delivered_before.append((msg, delivered))
            elif not await self._add(samples, calls, msg, delivered, sites):
                later.append(msg)
        if delivered_before:
            later += await self._add_unless_stored(samples, delivered_before, sites)
        for layout, columns in calls.items():
            try:
                await asyncio.to_thread(self._store.insert_calls, layout, columns.lists)
            except CallsUnreadable:
                log.warning("ClickHouse would read %d calls otherwise than the sink: "
                            "the sink makes their rows itself", len(columns))
                columns.add_samples_to(samples)
        if len(samples):
            await asyncio.to_thread(self._store.insert_samples, samples.lists)
        return later

    async def _add(self, samples: SampleColumns, calls: dict[CallLayout, CallColumns] | None,
                   msg: BusMsg, delivered: Delivery, sites: dict[str, str]) -> bool:
        """Adds the message to ``calls`` (ClickHouse reads them) where given and possible,
        or else its samples; False where it is to wait for its EVSE."""
        try:
            action, station_id = subjects.recorded_call(msg.subject)
            version = _VERSIONS[msg.header(events.VERSION)]
            if action == "StartTransaction":  # 1.6: one reading, meterStart
                self._add_start(samples, station_id, msg, delivered, sites)
                return True
            call = strict_meter_call(version, action, msg.data)
            exact = call is not None
            if call is None:
                call = meter_call(version, action, orjson.loads(msg.data))
            where = call.placement()
            if where.evse_id is None and where.transaction_id:
                evse_id = await self._evse_of(station_id, where.transaction_id)
                if evse_id is None and delivered.times < EVSE_WAIT_DELIVERIES:
                    return False
                where = where._replace(evse_id=evse_id)
            site = self._site(station_id, sites)
            if isinstance(call, StopTransaction16):  # meterStop, besides transactionData
                samples.add_register(station_id, where, site, delivered.stream_seq,
                                     call.timestamp, call.meterStop, TRANSACTION_END)
            if exact and calls is not None:
                layout = call.LAYOUT
                columns = calls.get(layout)
                if columns is None:
                    columns = calls[layout] = CallColumns()
                if columns.add(station_id, call, where, site, delivered.stream_seq, msg.data):
                    return True
            samples.add(station_id, call, where, site, delivered.stream_seq)
        except UNUSABLE as error:
            await self._dead_letters.send(msg, f"no usable meter data: {error!r}")
        return True

    def _add_start(self, samples: SampleColumns, station_id: str, msg: BusMsg,
                   delivered: Delivery, sites: dict[str, str]) -> None:
        """A 1.6 start's meterStart, a register reading of its transaction, whose id is
        in the answer the station got."""
        start = transaction_start(msg.data)
        answer = orjson.loads(msg.header(events.ANSWER) or "{}")
        where = Placement(start.connectorId, 0, str(answer["transactionId"]))
        samples.add_register(station_id, where, self._site(station_id, sites),
                             delivered.stream_seq, start.timestamp, start.meterStart,
                             TRANSACTION_BEGIN)

    def _site(self, station_id: str, sites: dict[str, str]) -> str:
        site = sites.get(station_id)
        if site is None:
            admission = self._sites.get(station_id)
            site = sites[station_id] = admission.site if admission and admission.site else ""
        return site

    async def _add_unless_stored(self, samples: SampleColumns,
                                 messages: list[tuple[BusMsg, Delivery]],
                                 sites: dict[str, str]) -> list[BusMsg]:
        """Messages delivered before may have been stored already: their samples are
        added only where they are not (chargebus.services.sink.redelivery)."""
        candidates = SampleColumns()
        later = [msg for msg, delivered in messages
                 if not await self._add(candidates, None, msg, delivered, sites)]
        await add_unstored(samples.lists, candidates.lists, self._store.stored_sequences,
                           "station_id", "timestamp_ms")
        return later

    async def _evse_of(self, station_id: str, transaction_id: str) -> int | None:
        """The payload left the EVSE out; the transaction's start told it."""
        transaction = await self._stores.transactions.get(
            *transaction_key(station_id, transaction_id))
        return transaction.evse_id if transaction else None

    async def write_sessions(self, batch: list[BusMsg]) -> None:
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

    async def write_commands(self, batch: list[BusMsg]) -> None:
        """The audit trail's records; one delivered twice has the same id, which the
        table keeps once."""
        columns: dict[str, list] = {name: [] for name in COMMAND_COLUMNS}
        for msg in batch:
            try:
                entry = CommandRecord.model_validate_json(msg.data)
            except ValueError as error:
                await self._command_dead_letters.send(msg, f"not a command record: {error!r}")
                continue
            for name, value in (
                    ("id", entry.id), ("sender", entry.sender), ("station", entry.station_id),
                    ("action", entry.action),
                    ("payload", orjson.dumps(entry.payload).decode()),
                    ("outcome", entry.outcome), ("answer", orjson.dumps(entry.answer).decode()),
                    ("requested_at", _milliseconds(entry.requested_at)),
                    ("answered_at", _milliseconds(entry.answered_at)),
                    ("latency_ms", entry.latency_ms), ("edge", entry.edge_id or ""),
                    ("version", entry.version or "")):
                columns[name].append(value)
        if columns["id"]:
            await asyncio.to_thread(self._store.insert_commands, columns)

    async def answer_query(self, msg: Msg) -> None:
        """Each query in a task of its own: a long one holds up no other."""
        if not msg.reply:
            return
        task = asyncio.create_task(self._answer(msg.data.decode(errors="replace"), msg.reply))
        self._queries.add(task)
        task.add_done_callback(self._queries.discard)

    async def _answer(self, sql: str, inbox: str) -> None:
        answer = queryreplies.Answer(self._nc, inbox)
        loop = asyncio.get_running_loop()
        rows = self._store.query_rows(sql)  # nothing runs before the first next()
        try:
            while (lines := await loop.run_in_executor(self._query_threads, next, rows,
                                                       None)) is not None:
                await answer.add(lines)
            await answer.end()
        except QueryRefused as refused:
            await answer.fail(queryreplies.REFUSED, str(refused))
        except QueryOverLimit as over:
            await answer.fail(queryreplies.LIMIT, str(over))
        except queryreplies.QueryFailed as failed:
            await answer.fail(failed.kind, failed.reason)
        except QueryUserUnsafe as unsafe:
            log.warning("%s", unsafe)
            await answer.fail(queryreplies.FAILED, str(unsafe))
        except Exception as error:
            await answer.fail(queryreplies.FAILED, str(error))
        else:
            return
        # Stops the query where it was cut short (a row too big to send). Not when the
        # sink stops: its thread may still be in the query then.
        await loop.run_in_executor(self._query_threads, rows.close)

    async def stop_queries(self) -> None:
        for task in list(self._queries):
            task.cancel()
        await asyncio.gather(*self._queries, return_exceptions=True)
        # A query still running ends with the process; its limit bounds it anyway.
        self._query_threads.shutdown(wait=False, cancel_futures=True)


async def start_sink(settings: Settings, nc: BusClient) -> Stop:
    try:
        store = await asyncio.to_thread(MeterStore.open, settings)
    except EngineUnavailable as error:
        raise SystemExit(f"sink: {error}") from None
    sites = AdmissionDirectory(nc)
    await sites.start()
    sink = MeterSink(nc, store, sites)
    event_sink = EventSink(nc, store)

    def per_action(consumer: str, actions: list[str], handle: BatchHandler
                   ) -> list[DurableConsumer]:
        return [DurableConsumer(
            nc, subjects.OCPP_STREAM, subjects.action_consumer(consumer, action),
            subjects.station_events(action), handle,
            batch_size=settings.sink_batch_size, batch_seconds=settings.sink_batch_seconds,
            ack_wait=settings.consumer_ack_wait_seconds,
            max_backoff=settings.sink_max_retry_seconds, overlap=True)
            for action in actions]

    consumers = [*per_action(subjects.METER_SINK_CONSUMER, meter_action_names(), sink.write),
                 *per_action(subjects.EVENT_SINK_CONSUMER, event_action_names(),
                             event_sink.write)]
    sessions = DurableConsumer(
        nc, subjects.SESSION_STREAM, subjects.SESSION_SINK_CONSUMER, subjects.all_sessions(),
        sink.write_sessions, batch_size=settings.sink_batch_size,
        batch_seconds=settings.sink_batch_seconds, ack_wait=settings.consumer_ack_wait_seconds,
        max_backoff=settings.sink_max_retry_seconds)
    commands = DurableConsumer(
        nc, subjects.COMMAND_STREAM, subjects.COMMAND_SINK_CONSUMER, subjects.command_records(),
        sink.write_commands, batch_size=settings.sink_batch_size,
        batch_seconds=settings.sink_batch_seconds, ack_wait=settings.consumer_ack_wait_seconds,
        max_backoff=settings.sink_max_retry_seconds)
    for consumer in consumers:
        await consumer.start()
    await sessions.start()
    await commands.start()
    queries = await nc.subscribe(subjects.sink_query(), queue=subjects.queue_group("sink"),
                                 cb=sink.answer_query)

    async def stop() -> None:
        await queries.unsubscribe()
        await sink.stop_queries()
        # All at once: each waits for its pull under way to end.
        await asyncio.gather(*(consumer.stop() for consumer in (*consumers, sessions,
                                                                   commands)))
        await sites.stop()
        store.close()

    return stop


def _milliseconds(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)
