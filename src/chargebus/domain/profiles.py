"""Charging profiles, whatever the OCPP version: the limits a station is told to keep.

1.6 calls the station-wide maximum ChargePointMaxProfile, 2.x ChargingStationMaxProfile;
here both are ``Purpose.STATION_MAX`` and chargebus.ocpp.v16.profiles spells it for 1.6.
A profile applies to one EVSE (1.6: connector), or with ``evse_id`` 0 to the station
(ChargingStationMax always, TxDefault for every EVSE that has none of its own).
"""
import enum
from typing import Self

from pydantic import BaseModel, Field, model_validator

from chargebus.ocpp.clock import Moment


class Purpose(enum.StrEnum):
    STATION_MAX = "ChargingStationMaxProfile"
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"
    # 2.x: limits from outside the CSMS (an energy management system), which the
    # station reports; a CSMS may send them to stations that accept it.
    EXTERNAL = "ChargingStationExternalConstraints"


class Kind(enum.StrEnum):
    ABSOLUTE = "Absolute"  # from startSchedule
    RECURRING = "Recurring"  # from startSchedule, again every day or week
    RELATIVE = "Relative"  # from the start of the transaction


class Recurrency(enum.StrEnum):
    DAILY = "Daily"
    WEEKLY = "Weekly"


class RateUnit(enum.StrEnum):
    AMPERES = "A"  # per phase
    WATTS = "W"  # over all phases


class SchedulePeriod(BaseModel, frozen=True):
    """From ``start_period`` seconds after the schedule's start until the next period's:
    at most ``limit`` (per phase in A, in all in W) on ``number_phases`` phases (3 when
    not said). ``phase_to_use`` (2.x) names the one phase of a single-phase period."""

    start_period: int = Field(ge=0)
    limit: float = Field(ge=0)
    number_phases: int | None = Field(default=None, ge=1, le=3)
    phase_to_use: int | None = Field(default=None, ge=1, le=3)


class ChargingSchedule(BaseModel, frozen=True):
    """Periods in order of their start, the first at 0; the last lasts until
    ``duration`` seconds after the start (forever when None)."""

    unit: RateUnit
    periods: tuple[SchedulePeriod, ...] = Field(min_length=1)
    start_schedule: Moment | None = None
    duration: int | None = Field(default=None, ge=0)
    min_charging_rate: float | None = Field(default=None, ge=0)
    schedule_id: int | None = None  # 2.x: the schedule's own id

    @model_validator(mode="after")
    def _periods_in_order(self) -> Self:
        starts = [period.start_period for period in self.periods]
        if starts[0] != 0:
            raise ValueError("the first period of a schedule starts at 0")
        if any(later <= earlier for earlier, later in zip(starts, starts[1:], strict=False)):
            raise ValueError("schedule periods are given in the order of their start, "
                             "each later than the one before")
        return self


class ChargingProfile(BaseModel, frozen=True):
    profile_id: int
    stack_level: int = Field(ge=0)
    purpose: Purpose
    kind: Kind
    schedule: ChargingSchedule
    recurrency: Recurrency | None = None
    valid_from: Moment | None = None
    valid_to: Moment | None = None
    transaction_id: str | None = None  # TxProfile: the transaction it limits

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.kind is Kind.RECURRING) != (self.recurrency is not None):
            raise ValueError("a Recurring profile, and only one, says its recurrency")
        if self.kind is Kind.RECURRING and self.schedule.start_schedule is None:
            raise ValueError("a Recurring profile's schedule says when it starts")
        if self.kind is Kind.RELATIVE and self.schedule.start_schedule is not None:
            raise ValueError("a Relative profile starts with its transaction, not at "
                             "startSchedule")
        if self.transaction_id is not None and self.purpose is not Purpose.TX:
            raise ValueError("only a TxProfile names a transaction")
        if (self.valid_from is not None and self.valid_to is not None
                and self.valid_to <= self.valid_from):
            raise ValueError("validTo is after validFrom")
        return self


class InstalledProfile(BaseModel, frozen=True):
    """A profile on one EVSE of a station (0: the station)."""

    evse_id: int = Field(ge=0)
    profile: ChargingProfile
