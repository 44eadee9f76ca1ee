"""The rules of transactions, version-neutral and free of I/O: how an event changes a
transaction record, when chargebus closes one itself, what a token may do."""
import base64
import hashlib
from datetime import datetime, timedelta

import orjson

from chargebus.model import (AuthorizationDecision, AuthorizationStatus, TransactionEvent,
                             TransactionEventKind)
from chargebus.protocol import OcppVersion
from chargebus.records import APPLIED_DIGEST_SEPARATOR, Token, Transaction


def apply_event(record: Transaction | None, event: TransactionEvent, station_id: str,
                version: OcppVersion) -> Transaction | None:
    """The record with the event applied, or None when it already was (a redelivery or
    a station's repeat: the same key and the same content). Each field is a min, a max,
    a set or a value only one kind of event carries, so the outcome does not depend on
    the order events come in."""
    entry = _applied_entry(event)
    if record is None:
        record = Transaction(transaction_id=event.transaction_id, station_id=station_id,
                             version=version)
    elif entry in record.applied:
        return None
    # Several starts or ends come from a station that numbers its events alike: the
    # earliest start and the latest end count, in whatever order they came.
    starts_it = event.kind is TransactionEventKind.STARTED and (
        record.started_at is None or event.timestamp < record.started_at)
    ends_it = event.kind is TransactionEventKind.ENDED and (
        record.stopped_at is None or record.closed_by_rule is not None
        or event.timestamp > record.stopped_at)
    update: dict = {
        "applied": [*record.applied, entry],
        "first_event_at": _earlier(record.first_event_at, event.timestamp),
        "last_event_at": _later(record.last_event_at, event.timestamp),
        "offline_events": record.offline_events + (1 if event.offline else 0),
    }
    if record.last_event_at is None or event.timestamp >= record.last_event_at:
        update["last_trigger_reason"] = event.trigger_reason or record.last_trigger_reason
    if event.evse_id is not None and (record.evse_id is None or starts_it):
        update["evse_id"] = event.evse_id
    if event.connector_id is not None and (record.connector_id is None or starts_it):
        update["connector_id"] = event.connector_id
    if event.id_token is not None and (record.id_token is None or starts_it):
        update["id_token"] = event.id_token.value
    if starts_it:
        update["started_at"] = event.timestamp
    if ends_it:
        # The station's own end replaces one chargebus assumed.
        update.update(stopped_at=event.timestamp, stop_reason=event.stop_reason,
                      closed_by_rule=None)
    for reading in event.readings:
        first = update.get("first_reading", record.first_reading)
        last = update.get("last_reading", record.last_reading)
        if first is None or reading.timestamp < first.timestamp:
            update["first_reading"] = reading
        if last is None or reading.timestamp >= last.timestamp:
            update["last_reading"] = reading
    return record.model_copy(update=update)


def key_reused(record: Transaction | None, event: TransactionEvent) -> bool:
    """Whether the record holds another event under this event's key: the station gave
    two different events one seqNo (or sent two different 1.6 starts or stops)."""
    return (record is not None and event.key in record.applied_keys
            and _applied_entry(event) not in record.applied)


def _applied_entry(event: TransactionEvent) -> str:
    """The event's key and a digest of what it says: what the record keeps to know it
    again. Six bytes: only events under one key of one transaction are told apart."""
    content = orjson.dumps(event.model_dump(exclude={"key"}))
    digest = base64.urlsafe_b64encode(hashlib.blake2b(content, digest_size=6).digest())
    return f"{event.key}{APPLIED_DIGEST_SEPARATOR}{digest.decode()}"


def stale_reason(record: Transaction, booted_at: datetime | None, now: datetime,
                 reboot_grace: timedelta, silence: timedelta) -> str | None:
    """Why an active transaction is to be closed by rule, or None.

    A station that rebooted after the transaction's last event and has not sent
    anything of it within ``reboot_grace`` since has lost it; a transaction nothing was
    heard of for ``silence`` is over, whatever the station thinks.
    """
    if not record.active or record.last_event_at is None:
        return None
    if booted_at is not None and booted_at > record.last_event_at and \
            now - booted_at >= reboot_grace:
        return "station rebooted during the transaction and never ended it"
    if now - record.last_event_at >= silence:
        return f"no event for {silence}"
    return None


def close_by_rule(record: Transaction, reason: str) -> Transaction:
    return record.model_copy(update={"stopped_at": record.last_event_at, "stop_reason": "Other",
                                     "closed_by_rule": reason})


def authorization(token: Token | None, active: list[str], now: datetime,
                  own_transaction: str | None = None) -> AuthorizationDecision:
    """What a token may do now. ``active``: the transactions it has under way;
    ``own_transaction``: the one the call is about, which does not count against it."""
    if token is None:
        return AuthorizationDecision(status=AuthorizationStatus.INVALID)
    status = token.status
    if status is AuthorizationStatus.ACCEPTED:
        if token.expires_at is not None and token.expires_at <= now:
            status = AuthorizationStatus.EXPIRED
        elif token.max_active and len([ref for ref in active if ref != own_transaction]) \
                >= token.max_active:
            status = AuthorizationStatus.CONCURRENT_TX
    return AuthorizationDecision(status=status, expires_at=token.expires_at,
                                 group_id=token.parent_id)


def _earlier(current: datetime | None, moment: datetime) -> datetime:
    return moment if current is None or moment < current else current


def _later(current: datetime | None, moment: datetime) -> datetime:
    return moment if current is None or moment > current else current
