"""One station as an operator looks at it: its boot, its connectors, where and whether
it is connected, how it may connect, its firmware updates."""
import asyncio
from datetime import datetime

from pydantic import BaseModel

from chargebus.state.records import (CertificateFacts, ConnectorStatus, StationAdmission,
                                     StationFirmware, StationInfo)
from chargebus.state.stores import Stores


class StationDetail(BaseModel):
    station_id: str
    online: bool
    edge: str | None = None  # the edge it is connected to, while online
    connected_at: datetime | None = None
    disconnected_at: datetime | None = None
    # Its TLS client certificate, where it connected with one (security profile 3).
    certificate: CertificateFacts | None = None
    boot: StationInfo | None = None
    statuses: list[ConnectorStatus] = []
    # How it may connect and how its boots are answered; None: as any station.
    admission: StationAdmission | None = None
    firmware: StationFirmware | None = None


async def detail(stores: Stores, station_id: str) -> StationDetail | None:
    """None where nothing is known of the station."""
    info, presence, statuses, admission, firmware = await asyncio.gather(
        stores.stations.get(station_id), stores.presence.get(station_id),
        stores.statuses.all(station_id), stores.admission.get(station_id),
        stores.firmware.get(station_id))
    statuses = sorted((status for status in statuses if status.station_id == station_id),
                      key=lambda status: (status.evse_id, status.connector_id or 0))
    if info is None and presence is None and not statuses and admission is None:
        return None
    online = bool(presence and presence.online)
    return StationDetail(
        station_id=station_id, online=online,
        edge=presence.edge_id if presence and online else None,
        connected_at=presence.connected_at if presence else None,
        disconnected_at=presence.disconnected_at if presence and not online else None,
        certificate=presence.certificate if presence else None, boot=info,
        statuses=statuses, admission=admission, firmware=firmware)
