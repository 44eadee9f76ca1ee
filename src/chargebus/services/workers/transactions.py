"""Charging sessions: 1.6 StartTransaction / StopTransaction and 2.x TransactionEvent.

Two paths, so that a worker may die at any moment:
- the answer: a worker request (a 1.6 start gets its id from a JetStream stream's
  sequence, the same id for a repeated start) whose only writes are the count of the
  token's transactions (a start counted, a stop released, see authorization.py), which
  a repeated call finds already done;
- the record: the edge keeps the call, with the answer, in the OCPP stream; a durable
  consumer shared by every worker applies it to the transaction in KV. A message is
  acknowledged only after the record and the finished session are written; one that is
  not is delivered again, and its event's key and content in the record tell that it
  was applied.
A sweep closes transactions whose end will never come (sessions.stale_reason), drops
from the tokens' counts what no stop released (sessions.counts_no_more) and forgets the
remote starts of the day before. A transaction a remote start began is linked to it
(_link: 2.x by remoteStartId, 1.6 by token, connector and time).
"""
import asyncio
import functools
import logging
from datetime import datetime, timedelta

import orjson
from nats.js import JetStreamContext

from chargebus.bus import events, subjects
from chargebus.bus.client import BusMsg
from chargebus.bus.consumers import UNUSABLE, DeadLetters
from chargebus.bus.events import CallContext
from chargebus.domain import sessions
from chargebus.feed import events as feed
from chargebus.feed import publishing
from chargebus.domain.model import (AuthorizationDecision, AuthorizationStatus, TokenUse,
                                    TransactionEvent, TransactionEventKind)
from chargebus.ocpp.clock import utc_now
from chargebus.ocpp.converters import converter
from chargebus.runtime.config import Settings
from chargebus.runtime.periodic import Periodic
from chargebus.services.workers.authorization import Authorization
from chargebus.services.workers.reservations import Reservations
from chargebus.ocpp import OcppVersion
from chargebus.state.records import RemoteStart, Transaction
from chargebus.state.stores import (ACTIVE_PREFIX, REMOTE_START_PREFIX, Stores, remote_start_key,
                                    remote_starts_of, transaction_key)

log = logging.getLogger(__name__)

APPLYING_AT_ONCE = 16
# A remote start is kept this long for its transaction to link to it (and for
# `chargebus start` to read which it was), then swept.
REMOTE_STARTS_KEPT = timedelta(days=1)


class Transactions:
    def __init__(self, js: JetStreamContext, stores: Stores, authorization: Authorization,
                 reservations: Reservations, settings: Settings, dead_letters: DeadLetters):
        self._js = js
        self._stores = stores
        self._authorization = authorization
        self._reservations = reservations
        self._dead_letters = dead_letters
        self._reboot_grace = timedelta(seconds=settings.stale_reboot_grace_seconds)
        self._silence = timedelta(seconds=settings.stale_silence_seconds)
        self._claim_grace = timedelta(seconds=settings.claim_grace_seconds)
        self._remote_start_window = timedelta(seconds=settings.remote_start_window_seconds)
        self._sweeping = Periodic(settings.stale_check_seconds, self.sweep,
                                  "the sweep for stale transactions", log)
        # Transactions applied at once, across this worker's consumers. Unbounded (a
        # batch of 64 each), the workers' answers to StartTransaction and
        # StopTransaction waited behind them, and one at a time served fewer calls; a
        # bound between the two answers soonest (benchmarks/README.md).
        self._applying = asyncio.Semaphore(APPLYING_AT_ONCE)

    # -- answers -------------------------------------------------------------------

    async def answer(self, context: CallContext, payload: dict) -> dict:
        """StartTransaction, StopTransaction and TransactionEvent of any version."""
        convert = converter(context.version)
        transaction_id = convert.transaction_of(context.action, payload)
        if context.action == "StartTransaction":
            transaction_id = str(await self._stores.next_transaction_id(
                repeat_key=f"{context.station_id}/{convert.start_identity(payload)}"))
        id_token = convert.id_token(context.action, payload)
        use = convert.token_use(context.action, payload)
        reservation = None
        if use is TokenUse.CLAIM and id_token is not None:
            allowed, reservation = await self._reservations.for_start(context, payload, id_token)
            if not allowed:  # another token's reservation: not counted against this one
                return convert.authorization_answer(
                    context.action, AuthorizationDecision(status=AuthorizationStatus.INVALID),
                    transaction_id)
        decision = await self._authorization.admit(id_token, use, context.station_id,
                                                   transaction_id)
        if reservation is not None and decision is not None \
                and decision.status is AuthorizationStatus.ACCEPTED:
            await self._reservations.used(reservation, transaction_id)
        return convert.authorization_answer(context.action, decision, transaction_id)

    # -- the record ----------------------------------------------------------------

    async def apply(self, batch: list[BusMsg]) -> None:
        """Applies a batch's events, the events of one transaction in order and those of
        different transactions at once: each takes several KV round trips, and one at a
        time a worker fell minutes behind a busy network's TransactionEvents."""
        by_transaction: dict[tuple[str, str, str],
                             list[tuple[CallContext, TransactionEvent]]] = {}
        for msg in batch:
            try:
                context = CallContext.from_headers(msg.headers)
                answer = (msg.headers or {}).get(events.ANSWER)
                event = converter(context.version).transaction_event(
                    context.action, orjson.loads(msg.data),
                    orjson.loads(answer) if answer else None)
                if event is None:
                    raise ValueError(f"{context.action} is no transaction event")
            except UNUSABLE as error:
                await self._dead_letters.send(msg, f"no usable transaction event: {error!r}")
                continue
            by_transaction.setdefault(transaction_key(context.station_id, event.transaction_id),
                                      []).append((context, event))
        outcomes = await asyncio.gather(
            *(self._apply_in_order(key, applying) for key, applying in by_transaction.items()),
            return_exceptions=True)
        # Every transaction has had its go before the batch is given up on: the ones
        # applied stay applied, and their events are recognised when delivered again.
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _apply_in_order(self, key: tuple[str, str, str],
                              applying: list[tuple[CallContext, TransactionEvent]]) -> None:
        async with self._applying:
            for context, event in applying:
                record = await self._stores.transactions.modify(
                    functools.partial(_apply_event, event=event, context=context), *key)
                assert record is not None  # a record, new or as it was
                # Only a start, or a 2.x event naming its remote start, can link one: the
                # other events of a transaction nobody started remotely read nothing more.
                if event.kind is TransactionEventKind.STARTED or event.remote_start_id is not None:
                    await self._link(record)
                await self._settle(record)
                await publishing.publish(self._js, feed.of_transaction(record, event.kind),
                                         f"transaction:{context.station_id}/"
                                         f"{event.transaction_id}/{event.key}")

    async def _link(self, record: Transaction) -> None:
        """A transaction begun by a remote start names it and its sender, and the
        remote start its transaction; safe to do again."""
        if record.started_by is not None:
            return
        remote: RemoteStart | None = None
        if record.remote_start_id is not None:  # 2.x: the station says which
            remote = await self._stores.remote_starts.get(
                *remote_start_key(record.station_id, record.remote_start_id))
        elif record.version is OcppVersion.V16 and record.started_at is not None:
            remote = sessions.remote_start_of(
                record, await self._stores.remote_starts.all(*remote_starts_of(record.station_id)),
                self._remote_start_window)
        if remote is None:
            return
        # The remote start is taken first: of two 1.6 transactions that match it, one has it.
        taken = await self._stores.remote_starts.modify(
            functools.partial(_take_remote_start, transaction_id=record.transaction_id),
            *remote_start_key(record.station_id, remote.remote_start_id))
        if taken is None or taken.transaction_id != record.transaction_id:
            return
        await self._stores.transactions.modify(
            lambda current: sessions.linked(current, remote) if current else None,
            *transaction_key(record.station_id, record.transaction_id))

    async def _settle(self, record: Transaction) -> None:
        """What follows from the record as it now is; safe to do again. The answers
        count a token's transactions; one that ended still counted (closed by rule, or
        its stop found no token) is dropped here, and none is ever counted here: the
        start of one already stopped may be applied after its stop was answered."""
        if not record.active:
            if record.id_token is not None:
                await self._authorization.drop(record.id_token, record.reference)
            await self._publish_session(record)

    async def _publish_session(self, record: Transaction) -> None:
        # A later event (a late update, the station's own end after chargebus closed it)
        # makes a new version of the session; ClickHouse keeps the latest.
        version = 2 * len(record.applied) + (1 if record.closed_by_rule else 0)
        started_at = record.started_at or record.first_event_at
        # Published once ended, and a record is made by an event.
        assert started_at is not None and record.stopped_at is not None
        row = {
            "station": record.station_id, "transaction_id": record.transaction_id,
            "evse_id": record.evse_id or 0, "id_token": record.id_token or "",
            "started_at": _milliseconds(started_at),
            "stopped_at": _milliseconds(record.stopped_at),
            "energy_wh": record.energy_wh if record.energy_wh is not None else 0.0,
            "stop_reason": record.stop_reason or "", "closed_by_rule": record.closed_by_rule or "",
            "version": version,
        }
        await self._js.publish(
            subjects.session(record.station_id), orjson.dumps(row),
            headers={events.NATS_MSG_ID:
                     f"{record.station_id}/{record.transaction_id}/{version}"})

    # -- stale transactions --------------------------------------------------------

    def start_sweeping(self) -> None:
        self._sweeping.start()

    async def stop_sweeping(self) -> None:
        self._sweeping.stop()

    async def sweep(self) -> int:
        """Close the active transactions that sessions.stale_reason gives up on, and
        drop from the tokens' counts those that sessions.counts_no_more; every worker
        sweeps, and doing either twice changes nothing."""
        closed = 0
        now = utc_now()
        for listing in await self._stores.active.all(ACTIVE_PREFIX):
            for reference, claimed_at in listing.transactions.items():
                station_id, _, transaction_id = reference.partition("/")
                key = transaction_key(station_id, transaction_id)
                record = await self._stores.transactions.get(*key)
                if sessions.counts_no_more(record, claimed_at, now, self._claim_grace):
                    await self._authorization.drop(listing.id_token, reference)
                    continue
                if record is None:  # its start is not applied yet
                    continue
                station = await self._stores.stations.get(station_id)
                reason = sessions.stale_reason(record, station.booted_at if station else None,
                                               now, self._reboot_grace, self._silence)
                if reason is None:
                    continue
                record = await self._stores.transactions.modify(
                    functools.partial(_close_by_rule, reason=reason), *key)
                log.info("closed transaction %s by rule: %s", reference, reason)
                assert record is not None  # read above; records are not deleted
                await self._settle(record)
                closed += 1
        for remote in await self._stores.remote_starts.all(REMOTE_START_PREFIX):
            if now - remote.requested_at > REMOTE_STARTS_KEPT:
                await self._stores.remote_starts.delete(
                    *remote_start_key(remote.station_id, remote.remote_start_id))
        return closed


def _apply_event(current: Transaction | None, event: TransactionEvent,
                 context: CallContext) -> Transaction | None:
    applied = sessions.apply_event(current, event, context.station_id, context.version)
    if applied is not None and sessions.key_reused(current, event):
        log.warning("%s sent another event with %s in transaction %s: applied by its "
                    "content (%s at %s); the station numbers its events wrongly",
                    context.station_id, event.key, event.transaction_id, event.kind.value,
                    event.timestamp.isoformat())
    return applied


def _take_remote_start(current: RemoteStart | None, transaction_id: str) -> RemoteStart | None:
    if current is None or current.transaction_id is not None:
        return None
    return current.model_copy(update={"transaction_id": transaction_id})


def _close_by_rule(current: Transaction | None, reason: str) -> Transaction | None:
    return (sessions.close_by_rule(current, reason)
            if current is not None and current.active else None)


def _milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
