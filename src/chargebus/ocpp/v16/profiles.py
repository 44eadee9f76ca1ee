"""chargebus.domain.profiles as OCPP 1.6 csChargingProfiles and chargingSchedule, and back.

1.6 names the station-wide maximum ChargePointMaxProfile, has no external constraints,
no phaseToUse, and integer transaction ids.
"""
from chargebus.domain.composite import CompositeSchedule
from chargebus.domain.operations import NotInVersion
from chargebus.domain.profiles import ChargingProfile, ChargingSchedule, Purpose, SchedulePeriod
from chargebus.ocpp.clock import ocpp_timestamp
from chargebus.ocpp.profilefields import (profile_fields, profile_values, schedule_fields,
                                          schedule_values, time_of)

_PURPOSES = {Purpose.STATION_MAX: "ChargePointMaxProfile",
             Purpose.TX_DEFAULT: "TxDefaultProfile", Purpose.TX: "TxProfile"}
_PURPOSE_OF = {word: purpose for purpose, word in _PURPOSES.items()}


def purpose_of(word: str) -> Purpose:
    return _PURPOSE_OF[word]


def purpose_word(purpose: Purpose) -> str:
    try:
        return _PURPOSES[purpose]
    except KeyError:
        raise NotInVersion(f"1.6 has no {purpose.value}") from None


def profile_payload(profile: ChargingProfile) -> dict:
    payload = profile_fields(profile) | {
        "chargingProfileId": profile.profile_id,
        "chargingProfilePurpose": purpose_word(profile.purpose),
        "chargingSchedule": schedule_payload(profile.schedule)}
    if profile.transaction_id is not None:
        try:
            payload["transactionId"] = int(profile.transaction_id)
        except ValueError:
            raise NotInVersion(f"1.6 transaction ids are integers, not "
                               f"{profile.transaction_id!r}") from None
    return payload


def schedule_payload(schedule: ChargingSchedule) -> dict:
    if any(period.phase_to_use is not None for period in schedule.periods):
        raise NotInVersion("1.6 periods have no phaseToUse")
    return schedule_fields(schedule)


def profile_of(payload: dict) -> ChargingProfile:
    """A csChargingProfiles (checked against its schema already); ValueError where it
    breaks a rule of the model (a Recurring profile without its recurrency)."""
    transaction_id = payload.get("transactionId")
    return ChargingProfile(
        **profile_values(payload), profile_id=payload["chargingProfileId"],
        purpose=purpose_of(payload["chargingProfilePurpose"]),
        transaction_id=str(transaction_id) if transaction_id is not None else None,
        schedule=schedule_of(payload["chargingSchedule"]))


def schedule_of(payload: dict) -> ChargingSchedule:
    return ChargingSchedule(**schedule_values(payload), periods=tuple(
        SchedulePeriod(start_period=period["startPeriod"], limit=period["limit"],
                       number_phases=period.get("numberPhases"))
        for period in payload["chargingSchedulePeriod"]))


def composite_of(payload: dict, evse_id: int) -> CompositeSchedule | None:
    """A GetCompositeSchedule answer's schedule; None where the station gave none."""
    schedule = payload.get("chargingSchedule")
    if schedule is None:
        return None
    start = time_of(payload.get("scheduleStart") or schedule.get("startSchedule"))
    if start is None:
        raise ValueError("the composite schedule says neither scheduleStart nor startSchedule")
    plain = schedule_of(schedule)
    return CompositeSchedule(evse_id=payload.get("connectorId", evse_id), start=start,
                             duration=plain.duration or 0, unit=plain.unit,
                             periods=plain.periods)


def composite_payload(schedule: CompositeSchedule) -> dict:
    """A GetCompositeSchedule answer (Accepted) carrying ``schedule``."""
    return {"status": "Accepted", "connectorId": schedule.evse_id,
            "scheduleStart": ocpp_timestamp(schedule.start),
            "chargingSchedule": schedule_payload(ChargingSchedule(
                unit=schedule.unit, periods=schedule.periods, duration=schedule.duration,
                start_schedule=schedule.start))}

