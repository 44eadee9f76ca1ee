"""The load manager's rules besides the division (chargebus.domain.loadmanagement):
sessions from events in any order, what an EVSE may draw on what it was told, and
lowerings told apart from raises."""
from datetime import UTC, datetime, timedelta

from chargebus.domain import loadmanagement as rules
from chargebus.domain.allocation import allocate
from chargebus.domain.profiles import Purpose
from chargebus.domain.topology import Evse, Group, Site
from chargebus.state.records import GroupLimit, SiteAllocation, SiteSession

BASE = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)
SITE = Site(site_id="S", groups=(Group(group_id="S", amperes=40.0),),
            evses=(Evse(station_id="A", evse_id=1, group_id="S"),
                   Evse(station_id="B", evse_id=1, group_id="S")))
[EVSE_A, EVSE_B] = SITE.evses


def session(station: str, transaction: str, minute: int = 0) -> SiteSession:
    return SiteSession(station_id=station, evse_id=1, transaction_id=transaction,
                       started_at=BASE + timedelta(minutes=minute))


def test_a_start_after_its_end_makes_no_session():
    record = SiteAllocation(site_id="S")
    ended = rules.with_ended(record, "A", "1")
    assert ended is not None and not ended.sessions
    assert rules.with_started(ended, session("A", "1")) is None
    assert rules.with_ended(ended, "A", "1") is None  # an end delivered again


def test_a_new_transaction_at_an_evse_replaces_the_one_whose_end_was_lost():
    record = rules.with_started(SiteAllocation(site_id="S"), session("A", "1"))
    record = rules.with_started(record, session("A", "2", minute=5))
    assert [each.transaction_id for each in record.sessions] == ["2"]
    assert rules.with_started(record, session("A", "2", minute=5)) is None


def test_meter_values_say_how_many_phases_a_car_draws_on():
    record = rules.with_started(SiteAllocation(site_id="S"), session("A", "1"))
    read = rules.with_reading(record, "A", 1, "1", {"L1": 13.2, "L2": 0.0, "L3": 0.1}, BASE)
    assert (read.sessions[0].car_phases, read.sessions[0].drawn) == (1, 13.2)
    assert rules.with_reading(record, "A", 1, "9", {"L1": 5.0}, BASE) is None  # another's
    # Less than a step more: nothing to divide again for.
    assert rules.with_reading(read, "A", 1, "1", {"L1": 13.8}, BASE) is None


def test_what_a_car_drew_before_its_share_changed_is_not_lent():
    record = rules.with_started(SiteAllocation(site_id="S"), session("A", "1"))
    division = allocate(SITE, rules.demands(record, SITE, BASE))
    record = rules.with_shares(record, division, BASE)
    early = rules.with_reading(record, "A", 1, "1", {"L1": 8.0, "L2": 8.0, "L3": 8.0},
                               BASE + timedelta(seconds=1))
    [demand] = rules.demands(early, SITE, BASE + timedelta(seconds=1))
    assert demand.drawn is None  # the car had no time to follow its new share
    later = rules.with_reading(early, "A", 1, "1", {"L1": 8.2, "L2": 8.0, "L3": 8.0},
                               BASE + timedelta(seconds=6))
    assert later is not None  # the first reading once it settled
    [demand] = rules.demands(later, SITE, BASE + timedelta(seconds=6))
    assert demand.drawn == 8.2


def test_a_ceiling_is_what_was_accepted_else_the_maximum_and_a_call_under_way_counts():
    record = rules.with_started(SiteAllocation(site_id="S"), session("A", "1"))
    assert rules.ceiling(record, EVSE_A) == EVSE_A.max_current  # nothing accepted yet
    default = rules.Change(EVSE_A, Purpose.TX_DEFAULT, 10.0, None, lowers=True)
    record = rules.with_told(record, default, accepted=True)
    assert rules.ceiling(record, EVSE_A) == 10.0  # the session runs on the default
    raise_ = rules.Change(EVSE_A, Purpose.TX, 20.0, "1", lowers=False)
    under_way = rules.with_told(record, raise_, accepted=None)
    assert rules.ceiling(under_way, EVSE_A) == 20.0
    refused = rules.with_told(under_way, raise_, accepted=False)
    assert rules.ceiling(refused, EVSE_A) == 10.0
    taken = rules.with_told(under_way, raise_, accepted=True)
    assert rules.ceiling(taken, EVSE_A) == 20.0
    # Its transaction ended: the next one starts on the default again.
    after = rules.with_started(rules.with_ended(taken, "A", "1"), session("A", "2", 9))
    assert rules.ceiling(after, EVSE_A) == 10.0


def test_lowerings_are_told_apart_from_raises():
    record = SiteAllocation(site_id="S")
    for evse, limit in ((EVSE_A, 20.0), (EVSE_B, 20.0)):
        record = rules.with_told(record, rules.Change(evse, Purpose.TX_DEFAULT, limit, None,
                                                      True), accepted=True)
    record = rules.with_started(record, session("A", "1"))
    division = allocate(SITE, rules.demands(record, SITE, BASE))
    planned = {change.evse.station_id: change for change in
               rules.changes(record, SITE, division, uncontrolled=set())}
    # A's car gets the site (less B's default); B, idle, gives up its default for it.
    assert planned["B"].purpose is Purpose.TX_DEFAULT and planned["B"].lowers
    assert planned["A"].purpose is Purpose.TX and not planned["A"].lowers
    assert planned["A"].limit + planned["B"].limit <= 40.0


def test_what_is_already_told_is_not_sent_again():
    record = rules.with_started(SiteAllocation(site_id="S"), session("A", "1"))
    division = allocate(SITE, rules.demands(record, SITE, BASE))
    for change in rules.changes(record, SITE, division, uncontrolled=set()):
        record = rules.with_told(record, change, accepted=True)
    assert rules.changes(record, SITE, division, uncontrolled=set()) == []


def test_an_uncontrolled_station_is_sent_nothing():
    record = rules.with_started(SiteAllocation(site_id="S"), session("A", "1"))
    division = allocate(SITE, rules.demands(record, SITE, BASE), uncontrolled=[EVSE_B.key])
    planned = rules.changes(record, SITE, division, uncontrolled={"B"})
    assert {change.evse.station_id for change in planned} == {"A"}


def test_a_temporary_limit_counts_from_a_period_before_it_begins_until_it_ends():
    limits = [GroupLimit(group_id="S", amperes=20, starts=BASE, ends=BASE + timedelta(hours=1),
                         set_by="grid"),
              GroupLimit(group_id="S", amperes=10, starts=BASE + timedelta(minutes=30),
                         ends=BASE + timedelta(hours=2), set_by="grid")]
    period = timedelta(seconds=10)
    assert rules.limits_in_force(limits, BASE - timedelta(seconds=20), period) == {}
    assert rules.limits_in_force(limits, BASE - timedelta(seconds=5), period) == {"S": 20}
    assert rules.limits_in_force(limits, BASE + timedelta(minutes=45), period) == {"S": 10}
    assert rules.limits_in_force(limits, BASE + timedelta(hours=2), period) == {}


def test_a_car_that_must_leave_sooner_with_more_to_charge_needs_more():
    soon = rules.needed_current(20_000, BASE + timedelta(hours=1), BASE, 230.0, 3)
    later = rules.needed_current(20_000, BASE + timedelta(hours=4), BASE, 230.0, 3)
    assert soon is not None and later is not None and soon > later
    assert rules.needed_current(20_000, BASE, BASE, 230.0, 3) is None  # already due
