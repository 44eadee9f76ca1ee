"""chargebus.domain.profiles as OCPP 2.0.1 and 2.1 ChargingProfileType and
ChargingScheduleType, and back.

A 2.x profile carries a list of schedules; more than one is offered only to an ISO 15118
car, which picks one: chargebus sends one and reads the first of a station's. 2.1's
additions (per-phase limits, setpoints, discharging, Dynamic profiles, the
PriorityCharging and LocalGeneration purposes) are not modelled: a profile that uses
them is read as ValueError.
"""
from datetime import datetime

from chargebus.domain.composite import CompositeSchedule
from chargebus.domain.profiles import (ChargingProfile, ChargingSchedule, Kind, Purpose,
                                       RateUnit, Recurrency, SchedulePeriod)
from chargebus.ocpp.clock import ocpp_timestamp, parse_timestamp

# The period fields of 2.1 that would change what a period limits.
_UNMODELLED_PERIOD_FIELDS = ("limit_L2", "limit_L3", "setpoint", "dischargeLimit",
                             "operationMode")


def purpose_word(purpose: Purpose) -> str:
    return purpose.value


def profile_payload(profile: ChargingProfile) -> dict:
    payload: dict = {"id": profile.profile_id, "stackLevel": profile.stack_level,
                     "chargingProfilePurpose": profile.purpose.value,
                     "chargingProfileKind": profile.kind.value,
                     "chargingSchedule": [schedule_payload(profile.schedule,
                                                           profile.profile_id)]}
    if profile.transaction_id is not None:
        payload["transactionId"] = profile.transaction_id
    if profile.recurrency is not None:
        payload["recurrencyKind"] = profile.recurrency.value
    if profile.valid_from is not None:
        payload["validFrom"] = ocpp_timestamp(profile.valid_from)
    if profile.valid_to is not None:
        payload["validTo"] = ocpp_timestamp(profile.valid_to)
    return payload


def schedule_payload(schedule: ChargingSchedule, default_id: int) -> dict:
    payload: dict = {"id": schedule.schedule_id if schedule.schedule_id is not None
                     else default_id,
                     "chargingRateUnit": schedule.unit.value,
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
    payload: dict = {"startPeriod": period.start_period, "limit": round(period.limit, 1)}
    if period.number_phases is not None:
        payload["numberPhases"] = period.number_phases
    if period.phase_to_use is not None:
        payload["phaseToUse"] = period.phase_to_use
    return payload


def profile_of(payload: dict) -> ChargingProfile:
    """A ChargingProfileType (checked against its schema already); ValueError where it
    breaks a rule of the model or uses what chargebus does not model."""
    return ChargingProfile(
        profile_id=payload["id"], stack_level=payload["stackLevel"],
        purpose=Purpose(payload["chargingProfilePurpose"]),
        kind=Kind(payload["chargingProfileKind"]),
        recurrency=Recurrency(payload["recurrencyKind"]) if "recurrencyKind" in payload
        else None,
        valid_from=_time(payload.get("validFrom")), valid_to=_time(payload.get("validTo")),
        transaction_id=payload.get("transactionId"),
        schedule=schedule_of(payload["chargingSchedule"][0]))


def schedule_of(payload: dict) -> ChargingSchedule:
    return ChargingSchedule(
        unit=RateUnit(payload["chargingRateUnit"]),
        periods=tuple(_period_of(period) for period in payload["chargingSchedulePeriod"]),
        start_schedule=_time(payload.get("startSchedule")), duration=payload.get("duration"),
        min_charging_rate=payload.get("minChargingRate"), schedule_id=payload.get("id"))


def _period_of(payload: dict) -> SchedulePeriod:
    unmodelled = [name for name in _UNMODELLED_PERIOD_FIELDS if name in payload]
    if unmodelled or "limit" not in payload:
        raise ValueError(f"a period with {', '.join(unmodelled) or 'no limit'}: chargebus "
                         f"models limits alike on every phase")
    return SchedulePeriod(start_period=payload["startPeriod"], limit=payload["limit"],
                          number_phases=payload.get("numberPhases"),
                          phase_to_use=payload.get("phaseToUse"))


def composite_of(payload: dict, evse_id: int) -> CompositeSchedule | None:
    """A GetCompositeSchedule answer's schedule; None where the station gave none."""
    schedule = payload.get("schedule")
    if schedule is None:
        return None
    return CompositeSchedule(
        evse_id=schedule.get("evseId", evse_id), start=parse_timestamp(schedule["scheduleStart"]),
        duration=schedule["duration"], unit=RateUnit(schedule["chargingRateUnit"]),
        periods=tuple(_period_of(period) for period in schedule["chargingSchedulePeriod"]))


def composite_payload(schedule: CompositeSchedule) -> dict:
    """A GetCompositeSchedule answer (Accepted) carrying ``schedule``."""
    return {"status": "Accepted", "schedule": {
        "evseId": schedule.evse_id, "duration": schedule.duration,
        "scheduleStart": ocpp_timestamp(schedule.start),
        "chargingRateUnit": schedule.unit.value,
        "chargingSchedulePeriod": [_period_payload(period) for period in schedule.periods]}}


def _time(text: str | None) -> datetime | None:
    return parse_timestamp(text) if text is not None else None


def report_of(payload: dict) -> tuple[int, str, int, list[ChargingProfile], bool]:
    """A ReportChargingProfiles: its request id, the source of its limits, its EVSE, the
    profiles, and whether more parts follow (tbc). ValueError for a profile chargebus
    does not model."""
    return (payload["requestId"], payload["chargingLimitSource"], payload["evseId"],
            [profile_of(each) for each in payload["chargingProfile"]],
            bool(payload.get("tbc", False)))


# requestedEnergyTransfer: the phases an AC car charges on.
_AC_PHASES = {"AC_single_phase": 1, "AC_two_phase": 2, "AC_three_phase": 3}


def charging_needs(payload: dict) -> tuple[int, float | None, float | None, datetime | None,
                                           int | None]:
    """A NotifyEVChargingNeeds: its EVSE, the car's maximum current (A per phase), the
    energy it asks for (Wh), its departure, and the phases it charges on."""
    needs = payload["chargingNeeds"]
    ac = needs.get("acChargingParameters") or {}
    dc = needs.get("dcChargingParameters") or {}
    energy = ac.get("energyAmount", dc.get("energyAmount"))
    return (payload["evseId"], ac.get("evMaxCurrent"),
            float(energy) if energy is not None else None,
            _time(needs.get("departureTime")),
            _AC_PHASES.get(needs.get("requestedEnergyTransfer", "")))


def charging_limit(payload: dict) -> tuple[int, ChargingSchedule | None]:
    """A NotifyChargingLimit: the EVSE it limits (0: the station) and its schedule, if
    it gave one."""
    schedules = payload.get("chargingSchedule") or []
    return payload.get("evseId", 0), schedule_of(schedules[0]) if schedules else None
