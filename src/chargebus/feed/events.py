"""The events of the feed, each made from what chargebus keeps anyway: a presence record
(connected, disconnected), a station's status report, a transaction's record as one of
its events left it (started, updated, ended, with its energy so far), a call's audit
record, a security event."""
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from chargebus.ocpp.clock import parse_timestamp, utc_now
from chargebus.operations.audit import CommandRecord
from chargebus.domain.model import StatusReport, TransactionEventKind
from chargebus.state.records import Presence, Transaction

Kind = Literal["station.connected", "station.disconnected", "status.changed",
               "transaction.started", "transaction.updated", "transaction.ended",
               "command.ended", "security.event"]
KINDS: tuple[Kind, ...] = ("station.connected", "station.disconnected", "status.changed",
                           "transaction.started", "transaction.updated", "transaction.ended",
                           "command.ended", "security.event")


class FeedEvent(BaseModel):
    """One event as the feed holds it; as served, ``id`` is its place in the feed."""

    kind: Kind
    station_id: str
    at: datetime
    data: dict


class ServedEvent(FeedEvent):
    id: int  # the feed stream's sequence: resume after it


def of_presence(record: Presence) -> FeedEvent:
    if record.online:
        return FeedEvent(kind="station.connected", station_id=record.station_id,
                         at=record.connected_at,
                         data={"edge_id": record.edge_id, "version": record.version.value})
    return FeedEvent(kind="station.disconnected", station_id=record.station_id,
                     at=record.disconnected_at or utc_now(),
                     data={"edge_id": record.edge_id, "version": record.version.value})


def of_status(station_id: str, report: StatusReport, received: datetime) -> FeedEvent:
    return FeedEvent(kind="status.changed", station_id=station_id,
                     at=report.timestamp or received,
                     data={"evse_id": report.evse_id, "connector_id": report.connector_id,
                           "status": report.status, "error_code": report.error_code})


_TRANSACTION_KINDS: dict[TransactionEventKind, Kind] = {
    TransactionEventKind.STARTED: "transaction.started",
    TransactionEventKind.UPDATED: "transaction.updated",
    TransactionEventKind.ENDED: "transaction.ended"}


def of_transaction(record: Transaction, kind_of_event: TransactionEventKind) -> FeedEvent:
    """The transaction as one of its events left it."""
    kind = _TRANSACTION_KINDS[kind_of_event]
    energy = record.energy_wh
    return FeedEvent(
        kind=kind, station_id=record.station_id,
        at=record.stopped_at or record.last_event_at or record.started_at or utc_now(),
        data={"transaction_id": record.transaction_id, "evse_id": record.evse_id,
              "id_token": record.id_token, "started_at": _text(record.started_at),
              "stopped_at": _text(record.stopped_at), "stop_reason": record.stop_reason,
              "energy_wh": energy, "started_by": record.started_by})


def of_command(record: CommandRecord) -> FeedEvent:
    answer = record.answer or {}
    return FeedEvent(kind="command.ended", station_id=record.station_id,
                     at=record.answered_at,
                     data={"command_id": record.id, "action": record.action,
                           "outcome": record.outcome, "sender": record.sender,
                           "status": answer.get("status"),
                           "reason": answer.get("reason") or answer.get("errorCode"),
                           "latency_ms": record.latency_ms})


def of_security_event(station_id: str, payload: dict) -> FeedEvent:
    """A SecurityEventNotification (1.6 security extension and 2.x alike)."""
    return FeedEvent(kind="security.event", station_id=station_id,
                     at=parse_timestamp(payload["timestamp"]),
                     data={"type": payload["type"], "tech_info": payload.get("techInfo")})


def _text(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
