"""What a simulated station does with the charging profiles it is sent, as a station
does: it keeps them by id (a TxProfile only for the transaction under way), computes
its own composite schedule (chargebus.domain.composite) and lets its car draw at most
that, per phase; a car may draw less (one that is nearly full), and a single-phase car
draws on one phase only.

Every change of what the station lets its car draw is noted with the time, so that a
test can tell what the station held at every instant.
"""
import time
from dataclasses import dataclass, field
from datetime import datetime

from chargebus.domain.composite import (CompositeSchedule, Supply, Transaction, composite_schedule,
                                        limit_at)
from chargebus.domain.profiles import ChargingProfile, InstalledProfile, Purpose, RateUnit
from chargebus.ocpp.clock import utc_now

# The simulated stations have one EVSE.
EVSE_ID = 1
ACCEPTED = "Accepted"
REJECTED = "Rejected"


@dataclass(slots=True)
class Car:
    phases: int = 3
    max_current: float = 32.0  # A per phase
    tops_at: float | None = None  # a nearly full car draws no more than this


@dataclass(slots=True)
class SmartCharging:
    """One EVSE's profiles, its transaction and its car."""

    evse_max: float = 32.0  # A per phase: what the EVSE lets a car draw with no profile
    voltage: float = 230.0
    refuses: bool = False  # answers Rejected to every profile
    car: Car = field(default_factory=Car)
    profiles: list[InstalledProfile] = field(default_factory=list)
    transaction: Transaction | None = None
    # (time.monotonic(), what the car may draw per phase, the phases it draws on) at
    # every change while a transaction runs; a limit of None when it ends.
    limit_log: list[tuple[float, float | None, int]] = field(default_factory=list)
    # transaction -> (time.monotonic() of its start, of its end or None)
    sessions: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    # (time.monotonic(), purpose, transaction) of every profile it took.
    profile_log: list[tuple[float, Purpose, str | None]] = field(default_factory=list)

    def set_profile(self, evse_id: int, profile: ChargingProfile) -> str:
        if self.refuses or evse_id not in (0, EVSE_ID):
            return REJECTED
        if profile.purpose is Purpose.TX:
            # OCPP 1.6 3.13.2, 2.0.1 K01.FR.09: a TxProfile only for the transaction
            # under way.
            if evse_id == 0 or self.transaction is None or (
                    profile.transaction_id is not None
                    and profile.transaction_id != self.transaction.transaction_id):
                return REJECTED
        if profile.purpose is Purpose.STATION_MAX and evse_id != 0:
            return REJECTED
        self.profiles = [each for each in self.profiles
                         if each.profile.profile_id != profile.profile_id] + [
            InstalledProfile(evse_id=evse_id, profile=profile)]
        self.profile_log.append((time.monotonic(), profile.purpose, profile.transaction_id))
        self._note()
        return ACCEPTED

    def clear(self, profile_id: int | None, evse_id: int | None, purpose: Purpose | None,
              stack_level: int | None) -> bool:
        """Whether a profile matched (and went)."""
        def matches(each: InstalledProfile) -> bool:
            if profile_id is not None:
                return each.profile.profile_id == profile_id
            return ((evse_id is None or each.evse_id == evse_id)
                    and (purpose is None or each.profile.purpose is purpose)
                    and (stack_level is None or each.profile.stack_level == stack_level))
        kept = [each for each in self.profiles if not matches(each)]
        found = len(kept) != len(self.profiles)
        self.profiles = kept
        self._note()
        return found

    def start(self, transaction_id: str) -> None:
        self.transaction = Transaction(transaction_id, utc_now())
        self.sessions[transaction_id] = (time.monotonic(), None)
        self._note()

    def end(self) -> None:
        # A TxProfile ends with its transaction (1.6 3.13.2, 2.0.1 K01.FR.??).
        self.profiles = [each for each in self.profiles if each.profile.purpose is not Purpose.TX]
        ended = time.monotonic()
        if self.transaction is not None:
            started, _ = self.sessions[self.transaction.transaction_id]
            self.sessions[self.transaction.transaction_id] = (started, ended)
        self.transaction = None
        self.limit_log.append((ended, None, self.car.phases))

    def limit(self, at: datetime | None = None) -> float:
        """What the car may draw per phase now: the composite schedule's limit."""
        if not self.profiles:
            return self.evse_max
        period = limit_at(self.profiles, EVSE_ID, at or utc_now(), RateUnit.AMPERES,
                          maximum=self.evse_max, supply=Supply(self.voltage, 3),
                          transaction=self.transaction)
        return period.limit

    def currents(self) -> list[float]:
        """The current the car draws on each of the EVSE's three conductors."""
        if self.transaction is None:
            return [0.0, 0.0, 0.0]
        draw = min(self.limit(), self.car.max_current)
        if self.car.tops_at is not None:
            draw = min(draw, self.car.tops_at)
        # A car does not charge below 6 A (IEC 61851-1): it waits.
        draw = draw if draw >= 6.0 else 0.0
        return [draw if phase < self.car.phases else 0.0 for phase in range(3)]

    def watts(self) -> float:
        return sum(self.currents()) * self.voltage

    def composite(self, evse_id: int, duration: int, unit: RateUnit) -> CompositeSchedule:
        return composite_schedule(self.profiles, evse_id, utc_now(), duration, unit,
                                  maximum=self.evse_max, supply=Supply(self.voltage, 3),
                                  transaction=self.transaction)

    def _note(self) -> None:
        if self.transaction is not None:
            limit = self.limit()
            if not self.limit_log or self.limit_log[-1][1] != limit:
                self.limit_log.append((time.monotonic(), limit, self.car.phases))
