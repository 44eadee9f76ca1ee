"""Stations: what they say about themselves at boot, and the status of their connectors."""
import orjson
from nats.aio.msg import Msg

from chargebus.clock import ocpp_timestamp, parse_timestamp, utc_now
from chargebus.config import Settings
from chargebus.consumers import UNUSABLE, DeadLetters
from chargebus.events import CallContext
from chargebus.protocol import OcppVersion
from chargebus.records import ConnectorStatus, StationInfo
from chargebus.stores import Stores


class Registry:
    def __init__(self, stores: Stores, settings: Settings, dead_letters: DeadLetters):
        self._stores = stores
        self._heartbeat_interval = settings.heartbeat_interval
        self._unknown_stations = settings.unknown_stations
        self._dead_letters = dead_letters

    async def boot_notification(self, context: CallContext, payload: dict) -> dict:
        await self._stores.stations.put(station_info(context, payload), context.station_id)
        status = "Accepted"
        if (self._unknown_stations == "pending"
                and await self._stores.access.get(context.station_id) is None):
            status = "Pending"  # admitted by the edge, but nobody registered it yet
        return {"status": status, "currentTime": ocpp_timestamp(),
                "interval": self._heartbeat_interval}

    async def record_statuses(self, batch: list[Msg]) -> None:
        for msg in batch:
            try:
                status = connector_status(CallContext.from_headers(msg.headers),
                                          orjson.loads(msg.data))
            except UNUSABLE as error:
                await self._dead_letters.send(msg, f"no usable status: {error!r}")
                continue
            key = [status.station_id, str(status.evse_id)]
            if status.connector_id is not None:
                key.append(str(status.connector_id))
            await self._stores.statuses.put(status, *key)


def station_info(context: CallContext, payload: dict) -> StationInfo:
    if context.version is OcppVersion.V16:
        return StationInfo(
            station_id=context.station_id, version=context.version,
            vendor=payload["chargePointVendor"], model=payload["chargePointModel"],
            serial_number=payload.get("chargePointSerialNumber"),
            firmware_version=payload.get("firmwareVersion"),
            booted_at=parse_timestamp(context.received),
        )
    station = payload["chargingStation"]
    return StationInfo(
        station_id=context.station_id, version=context.version,
        vendor=station["vendorName"], model=station["model"],
        serial_number=station.get("serialNumber"),
        firmware_version=station.get("firmwareVersion"),
        boot_reason=payload.get("reason"),
        booted_at=parse_timestamp(context.received),
    )


def connector_status(context: CallContext, payload: dict) -> ConnectorStatus:
    if context.version is OcppVersion.V16:
        reported = payload.get("timestamp")
        return ConnectorStatus(
            station_id=context.station_id, version=context.version,
            evse_id=payload["connectorId"], status=payload["status"],
            error_code=payload["errorCode"],
            reported_at=parse_timestamp(reported) if reported else utc_now(),
        )
    return ConnectorStatus(
        station_id=context.station_id, version=context.version,
        evse_id=payload["evseId"], connector_id=payload["connectorId"],
        status=payload["connectorStatus"],
        reported_at=parse_timestamp(payload["timestamp"]),
    )
