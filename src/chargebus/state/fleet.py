"""The fleet as an operator looks at it: every station chargebus has seen or admitted,
with what it said of itself, whether and where it is connected, and its connectors.

Read from KV a bucket at a time, each through one ordered consumer (RecordStore.all):
four streams of records, not a round trip per station (benchmarks/fleet.py).
"""
import asyncio
from datetime import datetime

from pydantic import BaseModel

from chargebus.ocpp import OcppVersion
from chargebus.state.records import (ConnectorStatus, LastHeard, Presence, StationAdmission,
                                     StationInfo, Transaction)
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


class FleetFold:
    """The fleet view folded from the records of five buckets, one record at a time: at
    once from every record (``fleet``), or kept up to date from watches of the buckets
    (chargebus.state.fleetwatch)."""

    def __init__(self) -> None:
        self._parts: dict[str, _Parts] = {}
        self._views: dict[str, StationView] = {}  # built when first asked for
        self._dumped: dict[str, dict] = {}  # and as JSON values

    def __len__(self) -> int:
        return len(self._parts)

    def __contains__(self, station_id: str) -> bool:
        return station_id in self._parts

    def station_ids(self) -> list[str]:
        return list(self._parts)

    def add_info(self, info: StationInfo) -> None:
        self._part(info.station_id).info = info

    def add_presence(self, presence: Presence) -> None:
        self._part(presence.station_id).presence = presence

    def add_heard(self, heard: LastHeard) -> None:
        self._part(heard.station_id).heard = heard

    def add_admission(self, admission: StationAdmission) -> None:
        self._part(admission.station_id).admission = admission

    def add_status(self, key: str, status: ConnectorStatus) -> None:
        self._part(status.station_id).statuses[key] = status

    def remove(self, station_id: str, kind: str, key: str | None = None) -> None:
        """A record deleted from its bucket; ``kind`` names the bucket's part, ``key``
        the status record's key."""
        parts = self._parts.get(station_id)
        if parts is None:
            return
        if kind == "statuses":
            parts.statuses.pop(key or "", None)
        else:
            setattr(parts, kind, None)
        self._forget_view(station_id)
        if parts.empty:
            del self._parts[station_id]

    def view(self, station_id: str) -> StationView | None:
        view = self._views.get(station_id)
        if view is None:
            parts = self._parts.get(station_id)
            if parts is None:
                return None
            view = self._views[station_id] = parts.view(station_id)
        return view

    def dumped(self, station_id: str) -> dict | None:
        """The view as JSON values (StationView.model_dump(mode="json"))."""
        dumped = self._dumped.get(station_id)
        if dumped is None:
            view = self.view(station_id)
            if view is None:
                return None
            dumped = self._dumped[station_id] = view.model_dump(mode="json")
        return dumped

    def _forget_view(self, station_id: str) -> None:
        self._views.pop(station_id, None)
        self._dumped.pop(station_id, None)

    def _part(self, station_id: str) -> "_Parts":
        self._forget_view(station_id)
        parts = self._parts.get(station_id)
        if parts is None:
            parts = self._parts[station_id] = _Parts()
        return parts


class _Parts:
    """What each bucket holds of one station."""

    __slots__ = ("admission", "heard", "info", "presence", "statuses")

    def __init__(self) -> None:
        self.info: StationInfo | None = None
        self.presence: Presence | None = None
        self.heard: LastHeard | None = None
        self.admission: StationAdmission | None = None
        self.statuses: dict[str, ConnectorStatus] = {}

    @property
    def empty(self) -> bool:
        return (self.info is None and self.presence is None and self.heard is None
                and self.admission is None and not self.statuses)

    def view(self, station_id: str) -> StationView:
        fields: dict = {}
        if (info := self.info) is not None:
            fields.update(version=info.version, vendor=info.vendor, model=info.model,
                          firmware_version=info.firmware_version, booted_at=info.booted_at,
                          boot_status=info.boot_status.value)
        if (presence := self.presence) is not None:
            fields.update(online=presence.online, connected_at=presence.connected_at,
                          edge_id=presence.edge_id if presence.online else None,
                          last_seen=None if presence.online else presence.disconnected_at)
            fields.setdefault("version", presence.version)
        if self.heard is not None:
            fields["last_message_at"] = self.heard.heard_at
        if self.admission is not None:
            fields["site"] = self.admission.site
        if self.statuses:
            fields["connectors"] = [
                ConnectorView(evse_id=status.evse_id, connector_id=status.connector_id,
                              status=status.status, error_code=status.error_code,
                              since=status.reported_at)
                for status in sorted(self.statuses.values(),
                                     key=lambda s: (s.evse_id, s.connector_id or 0))]
        return StationView(station_id=station_id, **fields)


async def fleet(stores: Stores) -> list[StationView]:
    """Every station known to any of the buckets, by station id."""
    infos, presences, statuses, admissions, heard = await asyncio.gather(
        stores.stations.all(), stores.presence.all(), stores.statuses.all(),
        stores.admission.all(), stores.last_heard.all())
    fold = FleetFold()
    for info in infos:
        fold.add_info(info)
    for presence in presences:
        fold.add_presence(presence)
    for last in heard:
        fold.add_heard(last)
    for admission in admissions:
        fold.add_admission(admission)
    for status in statuses:
        # The key in the bucket tells statuses apart; the fields that make it do here.
        fold.add_status(f"{status.evse_id}/{status.connector_id}", status)
    return [view for station_id in sorted(fold.station_ids())
            if (view := fold.view(station_id)) is not None]


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
