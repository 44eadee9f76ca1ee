"""The load manager's allocation rule without I/O: worked sites whose shares are known, then
random sites and cars (nested groups, one and three phases, limits in A and in W) held to
what the rule promises: no group phase over its capacity, every car within its bounds, the
queue in order, nothing left unused that a car could take, and the same answer whatever
the order the cars are given in."""
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chargebus.domain.allocation import LEND_MARGIN, Allocation, Demand, allocate
from chargebus.domain.topology import Evse, Group, Phase, Site

L1, L2, L3 = Phase.L1, Phase.L2, Phase.L3
BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # the rule takes the times; none is read
EPSILON = 1e-9


def _site(*groups: Group, evses) -> Site:
    return Site(site_id=groups[0].group_id, groups=groups, evses=tuple(evses))


def _evse(station: str, group: str = "S", **fields) -> Evse:
    return Evse(station_id=station, evse_id=1, group_id=group, **fields)


def _car(station: str, minutes: float, **fields) -> Demand:
    return Demand(station_id=station, evse_id=1, transaction_id=f"T-{station}",
                  arrived_at=BASE + timedelta(minutes=minutes), **fields)


def _amperes(allocation: Allocation) -> dict[str, float]:
    return {station: share.amperes for (station, _), share in allocation.sessions.items()}


def _defaults(allocation: Allocation) -> dict[str, float]:
    return {station: amperes for (station, _), amperes in allocation.defaults.items()}


def _three_phase(amperes: float) -> dict[Phase, float]:
    return {L1: amperes, L2: amperes, L3: amperes}


# Worked sites

def test_two_three_phase_cars_share_equally():
    site = _site(Group(group_id="S", amperes=32), evses=[_evse("A"), _evse("B")])
    allocation = allocate(site, [_car("A", 0), _car("B", 5)])
    assert _amperes(allocation) == {"A": 16.0, "B": 16.0}
    assert all(share.phases == (L1, L2, L3) and not share.queued
               for share in allocation.sessions.values())
    assert allocation.load == {"S": _three_phase(32.0)}
    assert allocation.defaults == {} and allocation.queue == []


def test_a_single_phase_car_loads_the_first_phase_its_evse_is_wired_to():
    site = _site(Group(group_id="S", amperes=20),
                 evses=[_evse("A", max_current=16),
                        _evse("B", phases=(L2, L3, L1), max_current=16),
                        _evse("C", phases=(L3, L1, L2), max_current=16)])
    singles = [_car("A", 0, car_phases=1), _car("B", 1, car_phases=1)]
    # Until its meter values show it, C's car is taken to draw on all three phases: it
    # shares L1 with A and L2 with B, and L3 is C's alone.
    allocation = allocate(site, [*singles, _car("C", 2)])
    assert _amperes(allocation) == {"A": 10.0, "B": 10.0, "C": 10.0}
    assert allocation.load == {"S": {L1: 20.0, L2: 20.0, L3: 10.0}}
    assert allocation.sessions["A", 1].phases == (L1,)
    assert allocation.sessions["B", 1].phases == (L2,)
    # Shown single-phase, it loads its first conductor's phase, L3, and nobody is held back.
    allocation = allocate(site, [*singles, _car("C", 2, car_phases=1)])
    assert _amperes(allocation) == {"A": 16.0, "B": 16.0, "C": 16.0}
    assert allocation.sessions["C", 1].phases == (L3,)
    assert allocation.load == {"S": _three_phase(16.0)}


def test_a_two_phase_car_loads_the_first_two():
    site = _site(Group(group_id="S", amperes=32),
                 evses=[_evse("A", phases=(L3, L2, L1)), _evse("B", phases=(L1,))])
    allocation = allocate(site, [_car("A", 0, car_phases=2), _car("B", 1, car_phases=3)])
    assert allocation.sessions["A", 1].phases == (L3, L2)
    assert allocation.sessions["B", 1].phases == (L1,)  # the car cannot draw on more
    assert _amperes(allocation) == {"A": 32.0, "B": 32.0}


def test_a_nested_feeder_binds_before_the_site():
    site = _site(Group(group_id="S", amperes=100),
                 Group(group_id="F", parent="S", amperes=20),
                 Group(group_id="F.1", parent="F", amperes=63),
                 evses=[_evse("F1", "F"), _evse("F2", "F.1"), _evse("S1")])
    allocation = allocate(site, [_car("F1", 0), _car("F2", 1), _car("S1", 2)])
    assert _amperes(allocation) == {"F1": 10.0, "F2": 10.0, "S1": 32.0}
    assert allocation.load == {"S": _three_phase(52.0), "F": _three_phase(20.0),
                               "F.1": _three_phase(10.0)}


def test_the_site_binds_the_feeders_under_it():
    site = _site(Group(group_id="S", amperes=30),
                 Group(group_id="F", parent="S", amperes=63),
                 Group(group_id="G", parent="S", amperes=63),
                 evses=[_evse("F1", "F"), _evse("F2", "F"), _evse("G1", "G")])
    allocation = allocate(site, [_car("F1", 0), _car("F2", 1), _car("G1", 2)])
    assert _amperes(allocation) == {"F1": 10.0, "F2": 10.0, "G1": 10.0}


def test_a_limit_in_watts():
    # 11 kW over three phases at 230 V: 15.94 A per phase, given as 15.9 A.
    site = _site(Group(group_id="S", watts=11_000),
                 Group(group_id="P", parent="S", watts=1_610, phases=1),
                 evses=[_evse("A"), _evse("P1", "P", phases=(L1,))])
    assert _amperes(allocate(site, [_car("A", 0)])) == {"A": 15.9}
    allocation = allocate(site, [_car("A", 0), _car("P1", 1)])
    # The single-phase group (1.61 kW: 7 A) holds P1; on L1 A has what P1 leaves.
    assert _amperes(allocation) == {"A": 8.9, "P1": 7.0}
    assert allocation.load == {"S": {L1: 15.9, L2: 8.9, L3: 8.9}, "P": {L1: 7.0}}


def test_a_temporary_limit_lowers_a_group_and_never_raises_it():
    site = _site(Group(group_id="S", amperes=63), Group(group_id="F", parent="S", amperes=40),
                 evses=[_evse("A", "F"), _evse("B", "F")])
    cars = [_car("A", 0), _car("B", 1)]
    assert _amperes(allocate(site, cars)) == {"A": 20.0, "B": 20.0}
    assert _amperes(allocate(site, cars, limits={"S": 20})) == {"A": 10.0, "B": 10.0}
    assert _amperes(allocate(site, cars, limits={"F": 100, "elsewhere": 1})) == {
        "A": 20.0, "B": 20.0}


def test_a_higher_priority_is_filled_first_whenever_its_car_came():
    site = _site(Group(group_id="S", amperes=40),
                 evses=[_evse("Fleet", priority=1), _evse("Guest")])
    cars = [_car("Guest", 0), _car("Fleet", 30)]
    assert _amperes(allocate(site, cars)) == {"Fleet": 32.0, "Guest": 8.0}
    # The lower priority keeps its minimum; the higher one has the rest.
    assert _amperes(allocate(site, cars, limits={"S": 36})) == {"Fleet": 30.0, "Guest": 6.0}


def test_the_queue_keeps_arrival_order_and_is_served_first():
    site = _site(Group(group_id="S", amperes=16),
                 evses=[_evse("A"), _evse("B"), _evse("C"), _evse("D")])
    cars = [_car("D", 3), _car("C", 2), _car("B", 1), _car("A", 0)]
    allocation = allocate(site, cars)
    assert _amperes(allocation) == {"A": 8.0, "B": 8.0, "C": 0.0, "D": 0.0}
    assert allocation.queue == [("C", 1), ("D", 1)]
    assert [share.queued for share in allocation.sessions.values()].count(True) == 2
    assert allocation.load == {"S": _three_phase(16.0)}
    # A leaves: C, the first waiting, is admitted, and D waits on.
    allocation = allocate(site, cars[:3])
    assert _amperes(allocation) == {"B": 8.0, "C": 8.0, "D": 0.0}
    assert allocation.queue == [("D", 1)]


def test_a_later_car_does_not_pass_a_waiting_one_even_where_it_would_fit():
    site = _site(Group(group_id="S", amperes=63),
                 Group(group_id="F", parent="S", amperes=12),
                 Group(group_id="G", parent="S", amperes=32),
                 evses=[_evse("F1", "F"), _evse("F2", "F"), _evse("F3", "F"), _evse("G1", "G")])
    allocation = allocate(site, [_car("F1", 0), _car("F2", 1), _car("F3", 2), _car("G1", 3)])
    assert allocation.queue == [("F3", 1), ("G1", 1)]
    assert _amperes(allocation) == {"F1": 6.0, "F2": 6.0, "F3": 0.0, "G1": 0.0}


def test_a_car_that_draws_less_lends_the_rest_until_it_draws_again():
    site = _site(Group(group_id="S", amperes=32), evses=[_evse("A"), _evse("B")])
    lending = _car("A", 0, granted=16.0, drawn=8.0)
    allocation = allocate(site, [lending, _car("B", 1, granted=16.0, drawn=15.5)])
    assert _amperes(allocation) == {"A": 8.0 + LEND_MARGIN, "B": 32.0 - 8.0 - LEND_MARGIN}
    # Drawing close to what it was given (within LEND_MARGIN), it has its full share back.
    again = _car("A", 0, granted=10.0, drawn=10.0 - LEND_MARGIN)
    assert _amperes(allocate(site, [again, _car("B", 1, granted=22.0, drawn=21.0)])) == {
        "A": 16.0, "B": 16.0}
    # Drawing is not known until both are: no bound.
    unknown = _car("A", 0, drawn=1.0)
    assert _amperes(allocate(site, [unknown, _car("B", 1)])) == {"A": 16.0, "B": 16.0}
    # Drawing nearly nothing, it keeps its minimum.
    idle = _car("A", 0, granted=16.0, drawn=0.0)
    assert _amperes(allocate(site, [idle, _car("B", 1)])) == {"A": 6.0, "B": 26.0}


def test_a_car_that_needs_more_sooner_gets_more():
    site = _site(Group(group_id="S", amperes=30), evses=[_evse("A"), _evse("B")])
    cars = [_car("A", 0, needed=10.0), _car("B", 1, needed=20.0)]
    assert _amperes(allocate(site, cars)) == {"A": 10.0, "B": 20.0}
    # Without a stated need, each asks its EVSE's maximum.
    site = _site(Group(group_id="S", amperes=24),
                 evses=[_evse("A", max_current=32), _evse("B", max_current=16)])
    assert _amperes(allocate(site, [_car("A", 0), _car("B", 1)])) == {"A": 16.0, "B": 8.0}


def test_the_car_maximum_bounds_it_and_the_rest_goes_to_others():
    site = _site(Group(group_id="S", amperes=40), evses=[_evse("A"), _evse("B")])
    cars = [_car("A", 0, car_max=10.0), _car("B", 1, car_max=64.0)]
    assert _amperes(allocate(site, cars)) == {"A": 10.0, "B": 30.0}


def test_an_uncontrolled_station_is_counted_at_its_maximum():
    site = _site(Group(group_id="S", amperes=40),
                 evses=[_evse("A"), _evse("U", max_current=16), _evse("V", max_current=10)])
    allocation = allocate(site, [_car("A", 0), _car("U", 1)],
                          uncontrolled=[("U", 1), ("V", 1), ("Elsewhere", 1)])
    assert _amperes(allocation) == {"A": 14.0}
    assert allocation.defaults == {}
    assert allocation.load == {"S": _three_phase(40.0)}


def test_defaults_never_exceed_the_safe_share():
    site = _site(Group(group_id="S", amperes=100),
                 evses=[_evse("A"), _evse("B"), _evse("C"), _evse("D")])
    # The safe share: 100 A among four 32 A EVSEs, 25 A each.
    allocation = allocate(site, [])
    assert _defaults(allocation) == {"A": 25.0, "B": 25.0, "C": 25.0, "D": 25.0}
    assert allocation.sessions == {}
    # A car at A takes 32 A; the other three share what is left, 68 A.
    allocation = allocate(site, [_car("A", 0)])
    assert _amperes(allocation) == {"A": 32.0}
    assert _defaults(allocation) == {"B": 22.6, "C": 22.6, "D": 22.6}
    # With more room than their safe share, they keep to it.
    allocation = allocate(site, [_car("A", 0, car_max=5.0)])
    assert _amperes(allocation) == {"A": 6.0}
    assert _defaults(allocation) == {"B": 25.0, "C": 25.0, "D": 25.0}


def test_defaults_count_uncontrolled_stations_and_waiting_cars():
    site = _site(Group(group_id="S", amperes=64),
                 evses=[_evse("A"), _evse("B"), _evse("C"), _evse("U", max_current=16)])
    allocation = allocate(site, [], uncontrolled=[("U", 1)])
    assert _defaults(allocation) == {"A": 16.0, "B": 16.0, "C": 16.0}
    # A waiting car's EVSE has its session (0 A), no default.
    site = _site(Group(group_id="S", amperes=11),
                 evses=[_evse("A"), _evse("B"), _evse("C")])
    allocation = allocate(site, [_car("A", 0), _car("B", 1)])
    assert _amperes(allocation) == {"A": 11.0, "B": 0.0}
    assert _defaults(allocation) == {"C": 0.0}


def test_an_unknown_evse_is_ignored_and_the_earliest_of_two_demands_is_kept():
    site = _site(Group(group_id="S", amperes=32), evses=[_evse("A"), _evse("B")])
    stranger = Demand(station_id="A", evse_id=2, transaction_id="T-x", arrived_at=BASE)
    later = Demand(station_id="A", evse_id=1, transaction_id="T-later",
                   arrived_at=BASE + timedelta(minutes=5))
    allocation = allocate(site, [later, stranger, _car("A", 1, car_phases=1)])
    assert _amperes(allocation) == {"A": 32.0}
    assert allocation.sessions["A", 1].phases == (L1,)  # the earlier demand's
    assert _defaults(allocation) == {"B": 0.0}  # wired to L1 too, which A's car has all of


def test_amperes_are_rounded_down_to_a_tenth():
    site = _site(Group(group_id="S", amperes=20), evses=[_evse("A"), _evse("B"), _evse("C")])
    allocation = allocate(site, [_car("A", 0), _car("B", 1), _car("C", 2)])
    assert _amperes(allocation) == {"A": 6.6, "B": 6.6, "C": 6.6}
    assert allocation.load["S"][L1] == pytest.approx(19.8)


# Random sites and cars

MINIMA = st.sampled_from([0.0, 6.0, 6.0, 8.0])
CURRENTS = st.floats(min_value=0.0, max_value=80.0, allow_nan=False)
PHASE_ORDERS = st.permutations([L1, L2, L3])


@st.composite
def sites(draw) -> Site:
    """A site of one to three levels, its groups of one or three phases, limited in A or W."""
    groups: list[Group] = []
    levels: dict[str, int] = {}
    for index in range(draw(st.integers(1, 6))):
        parent = draw(st.sampled_from(groups)) if groups else None
        if parent is not None and levels[parent.group_id] == 2:
            parent = groups[0]
        phases = draw(st.sampled_from([1, 3] if parent is None or parent.phases == 3 else [1]))
        limit = (dict(amperes=draw(st.floats(4.0, 160.0))) if draw(st.booleans())
                 else dict(watts=draw(st.floats(1_000.0, 110_000.0))))
        group = Group(group_id=f"G{index}", parent=parent.group_id if parent else None,
                      phases=phases, **limit)
        levels[group.group_id] = 0 if parent is None else levels[parent.group_id] + 1
        groups.append(group)
    evses = []
    for index in range(draw(st.integers(1, 14))):
        group = draw(st.sampled_from(groups))
        order = [phase for phase in draw(PHASE_ORDERS) if phase in group.grid_phases()]
        least = draw(MINIMA)
        evses.append(Evse(station_id=f"CP{index % 5}", evse_id=index // 5 + 1,
                          group_id=group.group_id,
                          phases=tuple(order[:draw(st.integers(1, len(order)))]),
                          min_current=least,
                          max_current=least + draw(st.floats(0.5, 40.0)),
                          priority=draw(st.integers(0, 2))))
    return Site(site_id="G0", groups=tuple(groups), evses=tuple(evses))


@st.composite
def situations(draw) -> tuple[Site, list[Demand], list[tuple[str, int]], dict[str, float]]:
    site = draw(sites())
    keys = [evse.key for evse in site.evses] + [("CP9", 1)]  # one the site does not have
    demands = []
    for index, (station, evse_id) in enumerate(draw(st.lists(st.sampled_from(keys),
                                                             min_size=1, max_size=16))):
        demands.append(Demand(
            station_id=station, evse_id=evse_id, transaction_id=f"T{index}",
            arrived_at=BASE + timedelta(minutes=draw(st.integers(0, 8))),
            car_phases=draw(st.sampled_from([None, 1, 2, 3])),
            drawn=draw(st.none() | CURRENTS), granted=draw(st.none() | CURRENTS),
            car_max=draw(st.none() | CURRENTS), needed=draw(st.none() | CURRENTS)))
    uncontrolled = draw(st.lists(st.sampled_from(keys), max_size=2))
    limits = draw(st.dictionaries(st.sampled_from([g.group_id for g in site.groups] + ["X"]),
                                  st.floats(0.0, 120.0), max_size=2))
    return site, demands, uncontrolled, limits


def _capacity(site: Site, group_id: str, limits: dict[str, float]) -> float:
    return min(site.group(group_id).amperes_per_phase(), limits.get(group_id, math.inf))


def _kept(site: Site, demands: list[Demand], uncontrolled) -> dict[tuple[str, int], Demand]:
    """The earliest demand at each controlled EVSE of the site."""
    keys = {evse.key for evse in site.evses} - set(uncontrolled)
    kept: dict[tuple[str, int], Demand] = {}
    for demand in sorted(demands, key=lambda each: (each.arrived_at, each.transaction_id)):
        kept.setdefault((demand.station_id, demand.evse_id), demand)
    return {key: demand for key, demand in kept.items() if key in keys}


def _upper(evse: Evse, demand: Demand) -> float:
    upper = min(evse.max_current, math.inf if demand.car_max is None else demand.car_max)
    if (demand.drawn is not None and demand.granted is not None
            and demand.drawn < demand.granted - LEND_MARGIN):
        upper = min(upper, max(evse.min_current, demand.drawn + LEND_MARGIN))
    return max(upper, evse.min_current)


def _counted(site: Site, allocation: Allocation, uncontrolled):
    """Each group phase's load (sessions, defaults, uncontrolled) and how many sessions
    and defaults load it, counted again from the shares."""
    evses = {evse.key: evse for evse in site.evses}
    load = {(group.group_id, phase): 0.0 for group in site.groups
            for phase in group.grid_phases()}
    shares = dict.fromkeys(load, 0)
    counted = [(key, share.phases, share.amperes) for key, share in allocation.sessions.items()
               if not share.queued]
    counted += [(key, evses[key].phases, amperes) for key, amperes in allocation.defaults.items()]
    counted += [(evse.key, evse.phases, evse.max_current) for evse in site.evses
                if evse.key in set(uncontrolled)]
    for key, phases, amperes in counted:
        for group in site.path(evses[key].group_id):
            for phase in phases:
                load[group.group_id, phase] += amperes
                shares[group.group_id, phase] += key not in set(uncontrolled)
    return load, shares


SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(situations())
def test_no_group_phase_is_loaded_beyond_its_capacity(situation):
    site, demands, uncontrolled, limits = situation
    allocation = allocate(site, demands, uncontrolled=uncontrolled, limits=limits)
    load, _ = _counted(site, allocation, uncontrolled)
    outside, _ = _counted(site, Allocation({}, {}, {}, []), uncontrolled)
    for (group_id, phase), amperes in load.items():
        assert allocation.load[group_id][phase] == pytest.approx(amperes, abs=EPSILON)
        capacity = _capacity(site, group_id, limits)
        if outside[group_id, phase] > capacity:
            # Uncontrolled stations alone are over it: no controlled one adds to them.
            assert amperes == pytest.approx(outside[group_id, phase], abs=EPSILON)
        else:
            assert amperes <= capacity + EPSILON
    assert all(amperes >= 0 and round(amperes * 10, 6) % 1 == 0
               for amperes in [*_amperes(allocation).values(), *allocation.defaults.values()])


@SETTINGS
@given(situations())
def test_cars_are_admitted_in_order_within_their_bounds(situation):
    site, demands, uncontrolled, limits = situation
    allocation = allocate(site, demands, uncontrolled=uncontrolled, limits=limits)
    evses = {evse.key: evse for evse in site.evses}
    kept = _kept(site, demands, uncontrolled)
    assert allocation.sessions.keys() == kept.keys()
    served = sorted(kept, key=lambda key: (-evses[key].priority, kept[key].arrived_at, key))
    admitted = [key for key in served if not allocation.sessions[key].queued]
    assert served == admitted + allocation.queue  # the waiting ones after all admitted ones
    for key, demand in kept.items():
        evse, share = evses[key], allocation.sessions[key]
        car_phases = demand.car_phases or 3
        assert share.phases == evse.phases[:car_phases]
        if share.queued:
            assert share.amperes == 0
        else:
            assert evse.min_current - EPSILON <= share.amperes <= _upper(evse, demand) + EPSILON
    assert set(allocation.defaults) == {key for key in evses if key not in kept
                                        and key not in set(uncontrolled)}


@SETTINGS
@given(situations())
def test_nothing_is_left_that_an_admitted_car_could_take(situation):
    site, demands, uncontrolled, limits = situation
    allocation = allocate(site, demands, uncontrolled=uncontrolled, limits=limits)
    evses = {evse.key: evse for evse in site.evses}
    kept = _kept(site, demands, uncontrolled)
    load, shares = _counted(site, allocation, uncontrolled)

    def full(group_id: str, phase: Phase) -> bool:
        # Each share rounded down, and the capacity, leave less than a tenth unused.
        slack = _capacity(site, group_id, limits) - load[group_id, phase]
        return slack < 0.1 * (shares[group_id, phase] + 1) + EPSILON

    for key, share in allocation.sessions.items():
        if share.queued or share.amperes + 0.1 > _upper(evses[key], kept[key]) + EPSILON:
            continue
        assert any(full(group.group_id, phase) for group in site.path(evses[key].group_id)
                   for phase in share.phases), (key, share)


@SETTINGS
@given(situations(), st.randoms(use_true_random=False))
def test_the_order_of_the_demands_does_not_matter(situation, random):
    site, demands, uncontrolled, limits = situation
    shuffled = random.sample(demands, len(demands))
    assert (allocate(site, shuffled, uncontrolled=uncontrolled, limits=limits)
            == allocate(site, demands, uncontrolled=uncontrolled, limits=limits))


@SETTINGS
@given(situations())
def test_a_default_is_never_above_the_safe_share(situation):
    site, demands, uncontrolled, limits = situation
    allocation = allocate(site, demands, uncontrolled=uncontrolled, limits=limits)
    # The safe share is what each EVSE gets when all of them charge at once, none held
    # back by a minimum or a priority: the same rule, asked of such a site.
    plain = site.model_copy(update={"evses": tuple(
        evse.model_copy(update={"min_current": 0.0, "priority": 0}) for evse in site.evses)})
    everyone = [Demand(station_id=evse.station_id, evse_id=evse.evse_id, transaction_id="T",
                       arrived_at=BASE) for evse in site.evses]
    safe = allocate(plain, everyone, uncontrolled=uncontrolled, limits=limits)
    # Where uncontrolled stations alone overload a group phase, the plain site queues
    # every car from the first that loads it on, and is no measure of the safe share.
    assume(not safe.queue)
    for key, amperes in allocation.defaults.items():
        assert amperes <= safe.sessions[key].amperes + EPSILON
