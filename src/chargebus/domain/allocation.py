"""How a site's load manager divides the site's capacity among the cars charging on it, and
what an idle EVSE may start with. Every current is in A per phase; a group's capacity per
phase is its own limit, or a lower temporary limit (a curtailment, an external limit).

- A car loads the grid phases its EVSE's conductors are wired to, only as many as the car
  draws on once meter values showed it (until then all of them), in its group and every
  group above it. A station that is uncontrolled (it refused a profile, did not answer, or
  is offline) is counted at its EVSEs' maximum on all their phases, charging or not.
- Cars are served in order of EVSE priority, then arrival. Each is admitted at its EVSE's
  minimum if every group phase it loads has room for it; the first that has no room waits,
  and so does every car after it, so that a later car never takes what an earlier waiting
  one needs. A waiting car is given 0 A, and the queue is served first when room frees.
- Above the minimum, admitted cars of the highest priority share first, then the next
  priority, and so on. Within a priority each car rises in proportion to what it asks (its
  stated need for its departure, else its EVSE's maximum) until it reaches its own bound
  (the EVSE's maximum, the car's maximum) or a group phase it loads is full. A car that
  draws clearly less than it was given (by more than LEND_MARGIN) is bounded at what it
  draws plus LEND_MARGIN, so that others may use the rest; it gets its full share back at
  the next allocation after it draws close to what it was given.
- An idle EVSE's default (TxDefault) is its share of what the cars leave, never more than
  its safe share: what it would get if every EVSE of the site were charging a three-phase
  car at once, shared in proportion to the EVSEs' maxima. The defaults together never
  exceed what the cars leave.
- Every current is rounded down to 0.1 A, the step stations take; no group phase is
  loaded beyond its capacity after rounding.
"""
import heapq
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import TypeAlias

from chargebus.domain.topology import Evse, Phase, Site

# A car is bounded once it draws this far below what it was given: less would chase the
# noise of its meter values.
LEND_MARGIN = 2.0

# Stations take one decimal: the rule counts in tenths of an ampere, whole numbers, so
# that a sum of what is given is compared with a capacity without floating point error.
_TENTHS = 10
# The float error the filling may leave (in tenths) is forgiven before rounding down, so
# that a 16 A computed as 15.9999999 is given as 16.0 A; far below one tenth, so that
# hundreds of sessions forgiven together cannot add up to a tenth over a capacity.
_FORGIVEN = 1e-6
# A car that says it needs nothing more still rises, last, into room nobody else can use.
_LEAST_WEIGHT = 0.1

_NO_LIMITS: Mapping[str, float] = MappingProxyType({})

Key: TypeAlias = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Demand:
    """A transaction under way at an EVSE of the site."""

    station_id: str
    evse_id: int
    transaction_id: str
    arrived_at: datetime
    # Phases the car draws on, once meter values showed it; None: all the EVSE's phases.
    car_phases: int | None = None
    drawn: float | None = None  # the highest current per phase it drew lately; None: not seen
    granted: float | None = None  # what it was last given, per phase; None: nothing yet
    car_max: float | None = None  # the car's own maximum per phase (EV charging needs)
    needed: float | None = None  # the average per phase to be full by its departure

    @property
    def key(self) -> Key:
        return self.station_id, self.evse_id


@dataclass(frozen=True, slots=True)
class Share:
    amperes: float  # per phase
    phases: tuple[Phase, ...]  # the grid phases it loads
    queued: bool


@dataclass(frozen=True, slots=True)
class Allocation:
    sessions: dict[Key, Share]  # by (station_id, evse_id)
    # The TxDefault limit (A per phase) of every controlled EVSE without a session.
    defaults: dict[Key, float]
    # Per group, the sum per phase of everything counted: sessions, defaults, uncontrolled.
    load: dict[str, dict[Phase, float]]
    queue: list[Key]  # the queued sessions, in the order they will be served


# The group phases an EVSE loads when its car draws on the given phases.
_Loads: TypeAlias = Callable[[Evse, tuple[Phase, ...]], tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class _Claim:
    """What one EVSE asks of a filling, in tenths of an ampere per phase."""

    spots: tuple[int, ...]  # the group phases it loads
    least: int
    most: int
    weight: float


def allocate(site: Site, demands: Iterable[Demand], *,
             uncontrolled: Collection[Key] = (),
             limits: Mapping[str, float] = _NO_LIMITS) -> Allocation:
    """The shares of ``demands`` and the defaults of the idle EVSEs of ``site``, with the
    EVSEs in ``uncontrolled`` counted at their maximum and ``limits`` (A per phase, by
    group id) lowering the groups' own."""
    uncontrolled = frozenset(uncontrolled)
    spots: dict[tuple[str, Phase], int] = {}  # each group phase, numbered
    for group in site.groups:
        for phase in group.grid_phases():
            spots[group.group_id, phase] = len(spots)
    uphill = {group.group_id: [g.group_id for g in site.path(group.group_id)]
              for group in site.groups}

    known: dict[tuple[str, tuple[Phase, ...]], tuple[int, ...]] = {}

    def loads(evse: Evse, phases: tuple[Phase, ...]) -> tuple[int, ...]:
        found = known.get((evse.group_id, phases))
        if found is None:
            found = known[evse.group_id, phases] = tuple(
                spots[group_id, phase] for group_id in uphill[evse.group_id]
                for phase in phases)
        return found

    outside = [0.0] * len(spots)
    for evse in site.evses:
        if evse.key in uncontrolled:
            for spot in loads(evse, evse.phases):
                outside[spot] += evse.max_current
    room = [0] * len(spots)
    for group in site.groups:
        capacity = min(group.amperes_per_phase(), limits.get(group.group_id, math.inf))
        for phase in group.grid_phases():
            spot = spots[group.group_id, phase]
            room[spot] = _down(capacity - outside[spot])

    controlled = {evse.key: evse for evse in site.evses if evse.key not in uncontrolled}
    sessions = _served_order(_earliest(demands, controlled), controlled)
    given = [0] * len(spots)
    shares: dict[Key, Share] = {}
    queue: list[Key] = []
    admitted: list[tuple[Demand, Evse, _Claim]] = []
    for demand, evse in sessions:
        phases = _car_phases(demand, evse)
        claim = _claim(demand, evse, loads(evse, phases))
        if not queue and all(given[spot] + claim.least <= room[spot] for spot in claim.spots):
            for spot in claim.spots:
                given[spot] += claim.least
            admitted.append((demand, evse, claim))
        else:
            queue.append(evse.key)
            shares[evse.key] = Share(0.0, phases, queued=True)

    amounts = _by_priority([(evse.priority, claim) for _, evse, claim in admitted], given, room)
    given = [0] * len(spots)
    for (demand, evse, claim), amount in zip(admitted, amounts):
        tenths = _rounded(amount, claim)
        for spot in claim.spots:
            given[spot] += tenths
        shares[evse.key] = Share(tenths / _TENTHS, _car_phases(demand, evse), queued=False)

    idle = [evse for key, evse in controlled.items() if key not in shares]
    safe = _safe_shares(list(controlled.values()), loads, room) if idle else {}
    claims = [_Claim(loads(evse, evse.phases), 0, safe[evse.key], evse.max_current)
              for evse in idle]
    defaults: dict[Key, float] = {}
    for evse, claim, amount in zip(idle, claims, _fill(claims, list(map(float, given)), room)):
        tenths = _rounded(amount, claim)
        for spot in claim.spots:
            given[spot] += tenths
        defaults[evse.key] = tenths / _TENTHS

    load = {group.group_id: {phase: outside[spots[group.group_id, phase]]
                             + given[spots[group.group_id, phase]] / _TENTHS
                             for phase in group.grid_phases()}
            for group in site.groups}
    return Allocation(sessions=shares, defaults=defaults, load=load, queue=queue)


def _by_priority(claims: Sequence[tuple[int, _Claim]], least: Sequence[int],
                 room: Sequence[int]) -> list[float]:
    """The admitted claims filled one priority after the other, highest first: each fills
    against the minima of those below it and what those above it took. ``least`` is the
    sum of the minima on each group phase."""
    amounts = [float(claim.least) for _, claim in claims]
    taken = list(map(float, least))
    for priority in sorted({priority for priority, _ in claims}, reverse=True):
        among = [index for index, (each, _) in enumerate(claims) if each == priority]
        fixed = list(taken)
        for index in among:
            for spot in claims[index][1].spots:
                fixed[spot] -= claims[index][1].least
        filled = _fill([claims[index][1] for index in among], fixed, room)
        for index, amount in zip(among, filled):
            amounts[index] = amount
            for spot in claims[index][1].spots:
                taken[spot] += amount - claims[index][1].least
    return amounts


def _earliest(demands: Iterable[Demand], controlled: Mapping[Key, Evse]) -> list[Demand]:
    """One demand per controlled EVSE of the site: the one that came first. A demand at
    an EVSE the site does not have, or does not control, is no session of this rule; the
    transaction id and then the whole demand break ties, so that the answer does not
    depend on the order the demands came in."""
    first: dict[Key, Demand] = {}
    for demand in demands:
        if demand.key not in controlled:
            continue
        kept = first.get(demand.key)
        if kept is None or _coming(demand) < _coming(kept):
            first[demand.key] = demand
    return list(first.values())


def _coming(demand: Demand) -> tuple[datetime, str, str]:
    return demand.arrived_at, demand.transaction_id, repr(demand)


def _served_order(demands: list[Demand],
                  controlled: Mapping[Key, Evse]) -> list[tuple[Demand, Evse]]:
    paired = [(demand, controlled[demand.key]) for demand in demands]
    paired.sort(key=lambda pair: (-pair[1].priority, pair[0].arrived_at, pair[1].station_id,
                                  pair[1].evse_id))
    return paired


def _car_phases(demand: Demand, evse: Evse) -> tuple[Phase, ...]:
    """Conductor 1 first: a single-phase car draws on the EVSE's first wired phase."""
    if demand.car_phases is None or demand.car_phases < 1:
        return evse.phases
    return evse.phases[:demand.car_phases]


def _claim(demand: Demand, evse: Evse, spots: tuple[int, ...]) -> _Claim:
    upper = evse.max_current if demand.car_max is None else min(evse.max_current,
                                                                demand.car_max)
    if (demand.drawn is not None and demand.granted is not None
            and demand.drawn < demand.granted - LEND_MARGIN):
        upper = min(upper, max(evse.min_current, demand.drawn + LEND_MARGIN))
    # An EVSE's minimum and maximum within one tenth (6.05 A both): the maximum holds.
    least = min(_up(evse.min_current), _down(evse.max_current))
    # The minimum is what a car needs to charge at all: a car maximum below it, or a car
    # drawing less, does not lower it.
    most = max(_down(upper), least)
    weight = evse.max_current if demand.needed is None else max(demand.needed, _LEAST_WEIGHT)
    return _Claim(spots, least, most, weight)


def _safe_shares(evses: list[Evse], loads: _Loads, room: Sequence[int]) -> dict[Key, int]:
    """Each controlled EVSE's share (tenths) if all of them charged a three-phase car at
    once on all their wired phases, none held back by a minimum."""
    claims = [_Claim(loads(evse, evse.phases), 0, _down(evse.max_current), evse.max_current)
              for evse in evses]
    return {evse.key: _rounded(amount, claim)
            for evse, claim, amount in zip(evses, claims, _fill(claims, [0.0] * len(room), room))}


def _down(amperes: float) -> int:
    """In tenths, rounded down; what is within a float error of a tenth (3 * 0.1 is
    0.30000000000000004, 0.7 * 3 is 2.0999999999999996) counts as that tenth."""
    return math.floor(amperes * _TENTHS + 1e-9)


def _up(amperes: float) -> int:
    return math.ceil(amperes * _TENTHS - 1e-9)


def _rounded(amount: float, claim: _Claim) -> int:
    return min(max(math.floor(amount + _FORGIVEN), claim.least), claim.most)


def _fill(claims: Sequence[_Claim], fixed: Sequence[float], room: Sequence[int]) -> list[float]:
    """Weighted progressive filling (max-min fairness with weights): a level rises, each
    claim stands at its weight times the level held within [least, most], and the claims
    on a group phase stop where it is full. ``fixed`` is what others load on each group
    phase. Returns each claim's amount, in tenths, before rounding."""
    amounts = [0.0] * len(claims)
    rising = [True] * len(claims)
    fixed = list(fixed)
    # On each group phase, the levels where a claim starts to rise above its least and
    # where it reaches its most, in order: sorted once, walked for every change.
    changes: list[list[tuple[float, float, int]]] = [[] for _ in room]
    for index, claim in enumerate(claims):
        starts = (claim.least / claim.weight, claim.weight, index)
        stops = (claim.most / claim.weight, -claim.weight, index)
        for spot in claim.spots:
            changes[spot] += starts, stops
            fixed[spot] += claim.least
    for spot_changes in changes:
        spot_changes.sort()
    # The level each group phase fills at, smallest first. A claim that stops (another
    # of its group phases filled) loads its other group phases less than it would have
    # had it kept rising, so they fill later, never sooner: their levels are kept as they
    # were and worked out again only when they come up.
    coming = [(_full_at(changes[spot], fixed[spot], room[spot]), spot)
              for spot in range(len(room)) if changes[spot]]
    heapq.heapify(coming)
    outdated: set[int] = set()

    def update(spot: int) -> None:
        outdated.discard(spot)
        changes[spot] = [change for change in changes[spot] if rising[change[2]]]
        if changes[spot]:
            heapq.heappush(coming, (_full_at(changes[spot], fixed[spot], room[spot]), spot))

    while coming:
        level, spot = heapq.heappop(coming)
        if spot in outdated:
            update(spot)
            continue
        if level == math.inf:  # no group phase fills: every claim still rising gets its most
            for index, claim in enumerate(claims):
                if rising[index]:
                    amounts[index] = claim.most
            break
        full = [spot]
        # Group phases that fill at the same level, to the float error, stop together.
        while coming and coming[0][0] <= level * (1 + 1e-12):
            spot = heapq.heappop(coming)[1]
            if spot in outdated:
                update(spot)
            else:
                full.append(spot)
        stopping = sorted({index for spot in full for _, _, index in changes[spot]
                           if rising[index]})
        for index in stopping:
            claim = claims[index]
            amounts[index] = min(max(claim.weight * level, claim.least), claim.most)
            rising[index] = False
            for spot in claim.spots:
                fixed[spot] += amounts[index] - claim.least
                outdated.add(spot)
        outdated.difference_update(full)  # nothing rises on them any more
    return amounts


def _full_at(changes: list[tuple[float, float, int]], load: float, room: int) -> float:
    """The level at which the claims rising on a group phase fill it; inf if they reach
    their most before. ``load`` is the group phase's with every claim at its least; the
    load is piecewise linear in the level, its slope changing at ``changes``."""
    if load >= room:
        return 0.0
    slope = 0.0
    at = 0.0
    for level, change, _ in changes:
        if slope > 0:
            reached = load + slope * (level - at)
            if reached >= room:
                return at + (room - load) / slope
            load = reached
        at = level
        slope += change
    return math.inf
