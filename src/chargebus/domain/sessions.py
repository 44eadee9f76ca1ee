"""The rules of transactions, version-neutral and free of I/O: how an event changes a
transaction record, when chargebus closes one itself, what a token may do and how its
transactions under way are counted."""
import base64
import hashlib
from datetime import datetime, timedelta

import orjson

from chargebus.domain.model import (AuthorizationDecision, AuthorizationStatus, TransactionEvent,
                                     TransactionEventKind)
from chargebus.ocpp import OcppVersion
from chargebus.state.records import (APPLIED_DIGEST_SEPARATOR, ActiveTransactions, RemoteStart,
                                     Token, Transaction)

# The recorded calls that make up transactions, each read by a consumer of its own.
TRANSACTION_ACTIONS = ("StartTransaction", "StopTransaction", "TransactionEvent")


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
    if event.remote_start_id is not None and record.remote_start_id is None:
        update["remote_start_id"] = event.remote_start_id
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


def remote_start_of(record: Transaction, remote_starts: list[RemoteStart],
                    window: timedelta) -> RemoteStart | None:
    """The remote start that began a 1.6 transaction, which carries no reference to it:
    OCPP 1.6 leaves the link to the CSMS. The earliest start not linked yet, not refused
    by the station, for the transaction's token (as OCPP compares tokens: without
    regard to case) and its connector (or any), sent at most ``window`` before the
    transaction began (and not after it: a station's clock may be off by ``window`` too)."""
    if record.started_at is None or record.id_token is None:
        return None
    token = record.id_token.casefold()
    candidates = [
        remote for remote in remote_starts
        if remote.transaction_id is None and remote.answer in (None, "Accepted")
        and remote.id_token.casefold() == token
        and remote.evse_id in (None, record.evse_id)
        and abs(record.started_at - remote.requested_at) <= window]
    return min(candidates, key=lambda remote: remote.requested_at, default=None)


def linked(record: Transaction, remote: RemoteStart) -> Transaction | None:
    """The transaction with its remote start noted; None where it is already."""
    if record.started_by is not None:
        return None
    return record.model_copy(update={"remote_start_id": remote.remote_start_id,
                                     "started_by": remote.sender})


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


def claim(listing: ActiveTransactions | None, token: Token | None, id_token: str,
          reference: str, now: datetime, remembered: timedelta
          ) -> tuple[AuthorizationDecision, ActiveTransactions | None]:
    """The decision on a transaction the token authorizes, and the token's list with the
    transaction counted (None: the list stays as it is). It is counted in the write that
    checked the limit, so that of two starts at once only one can pass. A start sent
    again finds its own transaction counted; one that comes after its transaction was
    released does not count it again."""
    listed = listing.transactions if listing else {}
    decision = authorization(token, list(listed), now, reference)
    if decision.status is not AuthorizationStatus.ACCEPTED or reference in listed or \
            (listing is not None and reference in listing.released):
        return decision, None
    return decision, ActiveTransactions(
        id_token=listing.id_token if listing else id_token,
        transactions={**listed, reference: now},
        released=_still_remembered(listing, now, remembered))


def release(listing: ActiveTransactions | None, id_token: str, reference: str,
            now: datetime, remembered: timedelta) -> ActiveTransactions | None:
    """The token's list without the transaction, which is remembered as released for
    ``remembered`` (also one never counted: a start refused, or still under way); None
    where it is released already."""
    if listing is not None and reference in listing.released:
        return None
    return ActiveTransactions(
        id_token=listing.id_token if listing else id_token,
        transactions={listed: claimed_at for listed, claimed_at
                      in (listing.transactions if listing else {}).items()
                      if listed != reference},
        released={**_still_remembered(listing, now, remembered), reference: now})


def without(listing: ActiveTransactions | None, reference: str) -> ActiveTransactions | None:
    """The token's list without a transaction that counts no more; None where it is not
    counted."""
    if listing is None or reference not in listing.transactions:
        return None
    return listing.model_copy(update={"transactions": {
        listed: claimed_at for listed, claimed_at in listing.transactions.items()
        if listed != reference}})


def counts_no_more(record: Transaction | None, claimed_at: datetime, now: datetime,
                   grace: timedelta) -> bool:
    """Whether a transaction counted against its token is to be dropped from the count
    although no stop released it: it ended (closed by rule; or its stop did not find
    the token), or it still has no record ``grace`` after it was counted (the edge
    never recorded its start, and the station did not send it again)."""
    if record is None:
        return now - claimed_at >= grace
    return not record.active


def _still_remembered(listing: ActiveTransactions | None, now: datetime,
                      remembered: timedelta) -> dict[str, datetime]:
    if listing is None:
        return {}
    return {reference: released_at for reference, released_at in listing.released.items()
            if now - released_at < remembered}


def _earlier(current: datetime | None, moment: datetime) -> datetime:
    return moment if current is None or moment < current else current


def _later(current: datetime | None, moment: datetime) -> datetime:
    return moment if current is None or moment > current else current
