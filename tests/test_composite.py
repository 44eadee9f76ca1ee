"""The composite schedule (chargebus.domain.composite): the specs' own examples, the
properties any composite keeps (drawn at random), and the edges of time, units and
stacking. Pure: no process, no clock; every time counts from a fixed Monday."""
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chargebus.domain.composite import (CompositeSchedule, Supply, Transaction,
                                        composite_schedule, limit_at)
from chargebus.domain.profiles import (ChargingProfile, ChargingSchedule, InstalledProfile,
                                       Kind, Purpose, RateUnit, Recurrency, SchedulePeriod)

MONDAY = datetime(2030, 1, 7, tzinfo=UTC)  # 00:00 UTC, a Monday
HOUR = 3600
DAY = 24 * HOUR
A, W = RateUnit.AMPERES, RateUnit.WATTS
TX_ID = "T1"
_ids = itertools.count(1)


def at(seconds: float) -> datetime:
    return MONDAY + timedelta(seconds=seconds)


def profile(purpose: Purpose, *periods: tuple, level: int = 0, kind: Kind = Kind.ABSOLUTE,
            unit: RateUnit = A, start: datetime | None = None, duration: int | None = None,
            recurrency: Recurrency | None = None, valid_from: datetime | None = None,
            valid_to: datetime | None = None, transaction_id: str | None = None
            ) -> ChargingProfile:
    """A profile of ``periods`` (start, limit[, phases[, phase to use]]); an Absolute one
    starts on MONDAY unless told."""
    if start is None and kind is Kind.ABSOLUTE:
        start = MONDAY
    return ChargingProfile(
        profile_id=next(_ids), stack_level=level, purpose=purpose, kind=kind,
        recurrency=recurrency, valid_from=valid_from, valid_to=valid_to,
        transaction_id=transaction_id,
        schedule=ChargingSchedule(
            unit=unit, start_schedule=start, duration=duration, periods=tuple(
                SchedulePeriod(start_period=each[0], limit=each[1],
                               number_phases=each[2] if len(each) > 2 else None,
                               phase_to_use=each[3] if len(each) > 3 else None)
                for each in periods)))


def on(evse_id: int, *profiles: ChargingProfile) -> list[InstalledProfile]:
    return [InstalledProfile(evse_id=evse_id, profile=each) for each in profiles]


def limits(schedule: CompositeSchedule) -> list[tuple[int, float]]:
    return [(period.start_period, period.limit) for period in schedule.periods]


def phased(schedule: CompositeSchedule) -> list[tuple[int, float, int | None]]:
    return [(period.start_period, period.limit, period.number_phases)
            for period in schedule.periods]


def composite(installed, seconds: int, unit: RateUnit = A, *, evse_id: int = 1,
              start: datetime = MONDAY, maximum: float = 32.0, **options) -> CompositeSchedule:
    return composite_schedule(installed, evse_id, start, seconds, unit, maximum=maximum,
                              **options)


def running(started: datetime = MONDAY) -> Transaction:
    return Transaction(transaction_id=TX_ID, started_at=started)


# -- the specs' examples ---------------------------------------------------------------

def daily_6kw_by_day() -> ChargingProfile:
    return profile(Purpose.TX_DEFAULT, (0, 11000.0, 3), (28800, 6000.0, 3),
                   (72000, 11000.0, 3), kind=Kind.RECURRING, recurrency=Recurrency.DAILY,
                   start=datetime(2013, 1, 1, tzinfo=UTC), duration=86400, unit=W)


def test_ocpp16_3_13_7_a_daily_default_profile_limits_the_day_to_6_kw():
    """OCPP 1.6 edition 2, 3.13.7 "Example data structure for smart charging": a daily
    TxDefaultProfile (id 100, stack level 0, from 2013-01-01T00:00Z, 86400 s) of 11 kW,
    6 kW from 08:00 and 11 kW from 20:00, on 3 phases, set on connector 0."""
    installed = on(0, daily_6kw_by_day())
    assert phased(composite(installed, 2 * DAY, W)) == [
        (0, 11000.0, 3), (8 * HOUR, 6000.0, 3), (20 * HOUR, 11000.0, 3),
        (32 * HOUR, 6000.0, 3), (44 * HOUR, 11000.0, 3)]
    # Per phase at 230 V: 11000 / 690 = 15.94 and 6000 / 690 = 8.69, rounded down.
    assert phased(composite(installed, DAY, A)) == [
        (0, 15.9, 3), (8 * HOUR, 8.6, 3), (20 * HOUR, 15.9, 3)]
    # Connector 0's TxDefaultProfile is every connector's.
    assert limits(composite(installed, 2 * HOUR, W, evse_id=2, start=at(7 * HOUR))) == [
        (0, 11000.0), (HOUR, 6000.0)]


def test_ocpp16_3_13_2_a_weekly_calendar_with_a_holiday_on_top():
    """OCPP 1.6 edition 2, 3.13.2 "Stacking charging profiles" (its figure is not in the
    text found; the case is built from the text): a TxDefaultProfile "with a duration and
    recurrence of one week that allows full power or current charging on weekdays from
    23:00h to 06:00h and from 00:00h to 24:00h in weekends and reduced power or current
    charging at other times", and on top of it another TxDefaultProfile for a holiday."""
    weekdays = [((day * DAY + 6 * HOUR), 10.0) for day in range(5)]
    evenings = [((day * DAY + 23 * HOUR), 32.0) for day in range(5)]
    week = profile(Purpose.TX_DEFAULT, (0, 32.0), *sorted(weekdays + evenings),
                   kind=Kind.RECURRING, recurrency=Recurrency.WEEKLY, start=MONDAY,
                   duration=7 * DAY)
    holiday = profile(Purpose.TX_DEFAULT, (0, 32.0), level=1, start=at(2 * DAY),
                      duration=DAY)
    installed = on(0, week, holiday)
    assert limits(composite(installed, 7 * DAY)) == [
        (0, 32.0), (6 * HOUR, 10.0), (23 * HOUR, 32.0), (30 * HOUR, 10.0),
        (47 * HOUR, 32.0),  # Wednesday is the holiday: full all day
        (78 * HOUR, 10.0), (95 * HOUR, 32.0), (102 * HOUR, 10.0), (119 * HOUR, 32.0)]
    # A week later the holiday is over, the calendar is not.
    assert limits(composite(installed, DAY, start=at(9 * DAY))) == [
        (0, 32.0), (6 * HOUR, 10.0), (23 * HOUR, 32.0)]


def test_ocpp16_3_13_2_a_profile_valid_from_later_leaves_the_default_until_then():
    """OCPP 1.6 edition 2, 3.13.2: a profile replaced by one "with a validFrom dateTime in
    the future" leaves the Charge Point at "default behavior until validFrom is reached":
    no limit but the EVSE's own."""
    replacement = profile(Purpose.TX_DEFAULT, (0, 10.0), valid_from=at(HOUR))
    assert limits(composite(on(1, replacement), 2 * HOUR)) == [(0, 32.0), (HOUR, 10.0)]


def test_ocpp16_3_13_2_the_highest_stack_level_without_duration_never_falls_back():
    """OCPP 1.6 edition 2, 3.13.2: "If you use Stacking without a duration, on the highest
    stack level, the Charge Point will never fall back to a lower stack level profile";
    with a duration it does, once that is over."""
    lower = profile(Purpose.TX_DEFAULT, (0, 16.0))
    assert limits(composite(on(1, lower, profile(Purpose.TX_DEFAULT, (0, 6.0), level=1)),
                            7 * DAY)) == [(0, 6.0)]
    assert limits(composite(on(1, lower, profile(Purpose.TX_DEFAULT, (0, 6.0), level=1,
                                                 duration=HOUR)), 7 * DAY)) == [
        (0, 6.0), (HOUR, 16.0)]


def test_ocpp16_3_13_3_the_composite_takes_the_lowest_of_the_purposes():
    """OCPP 1.6 edition 2, 3.13.3 "Combining charging profile purposes": the minimum of
    ChargePointMaxProfile and TxDefaultProfile (or TxProfile) for each interval, the
    intervals of different lengths; 3.13.1: a TxProfile overrules the TxDefaultProfile
    for the duration of its transaction."""
    station_max = profile(Purpose.STATION_MAX, (0, 20.0), (2 * HOUR, 10.0))
    default = profile(Purpose.TX_DEFAULT, (0, 16.0), (HOUR, 25.0), (3 * HOUR, 8.0))
    installed = on(0, station_max) + on(1, default)
    assert limits(composite(installed, 4 * HOUR)) == [
        (0, 16.0), (HOUR, 20.0), (2 * HOUR, 10.0), (3 * HOUR, 8.0)]
    tx = profile(Purpose.TX, (0, 30.0), transaction_id=TX_ID)
    assert limits(composite(installed + on(1, tx), 4 * HOUR, transaction=running())) == [
        (0, 20.0), (2 * HOUR, 10.0)]


def test_ocpp16_3_13_1_a_connectors_own_default_replaces_connector_0s_there_only():
    """OCPP 1.6 edition 2, 3.13.1: with a TxDefaultProfile on connector 0, one sent for a
    connector replaces it "only for that specific connector" (here at the same stack
    level, which 3.13.2 has replace)."""
    installed = on(0, profile(Purpose.TX_DEFAULT, (0, 16.0))) + on(
        1, profile(Purpose.TX_DEFAULT, (0, 10.0)))
    assert limits(composite(installed, HOUR, evse_id=1)) == [(0, 10.0)]
    assert limits(composite(installed, HOUR, evse_id=2)) == [(0, 16.0)]


def test_ocpp201_part2_example_profiles_stacked():
    """OCPP 2.0.1 Part 2 edition 2, the example profiles of pages 240 and 241 (their text
    was not found; the case is built as EVerest libocpp's tests/lib/ocpp/v2/json/baseline
    has them, "based on" those pages): a daily TxProfile of 11 kW, 6 kW from 08:00 and
    11 kW from 20:00 on 3 phases at stack level 0, and at stack level 1 a daily one of
    2 kW on 1 phase from 18:00 for 1080 s."""
    day = profile(Purpose.TX, (0, 11000.0, 3), (28800, 6000.0, 3), (72000, 11000.0, 3),
                  kind=Kind.RECURRING, recurrency=Recurrency.DAILY, unit=W,
                  start=datetime(2023, 1, 17, tzinfo=UTC), duration=86400,
                  transaction_id=TX_ID)
    evening = profile(Purpose.TX, (0, 2000.0, 1), level=1, kind=Kind.RECURRING,
                      recurrency=Recurrency.DAILY, unit=W,
                      start=datetime(2024, 1, 17, 18, tzinfo=UTC), duration=1080,
                      transaction_id=TX_ID)
    installed = on(1, day, evening)
    assert phased(composite(installed, 16 * HOUR, W, start=at(18 * HOUR), maximum=63.0,
                            transaction=running())) == [
        (0, 2000.0, 1), (1080, 6000.0, 3), (2 * HOUR, 11000.0, 3), (14 * HOUR, 6000.0, 3)]


def test_ocpp201_a_default_on_evse_0_stacks_with_an_evses_own_by_stack_level():
    """OCPP 2.0.1 Part 2, SetChargingProfileRequest.evseId: "For TxDefaultProfile an
    evseId=0 applies the profile to each individual evse"; K01.FR.52 and K01.FR.53 keep an
    EVSE's own and evse 0's from sharing a stack level, so the higher leads, wherever it
    was set (as in EVerest libocpp's composite)."""
    station_wide = profile(Purpose.TX_DEFAULT, (0, 16.0), level=1)
    own_below = profile(Purpose.TX_DEFAULT, (0, 10.0), level=0)
    assert limits(composite(on(0, station_wide) + on(1, own_below), HOUR)) == [(0, 16.0)]
    own_above = profile(Purpose.TX_DEFAULT, (0, 10.0), level=2, duration=HOUR)
    installed = on(0, station_wide) + on(1, own_above)
    assert limits(composite(installed, 2 * HOUR, evse_id=1)) == [(0, 10.0), (HOUR, 16.0)]
    assert limits(composite(installed, 2 * HOUR, evse_id=2)) == [(0, 16.0)]


def test_ocpp201_external_constraints_on_evse_0_limit_the_whole_station():
    """OCPP 2.0.1 Part 2, SetChargingProfileRequest.evseId: "For ChargingStationMaxProfile
    and ChargingStationExternalConstraints an evseId=0 contains an overal limit for the
    whole Charging Station"; GetCompositeScheduleRequest.evseId 0 asks for the grid
    connection's."""
    installed = (on(0, profile(Purpose.STATION_MAX, (0, 25.0)),
                    profile(Purpose.EXTERNAL, (0, 20.0), (HOUR, 30.0)),
                    profile(Purpose.TX_DEFAULT, (0, 6.0)))
                 + on(1, profile(Purpose.EXTERNAL, (0, 12.0))))
    assert limits(composite(installed, 2 * HOUR, evse_id=1)) == [(0, 6.0)]
    assert limits(composite(installed, 2 * HOUR, evse_id=0, maximum=63.0)) == [
        (0, 20.0), (HOUR, 25.0)]
    external_only = [each for each in installed
                     if each.profile.purpose is not Purpose.TX_DEFAULT]
    assert limits(composite(external_only, 2 * HOUR, evse_id=1)) == [(0, 12.0)]
    assert limits(composite(external_only, 2 * HOUR, evse_id=2)) == [(0, 20.0), (HOUR, 25.0)]


# -- properties -------------------------------------------------------------------------

UNLIMITED = 1_000_000.0  # amperes: above every limit drawn, in either unit
SUPPLIES = st.builds(Supply, voltage=st.sampled_from([230.0, 120.0, 400.0]),
                     phases=st.integers(1, 3))


def moments(whole_seconds: bool = False) -> st.SearchStrategy[datetime]:
    """Instants within two days of MONDAY, now and then off the whole second."""
    fraction = st.just(0) if whole_seconds else st.integers(0, 999_999) | st.just(0)
    return st.builds(lambda seconds, micro: at(seconds) + timedelta(microseconds=micro),
                     st.integers(-2 * DAY, 2 * DAY), fraction)


@st.composite
def profiles(draw, purpose: Purpose, whole_seconds: bool = False) -> ChargingProfile:
    unit = draw(st.sampled_from(RateUnit))
    tenths = st.integers(0, 800 if unit is A else 400_000).map(lambda each: each / 10)
    starts = sorted(draw(st.sets(st.integers(1, 12 * HOUR), max_size=3)))
    periods = tuple(SchedulePeriod(start_period=start, limit=draw(tenths),
                                   number_phases=draw(st.none() | st.integers(1, 3)))
                    for start in (0, *starts))
    kind = draw(st.sampled_from(Kind))
    when = moments(whole_seconds)
    start = (draw(when) if kind is Kind.RECURRING
             else draw(st.none() | when) if kind is Kind.ABSOLUTE else None)
    valid_from, valid_to = draw(st.none() | when), draw(st.none() | when)
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        valid_to = None
    return ChargingProfile(
        profile_id=draw(st.integers(1, 1000)), stack_level=draw(st.integers(0, 3)),
        purpose=purpose, kind=kind,
        recurrency=draw(st.sampled_from(Recurrency)) if kind is Kind.RECURRING else None,
        valid_from=valid_from, valid_to=valid_to,
        transaction_id=draw(st.sampled_from([None, TX_ID, "T2"])) if purpose is Purpose.TX
        else None,
        schedule=ChargingSchedule(unit=unit, periods=periods, start_schedule=start,
                                  duration=draw(st.none() | st.integers(1, 30 * HOUR))))


def installed_profiles(whole_seconds: bool = False) -> st.SearchStrategy[InstalledProfile]:
    return st.sampled_from(Purpose).flatmap(lambda purpose: st.builds(
        InstalledProfile, evse_id=st.sampled_from([0, 1, 2]),
        profile=profiles(purpose, whole_seconds)))


@st.composite
def one_per_stack(draw) -> list[InstalledProfile]:
    """At most one profile in each stack of EVSE 1's composite: then each that has a
    period in force limits the composite (a TxDefaultProfile only while no TxProfile
    does)."""
    stacks = [(Purpose.STATION_MAX, 0), (Purpose.EXTERNAL, 0), (Purpose.EXTERNAL, 1),
              (Purpose.TX_DEFAULT, draw(st.sampled_from([0, 1]))), (Purpose.TX, 1)]
    return [InstalledProfile(evse_id=evse_id, profile=draw(profiles(purpose)))
            for purpose, evse_id in stacks if draw(st.booleans())]


def windows() -> st.SearchStrategy[tuple[datetime, int]]:
    return st.tuples(moments(), st.integers(1, 2 * DAY))


def in_unit(limit: float, given: RateUnit, wanted: RateUnit, voltage: float, phases: int
            ) -> float:
    if given is wanted:
        return limit
    return limit * voltage * phases if wanted is W else limit / (voltage * phases)


def period_in_force(schedule: CompositeSchedule, moment: datetime) -> SchedulePeriod:
    elapsed = (moment - schedule.start).total_seconds()
    return [period for period in schedule.periods if period.start_period <= elapsed][-1]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(installed=one_per_stack(), window=windows(), unit=st.sampled_from(RateUnit),
       supply=SUPPLIES, maximum=st.integers(0, 800).map(lambda each: each / 10),
       started=moments(), samples=st.lists(st.floats(0, 1, exclude_max=True), max_size=20))
def test_the_composite_never_exceeds_a_limit_in_force(installed, window, unit, supply,
                                                      maximum, started, samples):
    start, duration = window
    transaction = running(started)
    schedule = composite(installed, duration, unit, start=start, maximum=maximum,
                         supply=supply, transaction=transaction)
    starts = [period.start_period for period in schedule.periods]
    assert starts[0] == 0 and starts == sorted(set(starts)) and starts[-1] < duration
    for earlier, later in itertools.pairwise(schedule.periods):
        assert (earlier.limit, earlier.number_phases) != (later.limit, later.number_phases)
    # Each period's first and last microsecond: a limit that changes within a second is
    # kept from that second's start.
    instants = [start + timedelta(seconds=each) for each in starts]
    instants += [start + timedelta(seconds=each, microseconds=-1) for each in (*starts[1:],
                                                                              duration)]
    instants += [start + timedelta(seconds=duration * each) for each in samples]
    for moment in instants:
        period = period_in_force(schedule, moment)
        assert period.limit * 10 == pytest.approx(round(period.limit * 10))
        phases = min(period.number_phases or 3, supply.phases)
        assert in_unit(period.limit, unit, A, supply.voltage, phases) <= maximum + 1e-9
        alone = {}
        for each in installed:
            own_unit = each.profile.schedule.unit
            found = limit_at([each], 1, moment, own_unit, maximum=UNLIMITED, supply=supply,
                             transaction=transaction)
            if found.limit < 100_000:
                alone[each.profile.purpose, each.evse_id] = found, own_unit
        applicable = [found for (purpose, _), found in alone.items()
                      if purpose is not Purpose.TX_DEFAULT
                      or (Purpose.TX, 1) not in alone]
        for found, own_unit in applicable:
            assert in_unit(period.limit, unit, own_unit, supply.voltage, phases) <= \
                found.limit * (1 + 1e-12)
            if found.number_phases is not None:
                assert period.number_phases is not None
                assert period.number_phases <= found.number_phases


def same_stack(installed: InstalledProfile, top: InstalledProfile) -> bool:
    """Whether ``installed`` is in the stack ``top`` leads for EVSE 1: external
    constraints stack apart for the station and each EVSE, the rest by purpose."""
    if installed.profile.purpose is not top.profile.purpose:
        return False
    return top.profile.purpose is not Purpose.EXTERNAL or installed.evse_id == top.evse_id


@st.composite
def tops(draw, installed: list[InstalledProfile]) -> InstalledProfile:
    """A profile above every other of its purpose, in force over the whole window."""
    purpose = draw(st.sampled_from(Purpose))
    fixed = {Purpose.STATION_MAX: 0, Purpose.TX: 1}
    evse_id = fixed[purpose] if purpose in fixed else draw(st.sampled_from([0, 1]))
    level = 1 + max((each.profile.stack_level for each in installed
                     if each.profile.purpose is purpose), default=0)
    unit = draw(st.sampled_from(RateUnit))
    limit = draw(st.integers(0, 800 if unit is A else 400_000)) / 10
    top = profile(purpose, (0, limit, draw(st.none() | st.integers(1, 3))), level=level,
                  unit=unit, start=at(-3 * DAY),
                  transaction_id=TX_ID if purpose is Purpose.TX else None)
    return InstalledProfile(evse_id=evse_id, profile=top)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), window=windows(), unit=st.sampled_from(RateUnit), supply=SUPPLIES,
       started=moments())
def test_a_profile_above_all_of_its_purpose_makes_the_purposes_limit(data, window, unit,
                                                                      supply, started):
    installed = data.draw(st.lists(installed_profiles(), max_size=8))
    top = data.draw(tops(installed))
    start, duration = window
    options = {"start": start, "maximum": 40.0, "supply": supply,
               "transaction": running(started)}
    others = [each for each in installed if not same_stack(each, top)]
    assert composite([*installed, top], duration, unit, **options) == composite(
        [*others, top], duration, unit, **options)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orders=st.lists(installed_profiles(), max_size=8).flatmap(
           lambda installed: st.tuples(st.just(installed), st.permutations(installed))),
       window=windows(), unit=st.sampled_from(RateUnit), supply=SUPPLIES,
       transaction=st.none() | moments().map(running), evse_id=st.sampled_from([0, 1]))
def test_the_order_of_the_profiles_does_not_matter(orders, window, unit, supply,
                                                   transaction, evse_id):
    start, duration = window
    given_order, shuffled = orders
    options = {"evse_id": evse_id, "start": start, "supply": supply,
               "transaction": transaction}
    assert composite(given_order, duration, unit, **options) == composite(
        shuffled, duration, unit, **options)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(installed=st.lists(installed_profiles(whole_seconds=True), max_size=6),
       start=moments(whole_seconds=True), duration=st.integers(1, 2 * DAY),
       unit=st.sampled_from(RateUnit), started=moments(whole_seconds=True),
       samples=st.lists(st.integers(0, 2 * DAY - 1), max_size=10))
def test_limit_at_is_the_composites_period_at_that_instant(installed, start, duration, unit,
                                                           started, samples):
    """Whole seconds, and a transaction (which Relative schedules start with, wherever the
    composite starts)."""
    transaction = running(started)
    schedule = composite(installed, duration, unit, start=start, transaction=transaction)
    for moment in (start + timedelta(seconds=each % duration) for each in samples):
        now = limit_at(installed, 1, moment, unit, maximum=32.0, transaction=transaction)
        in_force = period_in_force(schedule, moment)
        assert (now.limit, now.number_phases) == (in_force.limit, in_force.number_phases)


# -- edges --------------------------------------------------------------------------------

def test_a_daily_profile_across_midnight():
    base = profile(Purpose.TX_DEFAULT, (0, 32.0))
    nightly = profile(Purpose.TX_DEFAULT, (0, 10.0), (2 * HOUR, 16.0), level=1,
                      kind=Kind.RECURRING, recurrency=Recurrency.DAILY, start=at(22 * HOUR),
                      duration=8 * HOUR)
    assert limits(composite(on(1, base, nightly), 2 * DAY, start=at(20 * HOUR))) == [
        (0, 32.0), (2 * HOUR, 10.0), (4 * HOUR, 16.0), (10 * HOUR, 32.0),
        (26 * HOUR, 10.0), (28 * HOUR, 16.0), (34 * HOUR, 32.0)]


def test_a_daily_period_ends_where_the_next_day_begins_again():
    endless = profile(Purpose.TX_DEFAULT, (0, 10.0), (20 * HOUR, 20.0), kind=Kind.RECURRING,
                      recurrency=Recurrency.DAILY, start=MONDAY)
    assert limits(composite(on(1, endless), 2 * DAY)) == [
        (0, 10.0), (20 * HOUR, 20.0), (DAY, 10.0), (44 * HOUR, 20.0)]


def test_a_recurring_profile_does_not_reach_back_before_its_start():
    later = profile(Purpose.TX_DEFAULT, (0, 10.0), kind=Kind.RECURRING,
                    recurrency=Recurrency.DAILY, start=at(DAY + 6 * HOUR), duration=HOUR)
    assert limits(composite(on(1, later), 2 * DAY)) == [
        (0, 32.0), (30 * HOUR, 10.0), (31 * HOUR, 32.0)]
    assert limit_at(on(1, later), 1, at(6.5 * HOUR), A, maximum=32.0).limit == 32.0


def test_a_weekly_profile_comes_back_on_the_same_day_of_the_week():
    mondays = profile(Purpose.TX_DEFAULT, (0, 8.0), kind=Kind.RECURRING,
                      recurrency=Recurrency.WEEKLY, start=at(8 * HOUR), duration=HOUR)
    assert limits(composite(on(1, mondays), 14 * DAY)) == [
        (0, 32.0), (8 * HOUR, 8.0), (9 * HOUR, 32.0), (7 * DAY + 8 * HOUR, 8.0),
        (7 * DAY + 9 * HOUR, 32.0)]


def test_a_relative_profile_starts_with_the_transaction():
    ramp = on(1, profile(Purpose.TX_DEFAULT, (0, 6.0), (600, 16.0), kind=Kind.RELATIVE))
    assert limits(composite(ramp, HOUR, transaction=running(at(-300)))) == [
        (0, 6.0), (300, 16.0)]
    assert limits(composite(ramp, HOUR, transaction=running(at(900)))) == [
        (0, 32.0), (900, 6.0), (1500, 16.0)]


def test_a_relative_profile_without_a_transaction_starts_with_the_composite():
    """2.0.1 ChargingProfileKindEnumType Relative: the periods "start when the EVSE is ready
    to deliver energy": an EV plugged in when the composite starts."""
    ramp = on(1, profile(Purpose.TX_DEFAULT, (0, 6.0), (600, 16.0), kind=Kind.RELATIVE))
    assert limits(composite(ramp, HOUR)) == [(0, 6.0), (600, 16.0)]
    assert limits(composite(ramp, HOUR, start=at(5 * DAY + 17))) == [(0, 6.0), (600, 16.0)]
    assert limit_at(ramp, 1, at(3 * DAY), A, maximum=32.0).limit == 6.0


def test_an_absolute_profile_without_start_schedule_is_relative_to_the_start_of_charging():
    """OCPP 1.6 7.13 (and 2.0.1 ChargingScheduleType) startSchedule: "If absent the schedule
    will be relative to start of charging"."""
    undated = on(1, profile(Purpose.TX_DEFAULT, (0, 6.0), (600, 16.0)).model_copy(
        update={"schedule": ChargingSchedule(unit=A, periods=(
            SchedulePeriod(start_period=0, limit=6.0),
            SchedulePeriod(start_period=600, limit=16.0)))}))
    assert limits(composite(undated, HOUR, transaction=running(at(-300)))) == [
        (0, 6.0), (300, 16.0)]


def test_watts_and_amperes_convert_on_the_periods_phases():
    three = on(1, profile(Purpose.TX_DEFAULT, (0, 11000.0, 3), unit=W))
    assert phased(composite(three, HOUR, A)) == [(0, 15.9, 3)]
    single = on(1, profile(Purpose.TX_DEFAULT, (0, 16.0, 1)))
    assert phased(composite(single, HOUR, W)) == [(0, 3680.0, 1)]
    unsaid = on(1, profile(Purpose.TX_DEFAULT, (0, 16.0)))
    assert phased(composite(unsaid, HOUR, W)) == [(0, 11040.0, None)]
    assert phased(composite(unsaid, HOUR, W, supply=Supply(voltage=120.0, phases=1))) == [
        (0, 1920.0, None)]
    assert phased(composite(three, HOUR, A, maximum=63.0, supply=Supply(phases=1))) == [
        (0, 47.8, 1)]


def test_the_fewest_phases_allowed_carry_the_watts():
    """A station maximum on one phase: the TxDefaultProfile's 6900 W on that one phase is
    30 A, above the maximum's 20 A."""
    installed = on(0, profile(Purpose.STATION_MAX, (0, 20.0, 1, 2))) + on(
        1, profile(Purpose.TX_DEFAULT, (0, 6900.0, 3), unit=W))
    assert composite(installed, HOUR, A).periods == (
        SchedulePeriod(start_period=0, limit=20.0, number_phases=1, phase_to_use=2),)
    assert phased(composite(installed, HOUR, W)) == [(0, 4600.0, 1)]


def test_without_profiles_the_maximum_is_the_limit():
    assert phased(composite([], HOUR, A, maximum=16.0)) == [(0, 16.0, None)]
    assert phased(composite([], HOUR, W, maximum=16.0)) == [(0, 11040.0, None)]


def test_limits_are_rounded_down_to_tenths():
    installed = on(1, profile(Purpose.TX_DEFAULT, (0, 6000.0), (HOUR, 8.1), unit=W),
                   profile(Purpose.EXTERNAL, (0, 8.1), (HOUR, 7.99)))
    # 6000 W / 690 = 8.695... A; 8.1 A stays 8.1 though the float is 8.0999...
    assert limits(composite(installed, 2 * HOUR, A)) == [(0, 8.1), (HOUR, 0.0)]
    assert limits(composite(installed[1:], 2 * HOUR, A)) == [(0, 8.1), (HOUR, 7.9)]
    assert limits(composite(installed[:1], HOUR, A)) == [(0, 8.6)]


def test_a_profile_past_its_duration_gives_way_to_a_lower_one():
    installed = on(1, profile(Purpose.TX_DEFAULT, (0, 16.0)),
                   profile(Purpose.TX_DEFAULT, (0, 8.0), (300, 10.0), level=1, duration=600))
    assert limits(composite(installed, HOUR)) == [(0, 8.0), (300, 10.0), (600, 16.0)]


def test_valid_from_and_valid_to_bound_a_profile():
    installed = on(1, profile(Purpose.TX_DEFAULT, (0, 16.0)),
                   profile(Purpose.TX_DEFAULT, (0, 8.0), level=1, valid_from=at(300),
                           valid_to=at(900)))
    assert limits(composite(installed, HOUR)) == [(0, 16.0), (300, 8.0), (900, 16.0)]
    assert limit_at(installed, 1, at(899), A, maximum=32.0).limit == 8.0
    assert limit_at(installed, 1, at(900), A, maximum=32.0).limit == 16.0


def test_a_tx_profile_limits_its_own_transaction_while_it_runs():
    default = profile(Purpose.TX_DEFAULT, (0, 16.0))
    named = profile(Purpose.TX, (0, 6.0), transaction_id=TX_ID)
    unnamed = profile(Purpose.TX, (0, 6.0))
    other = profile(Purpose.TX, (0, 6.0), transaction_id="T2")
    for tx, transaction, expected in [
            (named, running(), [(0, 6.0)]), (unnamed, running(), [(0, 6.0)]),
            (other, running(), [(0, 16.0)]), (named, None, [(0, 16.0)]),
            (unnamed, None, [(0, 16.0)]), (named, running(at(600)), [(0, 16.0), (600, 6.0)])]:
        assert limits(composite(on(1, default, tx), HOUR, transaction=transaction)) == expected
    assert limits(composite(on(1, default) + on(2, named), HOUR,
                            transaction=running())) == [(0, 16.0)]


def test_profiles_that_bear_on_nothing_count_for_nothing():
    installed = (on(1, profile(Purpose.STATION_MAX, (0, 6.0)))  # only ever set on evse 0
                 + on(2, profile(Purpose.TX_DEFAULT, (0, 6.0)),
                      profile(Purpose.EXTERNAL, (0, 6.0)))
                 + on(0, profile(Purpose.TX, (0, 6.0))))
    assert limits(composite(installed, HOUR, transaction=running())) == [(0, 32.0)]
    station = on(0, profile(Purpose.TX_DEFAULT, (0, 6.0))) + on(
        1, profile(Purpose.EXTERNAL, (0, 6.0)), profile(Purpose.TX, (0, 6.0)))
    assert limits(composite(station, HOUR, evse_id=0, transaction=running())) == [(0, 32.0)]


def test_of_two_profiles_alike_in_precedence_the_lower_limit_leads():
    """1.6 3.13.2 lets no two share a purpose and stack level (the later replaces the
    earlier); should a record hold two, the answer does not depend on their order."""
    pair = [profile(Purpose.TX_DEFAULT, (0, 16.0), level=1),
            profile(Purpose.TX_DEFAULT, (0, 3000.0, 1), level=1, unit=W)]
    for ordered in (pair, pair[::-1]):
        assert phased(composite(on(1, *ordered), HOUR)) == [(0, 13.0, 1)]


def test_a_second_in_which_a_limit_changes_takes_the_lowest():
    ramp = on(1, profile(Purpose.TX_DEFAULT, (0, 16.0), (10, 6.0), kind=Kind.RELATIVE))
    transaction = running(at(0.5))
    assert limits(composite(ramp, 60, transaction=transaction)) == [(0, 16.0), (10, 6.0)]
    assert limit_at(ramp, 1, at(10.2), A, maximum=32.0, transaction=transaction).limit == 16.0
    assert limit_at(ramp, 1, at(0.2), A, maximum=32.0, transaction=transaction).limit == 32.0


def test_neighbours_alike_are_one_period():
    installed = on(1, profile(Purpose.TX_DEFAULT, (0, 16.0), (HOUR, 16.0), (2 * HOUR, 20.0)))
    assert limits(composite(installed, 3 * HOUR, maximum=16.0)) == [(0, 16.0)]
    assert composite(installed, 3 * HOUR).periods[-1] == SchedulePeriod(
        start_period=2 * HOUR, limit=20.0)


def test_a_composite_needs_a_duration_and_a_maximum():
    with pytest.raises(ValueError):
        composite([], 0)
    with pytest.raises(ValueError):
        composite([], HOUR, maximum=-1.0)
    with pytest.raises(ValueError):
        limit_at([], 1, MONDAY, A, maximum=float("inf"))
    with pytest.raises(ValueError):
        Supply(phases=4)
