"""The fields of a charging profile that OCPP 1.6 and 2.x spell alike; each version's
``profiles`` module adds its own (the profile's id, the purpose's name, the transaction
id's type, 2.x's list of schedules)."""
from datetime import datetime
from typing import Any

from chargebus.domain.profiles import (ChargingProfile, ChargingSchedule, Kind, RateUnit,
                                       Recurrency, SchedulePeriod)
from chargebus.ocpp.clock import ocpp_timestamp, parse_timestamp


def profile_fields(profile: ChargingProfile) -> dict:
    payload: dict = {"stackLevel": profile.stack_level,
                     "chargingProfileKind": profile.kind.value}
    if profile.recurrency is not None:
        payload["recurrencyKind"] = profile.recurrency.value
    if profile.valid_from is not None:
        payload["validFrom"] = ocpp_timestamp(profile.valid_from)
    if profile.valid_to is not None:
        payload["validTo"] = ocpp_timestamp(profile.valid_to)
    return payload


def schedule_fields(schedule: ChargingSchedule) -> dict:
    payload: dict = {"chargingRateUnit": schedule.unit.value,
                     "chargingSchedulePeriod": [period_fields(period)
                                                for period in schedule.periods]}
    if schedule.duration is not None:
        payload["duration"] = schedule.duration
    if schedule.start_schedule is not None:
        payload["startSchedule"] = ocpp_timestamp(schedule.start_schedule)
    if schedule.min_charging_rate is not None:
        payload["minChargingRate"] = schedule.min_charging_rate
    return payload


def period_fields(period: SchedulePeriod) -> dict:
    """A period; its limit with the one decimal stations take."""
    payload: dict = {"startPeriod": period.start_period, "limit": round(period.limit, 1)}
    if period.number_phases is not None:
        payload["numberPhases"] = period.number_phases
    if period.phase_to_use is not None:
        payload["phaseToUse"] = period.phase_to_use
    return payload


def profile_values(payload: dict) -> dict[str, Any]:
    """The model's values of the fields both versions share."""
    return {"stack_level": payload["stackLevel"],
            "kind": Kind(payload["chargingProfileKind"]),
            "recurrency": Recurrency(payload["recurrencyKind"]) if "recurrencyKind" in payload
            else None,
            "valid_from": time_of(payload.get("validFrom")),
            "valid_to": time_of(payload.get("validTo"))}


def schedule_values(payload: dict) -> dict[str, Any]:
    """The model's values of a schedule's fields but its periods."""
    return {"unit": RateUnit(payload["chargingRateUnit"]),
            "start_schedule": time_of(payload.get("startSchedule")),
            "duration": payload.get("duration"),
            "min_charging_rate": payload.get("minChargingRate")}


def time_of(text: str | None) -> datetime | None:
    return parse_timestamp(text) if text is not None else None
