"""Which charging profiles a station holds, as chargebus keeps them: the rules by which
each answer and report changes the station's record (chargebus.state.records
StationProfiles), free of I/O.

A profile the station accepted replaces any of the same id (OCPP 1.6 3.13.2, 2.0.1
K01.FR.05) and, in 1.6, any of the same stack level and purpose on the same connector; a
TxProfile for a transaction replaces those an EVSE kept for another transaction, which
the station dropped when that one ended. A refusal changes nothing the station holds and
is kept among the latest refusals. A cleared profile goes. A complete report of the
station's own profiles (GetChargingProfiles, ReportChargingProfiles until tbc is false)
replaces what chargebus kept of those the request selected.
"""
from chargebus.domain.operations import ClearChargingProfile, GetChargingProfiles
from chargebus.domain.profiles import Purpose
from chargebus.ocpp import OcppVersion
from chargebus.state.records import ProfileFetch, StationProfiles, StoredProfile

ACCEPTED = "Accepted"
REPORTED = "Reported"
# Refusals kept per station, the latest last: enough to see why a profile is not there.
REFUSALS_KEPT = 20


def with_answer(record: StationProfiles | None, station_id: str, version: OcppVersion,
                stored: StoredProfile) -> StationProfiles:
    """The record after the station answered a SetChargingProfile with ``stored.status``."""
    record = record or StationProfiles(station_id=station_id)
    if stored.status != ACCEPTED:
        return record.model_copy(update={"refused": [*record.refused, stored][-REFUSALS_KEPT:]})
    kept = [each for each in record.profiles
            if not _replaced_by(each, stored, version)]
    return record.model_copy(update={"profiles": [*kept, stored]})


def _replaced_by(old: StoredProfile, new: StoredProfile, version: OcppVersion) -> bool:
    if old.profile.profile_id == new.profile.profile_id:
        return True
    if old.evse_id != new.evse_id:
        return False
    if (version is OcppVersion.V16 and old.profile.stack_level == new.profile.stack_level
            and old.profile.purpose is new.profile.purpose):
        return True
    return (old.profile.purpose is Purpose.TX and new.profile.purpose is Purpose.TX
            and old.profile.transaction_id != new.profile.transaction_id)


def selected(stored: StoredProfile, criteria: ClearChargingProfile | GetChargingProfiles
             ) -> bool:
    """Whether a clear or a fetch with these criteria selects the profile: by its id
    alone where one is given to a clear, else by every criterion given."""
    profile = stored.profile
    if isinstance(criteria, ClearChargingProfile) and criteria.profile_id is not None:
        return profile.profile_id == criteria.profile_id
    if isinstance(criteria, GetChargingProfiles) and criteria.profile_ids:
        if profile.profile_id not in criteria.profile_ids:
            return False
    return ((criteria.evse_id is None or stored.evse_id == criteria.evse_id)
            and (criteria.purpose is None or profile.purpose is criteria.purpose)
            and (criteria.stack_level is None or profile.stack_level == criteria.stack_level))


def with_cleared(record: StationProfiles | None, criteria: ClearChargingProfile
                 ) -> StationProfiles | None:
    """The record without the profiles the clear selected (the station answered Accepted,
    or Unknown: it holds none of them either way); None where nothing changes."""
    if record is None:
        return None
    kept = [each for each in record.profiles if not selected(each, criteria)]
    if len(kept) == len(record.profiles):
        return None
    return record.model_copy(update={"profiles": kept})


def with_fetch(record: StationProfiles | None, station_id: str, request: GetChargingProfiles
               ) -> StationProfiles:
    """The record with a fetch of the station's profiles begun (``request`` has its id)."""
    record = record or StationProfiles(station_id=station_id)
    return record.model_copy(update={"fetch": ProfileFetch(request=request)})


def with_no_profiles(record: StationProfiles | None, request_id: int) -> StationProfiles | None:
    """The station answered NoProfiles: it holds none of those the fetch selected."""
    if record is None or record.fetch is None or record.fetch.request.request_id != request_id:
        return None
    request = record.fetch.request
    return record.model_copy(update={
        "profiles": [each for each in record.profiles if not selected(each, request)],
        "fetch": None})


def with_report(record: StationProfiles | None, station_id: str, request_id: int,
                reported: list[StoredProfile], more: bool) -> StationProfiles:
    """A part of the station's ReportChargingProfiles. Parts of the fetch under way are
    gathered, and the last one (``more`` false) replaces what was kept of the profiles
    it selected; a report of no fetch chargebus knows (another CSMS's, or one that came
    after a newer fetch began) only adds what it lists."""
    record = record or StationProfiles(station_id=station_id)
    fetch = record.fetch
    if fetch is None or fetch.request.request_id != request_id:
        return record.model_copy(update={"profiles": _merged(record.profiles, reported)})
    gathered = [*fetch.gathered, *reported]
    if more:
        return record.model_copy(update={"fetch": fetch.model_copy(
            update={"gathered": gathered})})
    kept = [each for each in record.profiles if not selected(each, fetch.request)]
    return record.model_copy(update={"profiles": _merged(kept, gathered), "fetch": None})


def _merged(kept: list[StoredProfile], reported: list[StoredProfile]) -> list[StoredProfile]:
    ids = {(each.evse_id, each.profile.profile_id) for each in reported}
    return [*(each for each in kept if (each.evse_id, each.profile.profile_id) not in ids),
            *reported]

