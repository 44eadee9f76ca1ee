"""The fleet as an operator looks at it: every station chargebus has seen or admitted,
with what it said of itself, whether and where it is connected, and its connectors.

Read from KV a bucket at a time, each through one ordered consumer (RecordStore.all):
four streams of records, not a round trip per station (benchmarks/fleet.py).
"""
import asyncio
from datetime import datetime

from pydantic import BaseModel

from chargebus.ocpp import OcppVersion
from chargebus.state.records import ConnectorStatus, Transaction
from chargebus.state.stores import TRANSACTION_PREFIX, Stores, transactions_of


class ConnectorView(BaseModel):
    evse_id: int  # 1.6 connectorId; 0 the whole station
    connector_id: int | None = None
    status: str
    error_code: str | None = None
    since: datetime


class StationView(BaseModel):
    station_id: str
    version: OcppVersion | None = None
    vendor: str | None = None
    model: str | None = None
    firmware_version: str | None = None
    booted_at: datetime | None = None
    boot_status: str | None = None
    site: str | None = None
    online: bool = False
    edge_id: str | None = None
    connected_at: datetime | None = None
    last_seen: datetime | None = None  # offline: when it went; online: now
    # When its edge last had a message from it (written every edge_heard_refresh_seconds).
    last_message_at: datetime | None = None
    connectors: list[ConnectorView] = []


async def fleet(stores: Stores) -> list[StationView]:
    """Every station known to any of the buckets, by station id."""
    infos, presences, statuses, admissions, heard = await asyncio.gather(
        stores.stations.all(), stores.presence.all(), stores.statuses.all(),
        stores.admission.all(), stores.last_heard.all())
    views: dict[str, dict] = {}
    for info in infos:
        views.setdefault(info.station_id, {}).update(
            version=info.version, vendor=info.vendor, model=info.model,
            firmware_version=info.firmware_version, booted_at=info.booted_at,
            boot_status=info.boot_status.value)
    for presence in presences:
        view = views.setdefault(presence.station_id, {})
        view.update(online=presence.online, connected_at=presence.connected_at,
                    edge_id=presence.edge_id if presence.online else None,
                    last_seen=None if presence.online else presence.disconnected_at)
        view.setdefault("version", presence.version)
    for last in heard:
        views.setdefault(last.station_id, {})["last_message_at"] = last.heard_at
    for admission in admissions:
        views.setdefault(admission.station_id, {})["site"] = admission.site
    by_station: dict[str, list[ConnectorStatus]] = {}
    for status in statuses:
        by_station.setdefault(status.station_id, []).append(status)
    for station_id, reported in by_station.items():
        views.setdefault(station_id, {})["connectors"] = [
            ConnectorView(evse_id=status.evse_id, connector_id=status.connector_id,
                          status=status.status, error_code=status.error_code,
                          since=status.reported_at)
            for status in sorted(reported, key=lambda s: (s.evse_id, s.connector_id or 0))]
    return [StationView(station_id=station_id, **fields)
            for station_id, fields in sorted(views.items())]


class SessionView(BaseModel):
    """A transaction under way. ``energy_wh``: the last register reading known (the
    transaction's own events, or the meter values the sink has) minus the first."""

    station_id: str
    transaction_id: str
    evse_id: int | None = None
    id_token: str | None = None
    started_at: datetime | None = None
    duration_s: int | None = None
    energy_wh: float | None = None
    started_by: str | None = None


async def active_transactions(stores: Stores) -> list[Transaction]:
    return [record for record in await stores.transactions.all(TRANSACTION_PREFIX)
            if record.active]


async def active_at(stores: Stores, station_id: str) -> list[Transaction]:
    """The transactions under way at one station."""
    return [record for record in await stores.transactions.all(*transactions_of(station_id))
            if record.active]


def session_views(transactions: list[Transaction], now: datetime,
                  registers: dict[tuple[str, str], float]) -> list[SessionView]:
    """The transactions under way, oldest first; ``registers``: the latest energy
    register reading in Wh per (station, transaction) where the sink knows one."""
    views = []
    for record in transactions:
        started = record.started_at or record.first_event_at
        last = registers.get((record.station_id, record.transaction_id))
        if last is None and record.last_reading is not None:
            last = record.last_reading.wh
        first = record.first_reading.wh if record.first_reading else None
        views.append(SessionView(
            station_id=record.station_id, transaction_id=record.transaction_id,
            evse_id=record.evse_id, id_token=record.id_token, started_at=started,
            duration_s=int((now - started).total_seconds()) if started else None,
            energy_wh=last - first if last is not None and first is not None else None,
            started_by=record.started_by))
    return sorted(views, key=lambda view: (view.started_at is None, view.started_at))


def matches(view: StationView, online: bool | None, status: str | None,
            version: OcppVersion | None) -> bool:
    """The filters of `chargebus stations list`: online or not, a connector in this
    status (case aside), this OCPP version."""
    if online is not None and view.online != online:
        return False
    if version is not None and view.version is not version:
        return False
    return status is None or any(connector.status.casefold() == status.casefold()
                                 for connector in view.connectors)
