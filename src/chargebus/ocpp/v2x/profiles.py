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
from chargebus.domain.profiles import (ChargingProfile, ChargingSchedule, Purpose, RateUnit,
                                       SchedulePeriod)
from chargebus.ocpp.clock import ocpp_timestamp, parse_timestamp
from chargebus.ocpp.profilefields import (period_fields, profile_fields, profile_values,
                                          schedule_fields, schedule_values, time_of)

# The period fields of 2.1 that would change what a period limits.
_UNMODELLED_PERIOD_FIELDS = ("limit_L2", "limit_L3", "setpoint", "dischargeLimit",
                             "operationMode")


def profile_payload(profile: ChargingProfile) -> dict:
    payload = profile_fields(profile) | {
        "id": profile.profile_id, "chargingProfilePurpose": profile.purpose.value,
        "chargingSchedule": [schedule_payload(profile.schedule, profile.profile_id)]}
    if profile.transaction_id is not None:
        payload["transactionId"] = profile.transaction_id
    return payload


def schedule_payload(schedule: ChargingSchedule, default_id: int) -> dict:
    return schedule_fields(schedule) | {
        "id": schedule.schedule_id if schedule.schedule_id is not None else default_id}


def profile_of(payload: dict) -> ChargingProfile:
    """A ChargingProfileType (checked against its schema already); ValueError where it
    breaks a rule of the model or uses what chargebus does not model."""
    return ChargingProfile(
        **profile_values(payload), profile_id=payload["id"],
        purpose=Purpose(payload["chargingProfilePurpose"]),
        transaction_id=payload.get("transactionId"),
        schedule=schedule_of(payload["chargingSchedule"][0]))


def schedule_of(payload: dict) -> ChargingSchedule:
    return ChargingSchedule(
        **schedule_values(payload), schedule_id=payload.get("id"),
        periods=tuple(_period_of(period) for period in payload["chargingSchedulePeriod"]))


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
        "chargingSchedulePeriod": [period_fields(period) for period in schedule.periods]}}



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
            time_of(needs.get("departureTime")),
            _AC_PHASES.get(needs.get("requestedEnergyTransfer", "")))


def charging_limit(payload: dict) -> tuple[int, ChargingSchedule | None]:
    """A NotifyChargingLimit: the EVSE it limits (0: the station) and its schedule, if
    it gave one."""
    schedules = payload.get("chargingSchedule") or []
    return payload.get("evseId", 0), schedule_of(schedules[0]) if schedules else None
