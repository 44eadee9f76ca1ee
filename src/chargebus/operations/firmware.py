"""Firmware updates kept in KV as they are asked for and answered
(chargebus.domain.firmware has the rules; the stations' status notifications are applied
by the workers)."""
from chargebus.domain import firmware
from chargebus.domain.operations import UpdateFirmware
from chargebus.ocpp.clock import utc_now
from chargebus.state.records import FirmwareUpdate
from chargebus.state.stores import Stores


async def requested(stores: Stores, station_id: str, operation: UpdateFirmware,
                    sender: str) -> None:
    """Kept before it is sent: the station may report its first status before its
    answer has come back here."""
    assert operation.request_id is not None  # perform gave it one
    station = await stores.stations.get(station_id)
    update = FirmwareUpdate(request_id=operation.request_id, location=operation.location,
                            retrieve_at=operation.retrieve_at, requested_at=utc_now(),
                            sender=sender,
                            firmware_before=station.firmware_version if station else None)
    await stores.firmware.modify(
        lambda record: firmware.with_request(record, station_id, update), station_id)


async def answered(stores: Stores, station_id: str, operation: UpdateFirmware, answer: str
                   ) -> None:
    request_id = operation.request_id
    assert request_id is not None  # perform gave it one
    await stores.firmware.modify(
        lambda record: firmware.with_answer(record, request_id, answer), station_id)
