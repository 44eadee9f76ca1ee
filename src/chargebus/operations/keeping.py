"""What chargebus keeps of an operation besides the audit trail, in one place for
``perform``: a request noted before it is sent (the station's reports of it may come
before its answer), and the station's answer, or why there is none, once it is known.
Each kind of operation's own module holds its rules; this only says which is whose."""
from dataclasses import dataclass

from chargebus.domain.operations import (CustomerInformation, GetChargingProfiles,
                                         GetDisplayMessages, Operation, OperationResult,
                                         RequestLog, UpdateFirmware)
from chargebus.ocpp import OcppVersion
from chargebus.operations import charging, configuration, firmware, messages, stationlogs
from chargebus.state.stores import Stores


@dataclass(frozen=True, slots=True)
class Sent:
    """An operation on its way: to which station, in which version and call, from whom."""

    stores: Stores
    station_id: str
    version: OcppVersion
    action: str
    sender: str


async def before_sending(sent: Sent, operation: Operation) -> None:
    stores, station_id = sent.stores, sent.station_id
    match operation:
        case GetChargingProfiles():
            await charging.fetching(stores, station_id, operation)
        case UpdateFirmware():
            await firmware.requested(stores, station_id, operation, sent.sender)
        case RequestLog():
            await stationlogs.requested(stores, station_id, operation, sent.action,
                                        sent.sender)
        case GetDisplayMessages():
            await messages.fetching(stores, station_id, operation)
        case CustomerInformation():
            await messages.asking_customer(stores, station_id, operation, sent.sender)


async def answered(sent: Sent, operation: Operation, result: OperationResult | None,
                   outcome: str) -> None:
    """``result`` where the station answered; else ``outcome`` says what came instead
    (an error, a timeout, an offline station)."""
    stores, station_id = sent.stores, sent.station_id
    answer = result.status if result is not None else outcome
    match operation:
        case UpdateFirmware():
            await firmware.answered(stores, station_id, operation, answer)
        case RequestLog():
            await stationlogs.answered(stores, station_id, operation, answer, result)
    if result is not None:
        await configuration.record(stores, station_id, operation, result)
        await charging.record(stores, station_id, sent.version, operation, result,
                              sent.sender)
        await messages.record(stores, station_id, operation, result, sent.sender)
