"""chargebus.domain.profiles as OCPP 1.6 csChargingProfiles and chargingSchedule, and back.

1.6 names the station-wide maximum ChargePointMaxProfile, has no external constraints,
no phaseToUse, and integer transaction ids.
"""
from datetime import datetime

from chargebus.domain.composite import CompositeSchedule
from chargebus.domain.operations import NotInVersion
from chargebus.domain.profiles import (ChargingProfile, ChargingSchedule, Kind, Purpose,
                                       RateUnit, Recurrency, SchedulePeriod)
from chargebus.ocpp.clock import ocpp_timestamp, parse_timestamp

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
    payload: dict = {"chargingProfileId": profile.profile_id,
                     "stackLevel": profile.stack_level,
                     "chargingProfilePurpose": purpose_word(profile.purpose),
                     "chargingProfileKind": profile.kind.value,
                     "chargingSchedule": schedule_payload(profile.schedule)}
    if profile.transaction_id is not None:
        try:
            payload["transactionId"] = int(profile.transaction_id)
        except ValueError:
            raise NotInVersion(f"1.6 transaction ids are integers, not "
                               f"{profile.transaction_id!r}") from None
    if profile.recurrency is not None:
        payload["recurrencyKind"] = profile.recurrency.value
    if profile.valid_from is not None:
        payload["validFrom"] = ocpp_timestamp(profile.valid_from)
    if profile.valid_to is not None:
        payload["validTo"] = ocpp_timestamp(profile.valid_to)
    return payload


def schedule_payload(schedule: ChargingSchedule) -> dict:
    payload: dict = {"chargingRateUnit": schedule.unit.value,
                     "chargingSchedulePeriod": [_period_payload(period)
                                                for period in schedule.periods]}
    if schedule.duration is not None:
        payload["duration"] = schedule.duration
    if schedule.start_schedule is not None:
        payload["startSchedule"] = ocpp_timestamp(schedule.start_schedule)
    if schedule.min_charging_rate is not None:
        payload["minChargingRate"] = schedule.min_charging_rate
    return payload


def _period_payload(period: SchedulePeriod) -> dict:
    if period.phase_to_use is not None:
        raise NotInVersion("1.6 periods have no phaseToUse")
    payload: dict = {"startPeriod": period.start_period, "limit": round(period.limit, 1)}
    if period.number_phases is not None:
        payload["numberPhases"] = period.number_phases
    return payload


def profile_of(payload: dict) -> ChargingProfile:
    """A csChargingProfiles (checked against its schema already); ValueError where it
    breaks a rule of the model (a Recurring profile without its recurrency)."""
    transaction_id = payload.get("transactionId")
    return ChargingProfile(
        profile_id=payload["chargingProfileId"], stack_level=payload["stackLevel"],
        purpose=purpose_of(payload["chargingProfilePurpose"]),
        kind=Kind(payload["chargingProfileKind"]),
        recurrency=Recurrency(payload["recurrencyKind"]) if "recurrencyKind" in payload
        else None,
        valid_from=_time(payload.get("validFrom")), valid_to=_time(payload.get("validTo")),
        transaction_id=str(transaction_id) if transaction_id is not None else None,
        schedule=schedule_of(payload["chargingSchedule"]))


def schedule_of(payload: dict) -> ChargingSchedule:
    return ChargingSchedule(
        unit=RateUnit(payload["chargingRateUnit"]),
        periods=tuple(SchedulePeriod(start_period=period["startPeriod"],
                                     limit=period["limit"],
                                     number_phases=period.get("numberPhases"))
                      for period in payload["chargingSchedulePeriod"]),
        start_schedule=_time(payload.get("startSchedule")), duration=payload.get("duration"),
        min_charging_rate=payload.get("minChargingRate"))


def composite_of(payload: dict, evse_id: int) -> CompositeSchedule | None:
    """A GetCompositeSchedule answer's schedule; None where the station gave none."""
    schedule = payload.get("chargingSchedule")
    if schedule is None:
        return None
    start = _time(payload.get("scheduleStart") or schedule.get("startSchedule"))
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


def _time(text: str | None) -> datetime | None:
    return parse_timestamp(text) if text is not None else None
