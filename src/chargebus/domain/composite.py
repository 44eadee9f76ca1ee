"""The composite schedule: what one EVSE (0: the whole station) may draw, instant by
instant, under the charging profiles a station holds, worked out as the station does for
GetCompositeSchedule (OCPP 1.6 5.7 and 3.13, 2.0.1 K08), and free of I/O.

Which profiles bear on it:
- ChargingStationMaxProfile (1.6 ChargePointMaxProfile) on evse 0 limits the whole station
  and so every EVSE; one installed elsewhere counts for nothing, as a station refuses it
  (1.6 3.13.1: it "can only be set at Charge Point ConnectorId 0").
- ChargingStationExternalConstraints on evse 0 limit the whole station too, on an EVSE
  that EVSE (2.0.1 SetChargingProfileRequest.evseId: for both purposes "an evseId=0
  contains an overal limit for the whole Charging Station").
- A TxDefaultProfile on evse 0 is installed on each EVSE (1.6 3.13.1; 2.0.1 evseId: "applies
  the profile to each individual evse"), so it stacks with the EVSE's own by stack level.
  2.0.1 lets no two of them share a stack level (K01.FR.52, K01.FR.53, as EVerest libocpp
  reads them); where two do, the EVSE's own leads: 1.6 3.13.1 has an EVSE's profile
  replace evse 0's "only for that specific connector".
- A TxProfile counts on its own EVSE only, from the start of the transaction it names (or,
  naming none, of the transaction on that EVSE) while that transaction runs; it then
  "overrules" the TxDefaultProfile (1.6 3.13.1, 7.10).
- The composite of evse 0 is the station's: its ChargingStationMaxProfile and external
  constraints, and ``maximum``.

Within one purpose (one EVSE's external constraints apart from the station's) the profile
that leads at an instant is the one of the highest stack level among those valid then
(validFrom <= t < validTo) whose schedule has a period then (1.6 3.13.2; 2.0.1
ChargingProfileType.stackLevel: "higher values have precedence"): one whose duration has
run out leads no longer, and a lower one shows again. Across purposes the composite is
the lowest of the leading limits and ``maximum`` (1.6 3.13.3); where no profile leads, it
is ``maximum``.

A schedule starts at its startSchedule; a Recurring one again each day or week after it,
each repetition cutting off the one before, and not before startSchedule. A Relative
schedule, and an Absolute one without startSchedule ("relative to start of charging", 1.6
7.13, 2.0.1 ChargingScheduleType), starts with the transaction; with none running, at
the composite's start: 2.0.1 ChargingProfileKindEnumType says its periods "start when the
EVSE is ready to deliver energy", and the composite tells what an EV plugged in then would
get (so does EVerest libocpp, and its GetCompositeSchedule). Times are instants: a day is
24 hours whatever the local clock does (1.6 3.13.7 leaves DST to special profiles).

Watts are all phases together, amperes one phase: "Current per phase = Power / (Line
Voltage * Number of Phases)", the set voltage for the area (1.6 7.12 ChargingRateUnitType),
on the phases of the result's period: the fewest any leading period allows, 3 where none
says (1.6 7.12, 2.0.1 ChargingSchedulePeriodType.numberPhases), and no more than the
supply has. Limits are rounded down to tenths (2.0.1 limit: "at most one digit
fraction"), never up.
"""
import enum
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from math import floor, isfinite

from pydantic import BaseModel, Field

from chargebus.domain.profiles import (ChargingProfile, InstalledProfile, Kind, Purpose,
                                       RateUnit, Recurrency, SchedulePeriod)

STATION = 0
DEFAULT_PHASES = 3
_REPEATS = {Recurrency.DAILY: timedelta(days=1), Recurrency.WEEKLY: timedelta(weeks=1)}
# Whole microseconds, the finest a datetime holds, so that time arithmetic is exact.
_MICROSECOND = timedelta(microseconds=1)
_PER_SECOND = 1_000_000


@dataclass(frozen=True, slots=True)
class Supply:
    """How A and W convert at this EVSE: nominal phase-to-neutral voltage and phase count."""

    voltage: float = 230.0
    phases: int = 3

    def __post_init__(self) -> None:
        if self.voltage <= 0 or not 1 <= self.phases <= 3:
            raise ValueError("a supply has a voltage above 0 and 1 to 3 phases")


NOMINAL_SUPPLY = Supply()


@dataclass(frozen=True, slots=True)
class Transaction:
    """The transaction running on the EVSE: TxProfiles name it, Relative schedules start
    with it."""

    transaction_id: str
    started_at: datetime


class CompositeSchedule(BaseModel, frozen=True):
    """From ``start`` for ``duration`` seconds: each period from its ``start_period``
    (seconds after ``start``) until the next one's."""

    evse_id: int = Field(ge=0)
    start: datetime
    duration: int = Field(ge=0)
    unit: RateUnit
    periods: tuple[SchedulePeriod, ...]


def composite_schedule(installed: Iterable[InstalledProfile], evse_id: int, start: datetime,
                       duration: int, unit: RateUnit, *, maximum: float,
                       supply: Supply = NOMINAL_SUPPLY, transaction: Transaction | None = None
                       ) -> CompositeSchedule:
    """The composite of ``evse_id`` over [start, start + duration): periods in ``unit``,
    no two neighbours alike. ``maximum`` is the EVSE's own limit in A per phase.

    A period starts on a whole second; where limits change within a second, that second
    takes the lowest of them, so that the schedule never allows more than a profile does."""
    if duration <= 0:
        raise ValueError("a composite schedule lasts at least a second")
    _check(maximum)
    sources = _Sources.of(installed, evse_id, start, transaction, supply)
    end = start + timedelta(seconds=duration)
    changes = sorted({(moment - start) // _MICROSECOND
                      for moment in sources.changes(start, end) if start < moment < end})
    seconds = sorted({0, *(change // _PER_SECOND for change in changes),
                      *(-(-change // _PER_SECOND) for change in changes)} - {duration})
    periods: list[SchedulePeriod] = []
    within = iter(changes)
    change = next(within, None)
    for first, following in zip(seconds, [*seconds[1:], duration]):
        value = sources.value_at(start + timedelta(seconds=first), unit, maximum)
        while change is not None and change < following * _PER_SECOND:
            if change > first * _PER_SECOND:
                value = value.stricter(sources.value_at(
                    start + change * _MICROSECOND, unit, maximum))
            change = next(within, None)
        period = value.period(first)
        if not periods or not _alike(periods[-1], period):
            periods.append(period)
    return CompositeSchedule(evse_id=evse_id, start=start, duration=duration, unit=unit,
                             periods=tuple(periods))


def limit_at(installed: Iterable[InstalledProfile], evse_id: int, at: datetime,
             unit: RateUnit, *, maximum: float, supply: Supply = NOMINAL_SUPPLY,
             transaction: Transaction | None = None) -> SchedulePeriod:
    """The composite's period in force at ``at`` (its start_period 0): what the EVSE may
    draw now, for a composite that starts now."""
    _check(maximum)
    sources = _Sources.of(installed, evse_id, at, transaction, supply)
    return sources.value_at(at, unit, maximum).period(0)


@dataclass(frozen=True, slots=True)
class _Source:
    """One installed profile as it bears on one composite: where its schedule starts, and
    from when until when it may lead."""

    profile: ChargingProfile
    # Higher leads: the stack level, then an EVSE's own profile over evse 0's.
    precedence: tuple[int, bool]
    anchor: datetime  # where the schedule starts (a Recurring one first)
    repeat: timedelta | None  # Recurring: the schedule starts again this long after
    counts_from: datetime | None
    counts_until: datetime | None
    starts: tuple[int, ...]  # the periods' starts, in microseconds from the anchor
    lasts: int | None  # the schedule's duration in microseconds; None: for ever

    @classmethod
    def of(cls, installed: InstalledProfile, origin: datetime,
           transaction: Transaction | None) -> "_Source":
        profile = installed.profile
        schedule = profile.schedule
        counts_from = profile.valid_from
        if profile.purpose is Purpose.TX and transaction is not None:
            counts_from = max(counts_from or transaction.started_at, transaction.started_at)
        repeat = None
        if profile.kind is not Kind.RELATIVE and schedule.start_schedule is not None:
            anchor = schedule.start_schedule
            if profile.kind is Kind.RECURRING and profile.recurrency is not None:
                repeat = _REPEATS[profile.recurrency]
        else:
            anchor = transaction.started_at if transaction is not None else origin
        return cls(profile=profile,
                   precedence=(profile.stack_level, installed.evse_id != STATION),
                   anchor=anchor, repeat=repeat, counts_from=counts_from,
                   counts_until=profile.valid_to,
                   starts=tuple(period.start_period * _PER_SECOND
                                for period in schedule.periods),
                   lasts=None if schedule.duration is None
                   else schedule.duration * _PER_SECOND)

    def anchor_at(self, at: datetime) -> datetime | None:
        """Where the schedule in force at ``at`` started: for a Recurring one, the latest
        repetition not after ``at``; None before the first."""
        if self.repeat is None:
            return self.anchor
        if at < self.anchor:
            return None
        return self.anchor + (at - self.anchor) // self.repeat * self.repeat

    def period_at(self, at: datetime) -> SchedulePeriod | None:
        if self.counts_from is not None and at < self.counts_from:
            return None
        if self.counts_until is not None and at >= self.counts_until:
            return None
        anchor = self.anchor_at(at)
        if anchor is None:
            return None
        elapsed = (at - anchor) // _MICROSECOND
        if elapsed < 0 or (self.lasts is not None and elapsed >= self.lasts):
            return None
        return self.profile.schedule.periods[bisect_right(self.starts, elapsed) - 1]

    def changes(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """The instants at which what this profile says may change, those between start
        and end among them."""
        yield from (moment for moment in (self.counts_from, self.counts_until)
                    if moment is not None)
        for anchor in self._anchors(start, end):
            yield from (anchor + offset * _MICROSECOND for offset in self.starts)
            if self.lasts is not None:
                yield anchor + self.lasts * _MICROSECOND

    def _anchors(self, start: datetime, end: datetime) -> Iterator[datetime]:
        if self.repeat is None:
            yield self.anchor
            return
        # From the repetition in force at start: earlier ones ended where it began.
        anchor = self.anchor + max(0, (start - self.anchor) // self.repeat) * self.repeat
        while anchor < end:
            yield anchor
            anchor += self.repeat


@dataclass(frozen=True, slots=True)
class _Value:
    """The composite at an instant: at most ``limit`` (in the composite's unit) on at most
    ``phases`` phases (None: as many as the supply has)."""

    limit: Fraction
    phases: int | None
    phase_to_use: int | None

    def stricter(self, other: "_Value") -> "_Value":
        """What keeps within both: for a second in which the composite changes."""
        phases = min((each for each in (self.phases, other.phases) if each is not None),
                     default=None)
        return _Value(min(self.limit, other.limit), phases,
                      self.phase_to_use if self.phase_to_use == other.phase_to_use else None)

    def period(self, start_period: int) -> SchedulePeriod:
        # Tenths, rounded down: a limit rounded up would allow more than a profile does.
        tenths = Fraction(floor(self.limit * 10), 10)
        return SchedulePeriod(start_period=start_period, limit=float(tenths),
                              number_phases=self.phases,
                              phase_to_use=self.phase_to_use if self.phases == 1 else None)


class _Stack(enum.Enum):
    """The stacks of an EVSE's composite: one profile of each leads at a time."""

    STATION_MAX = enum.auto()
    STATION_EXTERNAL = enum.auto()
    EVSE_EXTERNAL = enum.auto()
    TX = enum.auto()
    TX_DEFAULT = enum.auto()


@dataclass(frozen=True, slots=True)
class _Sources:
    """The profiles that bear on one composite, by stack, each ordered by precedence,
    highest first."""

    stacks: dict[_Stack, tuple[_Source, ...]]
    supply: Supply

    @classmethod
    def of(cls, installed: Iterable[InstalledProfile], evse_id: int, origin: datetime,
           transaction: Transaction | None, supply: Supply) -> "_Sources":
        stacks: dict[_Stack, list[_Source]] = {stack: [] for stack in _Stack}
        for each in installed:
            stack = _stack_of(each, evse_id, transaction)
            if stack is not None:
                stacks[stack].append(_Source.of(each, origin, transaction))
        return cls({stack: tuple(sorted(sources, key=lambda source: source.precedence,
                                        reverse=True))
                    for stack, sources in stacks.items()}, supply)

    def changes(self, start: datetime, end: datetime) -> Iterator[datetime]:
        for sources in self.stacks.values():
            for source in sources:
                yield from source.changes(start, end)

    def value_at(self, at: datetime, unit: RateUnit, maximum: float) -> _Value:
        leading = [self._leading(stack, at) for stack in (
            _Stack.STATION_MAX, _Stack.STATION_EXTERNAL, _Stack.EVSE_EXTERNAL)]
        leading.append(self._leading(_Stack.TX, at) or self._leading(_Stack.TX_DEFAULT, at))
        bounds = [each for each in leading if each is not None]
        said = [period.number_phases for period, _ in bounds
                if period.number_phases is not None]
        phases = min(*said, self.supply.phases) if said else None
        used = min(phases or DEFAULT_PHASES, self.supply.phases)
        limit = min([self._in(_exact(period.limit), source_unit, unit, used)
                     for period, source_unit in bounds]
                    + [self._in(_exact(maximum), RateUnit.AMPERES, unit, used)])
        single = {period.phase_to_use for period, _ in bounds
                  if period.number_phases == 1 and period.phase_to_use is not None}
        return _Value(limit, phases, single.pop() if len(single) == 1 else None)

    def _leading(self, stack: _Stack, at: datetime) -> tuple[SchedulePeriod, RateUnit] | None:
        """The period of the profile that leads the stack at ``at``, and its unit. Two of
        equal precedence should not be (the specs have the later replace the earlier);
        should they be, the lower limit leads, in whatever order they were given."""
        found: tuple[SchedulePeriod, RateUnit] | None = None
        found_precedence: tuple[int, bool] | None = None
        found_rank: tuple[Fraction, str, int, int] | None = None
        for source in self.stacks[stack]:
            if found_precedence is not None and source.precedence < found_precedence:
                break
            period = source.period_at(at)
            if period is None:
                continue
            source_unit = source.profile.schedule.unit
            phases = min(period.number_phases or DEFAULT_PHASES, self.supply.phases)
            # All that the period says at this instant, the lowest limit first.
            rank = (self._in(_exact(period.limit), source_unit, RateUnit.AMPERES, phases),
                    source_unit.value, period.number_phases or 0, period.phase_to_use or 0)
            if found_rank is None or rank < found_rank:
                found, found_precedence, found_rank = ((period, source_unit),
                                                       source.precedence, rank)
        return found

    def _in(self, limit: Fraction, given: RateUnit, wanted: RateUnit, phases: int
            ) -> Fraction:
        if given is wanted:
            return limit
        watts_per_ampere = _exact(self.supply.voltage) * phases
        return (limit * watts_per_ampere if wanted is RateUnit.WATTS
                else limit / watts_per_ampere)


def _stack_of(installed: InstalledProfile, evse_id: int, transaction: Transaction | None
              ) -> _Stack | None:
    """Which stack of ``evse_id``'s composite a profile joins; None where it bears on none."""
    profile, on = installed.profile, installed.evse_id
    match profile.purpose:
        case Purpose.STATION_MAX:
            return _Stack.STATION_MAX if on == STATION else None
        case Purpose.EXTERNAL if on == STATION:
            return _Stack.STATION_EXTERNAL
        case Purpose.EXTERNAL:
            return _Stack.EVSE_EXTERNAL if on == evse_id else None
        case Purpose.TX_DEFAULT:
            return (_Stack.TX_DEFAULT if evse_id != STATION and on in (STATION, evse_id)
                    else None)
        case Purpose.TX:
            runs = transaction is not None and profile.transaction_id in (
                None, transaction.transaction_id)
            return _Stack.TX if runs and on == evse_id != STATION else None
    return None


def _check(maximum: float) -> None:
    if not (isfinite(maximum) and maximum >= 0):
        raise ValueError(f"an EVSE's maximum is a number of amperes, not {maximum}")


def _exact(number: float) -> Fraction:
    """The decimal a float was written as (8.1, not 8.0999...): limits are given in tenths,
    and rounding down the float's binary error would take a tenth off."""
    return Fraction(repr(number))


def _alike(earlier: SchedulePeriod, later: SchedulePeriod) -> bool:
    return (earlier.limit, earlier.number_phases, earlier.phase_to_use) == (
        later.limit, later.number_phases, later.phase_to_use)
