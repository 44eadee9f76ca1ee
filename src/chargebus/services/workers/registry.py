"""Stations: how their boots are answered, what they say about themselves, and the
status of their connectors."""
import asyncio
from collections.abc import Callable

import orjson

from chargebus.bus.client import BusMsg
from chargebus.bus.consumers import UNUSABLE, DeadLetters
from chargebus.bus.events import CallContext
from chargebus.domain.model import BootDecision, RegistrationStatus
from chargebus.ocpp.clock import parse_timestamp, utc_now
from chargebus.ocpp.converters import converter
from chargebus.runtime.config import Settings
from chargebus.state.records import ConnectorStatus, StationAdmission, StationInfo
from chargebus.state.stores import Stores


class Registry:
    def __init__(self, stores: Stores, settings: Settings, dead_letters: DeadLetters,
                 on_boot: Callable[[StationInfo | None, StationInfo], None]):
        """``on_boot(before, now)``: after each boot is answered, with what was known of
        the station before it."""
        self._stores = stores
        self._on_boot = on_boot
        self._heartbeat_interval = settings.heartbeat_interval
        self._unknown_stations = settings.unknown_stations
        self._dead_letters = dead_letters

    async def boot_notification(self, context: CallContext, payload: dict) -> dict:
        convert = converter(context.version)
        boot = convert.boot(payload)
        admission, before = await asyncio.gather(
            self._stores.admission.get(context.station_id),
            self._stores.stations.get(context.station_id))
        decision = BootDecision(
            status=self.boot_status(admission),
            interval=(admission.heartbeat_interval if admission and admission.heartbeat_interval
                      else self._heartbeat_interval),
            current_time=utc_now())
        info = StationInfo(
            station_id=context.station_id, version=context.version, vendor=boot.vendor,
            model=boot.model, serial_number=boot.serial_number,
            firmware_version=boot.firmware_version, boot_reason=boot.reason,
            booted_at=parse_timestamp(context.received), boot_status=decision.status)
        await self._stores.stations.put(info, context.station_id)
        self._on_boot(before, info)
        return convert.boot_answer(decision)

    def boot_status(self, admission: StationAdmission | None) -> RegistrationStatus:
        """The station's own policy; a station nobody registered is Pending where the
        network says so (the edge admitted it only to be told to wait)."""
        if admission is None:
            return (RegistrationStatus.PENDING if self._unknown_stations == "pending"
                    else RegistrationStatus.ACCEPTED)
        return admission.boot_status or RegistrationStatus.ACCEPTED

    async def record_statuses(self, batch: list[BusMsg]) -> None:
        for msg in batch:
            try:
                context = CallContext.from_headers(msg.headers)
                report = converter(context.version).status(orjson.loads(msg.data))
            except UNUSABLE as error:
                await self._dead_letters.send(msg, f"no usable status: {error!r}")
                continue
            status = ConnectorStatus(
                station_id=context.station_id, version=context.version,
                evse_id=report.evse_id, connector_id=report.connector_id, status=report.status,
                error_code=report.error_code,
                reported_at=report.timestamp or parse_timestamp(context.received))
            key = [status.station_id, str(status.evse_id)]
            if status.connector_id is not None:
                key.append(str(status.connector_id))
            await self._stores.statuses.put(status, *key)
