"""What the stations' answers to the charging-profile operations say, kept in KV
(chargebus.domain.installed has the rules): an accepted profile is what the station
holds, a refusal is kept among the latest, a clear removes, and a fetch of the station's
own list is noted before it is sent, since its reports may come before its answer."""
from chargebus.domain import installed
from chargebus.domain.operations import (ClearChargingProfile, GetChargingProfiles, Operation,
                                         OperationResult, SetChargingProfile)
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.clock import utc_now
from chargebus.state.records import StoredProfile
from chargebus.state.stores import Stores


async def fetching(stores: Stores, station_id: str, request: GetChargingProfiles) -> None:
    """Note a fetch (``request`` has its id) in the station's record before it is sent."""
    await stores.profiles.modify(
        lambda record: installed.with_fetch(record, station_id, request), station_id)


async def record(stores: Stores, station_id: str, version: OcppVersion, operation: Operation,
                 result: OperationResult, sender: str) -> None:
    match operation:
        case SetChargingProfile():
            stored = StoredProfile(evse_id=operation.evse_id, profile=operation.profile,
                                   status=result.status, source=sender, at=utc_now())
            await stores.profiles.modify(
                lambda record: installed.with_answer(record, station_id, version, stored),
                station_id)
        case ClearChargingProfile():
            criteria = operation
            await stores.profiles.modify(
                lambda record: installed.with_cleared(record, criteria), station_id)
        case GetChargingProfiles() if result.status == "NoProfiles":
            request_id = operation.request_id
            assert request_id is not None  # before_sending gave it one
            await stores.profiles.modify(
                lambda record: installed.with_no_profiles(record, request_id), station_id)
