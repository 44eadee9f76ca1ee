"""The load manager on a site of 20 simulated stations behind 100 kW (1.6 and 2.x, cars
of one and three phases, sessions starting and stopping at random, two stations that
refuse every profile and one that drops off the network): at no instant does the sum per
phase of what the stations let their cars draw exceed the site's connection, every
session gets its share, the queue is served in arrival order; and the same with two
load managers, one of them killed while it divides."""
import asyncio
import os
import signal
import time
from dataclasses import dataclass
from datetime import timedelta

import pytest

from conftest import service_process, start_system
from site_stations import Pace, SiteStations, StationSpec
from chargebus.ocpp.clock import utc_now
from chargebus.simulate.charging import Car
from chargebus.domain.profiles import Purpose
from chargebus.domain.topology import Evse, Group, Phase, Site
from chargebus.ocpp import OcppVersion
from chargebus.state.records import SiteAllocation
from chargebus.state.stores import Stores, allocation_key, transaction_key

SETTINGS = {"CHARGEBUS_LOAD_MANAGER_PERIOD_SECONDS": "2",
            "CHARGEBUS_LOAD_MANAGER_CALL_TIMEOUT_SECONDS": "1.5",
            "CHARGEBUS_LOAD_MANAGER_RETRY_SECONDS": "10"}
# The issue asks for at least three minutes of sessions coming and going.
RUN_SECONDS = float(os.environ.get("CHARGEBUS_TEST_SITE_SECONDS", "180"))
KILL_RUN_SECONDS = 60.0
SITE_WATTS = 100_000.0
VOLTAGE = 230.0
ROTATIONS = ((Phase.L1, Phase.L2, Phase.L3), (Phase.L2, Phase.L3, Phase.L1),
             (Phase.L3, Phase.L1, Phase.L2))
# Every tenth station's EVSE is single-phase, on one of the three.
SINGLE = ((Phase.L1,), (Phase.L2,), (Phase.L3,))


@pytest.fixture(scope="module")
def site_system(tmp_path_factory):
    system = start_system(tmp_path_factory.mktemp("site"), environment=SETTINGS)
    yield system
    assert system.stop() == 0


def station_specs(prefix: str, count: int, refusing: set[int]) -> list[StationSpec]:
    versions = (OcppVersion.V16, OcppVersion.V201, OcppVersion.V21)
    return [StationSpec(f"{prefix}-{index:02d}", versions[index % 3], refuses=index in refusing)
            for index in range(count)]


def site_of(site_id: str, specs: list[StationSpec]) -> Site:
    return Site(site_id=site_id, groups=(Group(group_id=site_id, watts=SITE_WATTS,
                                               voltage=VOLTAGE),),
                evses=tuple(Evse(station_id=spec.station_id, evse_id=1, group_id=site_id,
                                 phases=SINGLE[index % 3] if index % 10 == 9
                                 else ROTATIONS[index % 3], max_current=spec.evse_max)
                            for index, spec in enumerate(specs)))


@dataclass
class Sums:
    largest: dict[Phase, float]
    at_most: float
    instants: int


def per_phase_sums(site: Site, stations: SiteStations) -> Sums:
    """The largest sum per grid phase, over every instant of the run, of what the
    stations let the cars of their sessions draw, on the phases each car loads."""
    wiring = {evse.station_id: evse.phases for evse in site.evses}
    changes = []
    for station in stations.stations:
        for at, limit, phases in station.state.charging.limit_log:
            changes.append((at, station.state.station_id, limit, phases))
    changes.sort(key=lambda change: change[0])
    current: dict[str, tuple[float, tuple[Phase, ...]]] = {}
    largest = dict.fromkeys(Phase, 0.0)
    index = 0
    while index < len(changes):
        at = changes[index][0]
        # Every change of one instant first: what counts is the state between instants.
        while index < len(changes) and changes[index][0] == at:
            _, station_id, limit, phases = changes[index]
            if limit is None:
                current.pop(station_id, None)
            else:
                current[station_id] = (limit, wiring[station_id][:phases])
            index += 1
        for phase in Phase:
            load = sum(limit for limit, loaded in current.values() if phase in loaded)
            largest[phase] = max(largest[phase], load)
    return Sums(largest, site.groups[0].amperes_per_phase(), len(changes))


async def watch_allocations(stores: Stores, site_id: str, until: float,
                            samples: list[SiteAllocation]) -> None:
    while time.monotonic() < until:
        record = await stores.allocations.get(*allocation_key(site_id))
        if record is not None:
            samples.append(record)
        await asyncio.sleep(0.5)


def check_queue_order(samples: list[SiteAllocation]) -> int:
    """Every queued session arrived after every admitted one (one priority here)."""
    checked = 0
    for record in samples:
        arrivals = {f"{each.station_id}/{each.evse_id}": each.started_at
                    for each in record.sessions}
        queued = [arrivals[key] for key in record.queue if key in arrivals]
        admitted = [at for key, at in arrivals.items()
                    if key in record.shares and key not in record.queue]
        if queued and admitted:
            assert min(queued) >= max(admitted), record.model_dump_json()
            checked += 1
    return checked


async def run_site(system, site_id: str, specs: list[StationSpec], seconds: float,
                   during=None) -> tuple[Site, SiteStations, list[SiteAllocation]]:
    site = site_of(site_id, specs)
    defined = system.cli("charging", "site", "define", "-", input=site.model_dump_json())
    assert defined.returncode == 0, defined.stderr
    stations = SiteStations(system.station_url, specs, Pace(), seed=len(site_id))
    nc = await system.connect()
    samples: list[SiteAllocation] = []
    try:
        await stations.start()
        until = time.monotonic() + seconds
        watching = asyncio.create_task(watch_allocations(Stores(nc.jetstream()), site_id,
                                                         until, samples))
        if during is not None:
            await during(stations, Stores(nc.jetstream()))
        await watching
    finally:
        await stations.stop()
        await nc.close()
    return site, stations, samples


# A session that began this long before its station was cut off may still have been
# waiting for its profile when the connection went.
CUT_OFF_MARGIN = 5.0


def transaction_latencies(stations: SiteStations,
                          unreachable: dict[str, tuple[float, float]] | None = None
                          ) -> list[float]:
    """Seconds from each session's start to its first TxProfile, at stations that take
    profiles; sessions that never got one are counted as infinite. A session that began
    while its station was cut off (``unreachable``: station id -> from, to, monotonic
    seconds), or a moment before, is left out: no profile could reach it."""
    result = []
    for station in stations.stations:
        charging = station.state.charging
        if charging.refuses:
            continue
        cut_off = (unreachable or {}).get(station.state.station_id)
        firsts: dict[str, float] = {}
        for at, purpose, transaction_id in charging.profile_log:
            if purpose is Purpose.TX and transaction_id is not None:
                firsts.setdefault(transaction_id, at)
        for transaction_id, (started, ended) in charging.sessions.items():
            if cut_off is not None and cut_off[0] - CUT_OFF_MARGIN <= started <= cut_off[1]:
                continue
            got = firsts.get(transaction_id)
            if got is not None:
                result.append(got - started)
            elif ended is not None and ended - started > 5.0:
                result.append(float("inf"))
    return result


@pytest.mark.timeout(RUN_SECONDS + 120)
async def test_a_site_never_draws_more_than_its_connection(site_system):
    specs = station_specs("LM", 20, refusing={4, 11})
    unreachable: dict[str, tuple[float, float]] = {}

    async def drop_one(stations: SiteStations, stores: Stores) -> None:
        await asyncio.sleep(RUN_SECONDS / 3)
        dropped = stations.by_id("LM-07")
        dropped_at = time.monotonic()
        dropped.drop()
        await asyncio.sleep(RUN_SECONDS / 6)
        await stations.connect(dropped)
        unreachable["LM-07"] = (dropped_at, time.monotonic())

    site, stations, samples = await run_site(site_system, "SITE-LM", specs, RUN_SECONDS,
                                             drop_one)
    sums = per_phase_sums(site, stations)
    print(f"\nlargest per-phase sums {sums.largest} against {sums.at_most:.1f} A "
          f"over {sums.instants} changes")
    for phase, load in sums.largest.items():
        assert load <= sums.at_most + 1e-6, (phase, load)
    assert max(sums.largest.values()) > sums.at_most / 2  # the site was busy
    latencies = transaction_latencies(stations, unreachable)
    finite = sorted(each for each in latencies if each != float("inf"))
    print(f"sessions {len(latencies)}: share after median {finite[len(finite) // 2]:.3f} s, "
          f"max {finite[-1]:.3f} s")
    assert len(finite) > 40 and len(finite) == len(latencies)
    assert check_queue_order(samples) > 0
    last = samples[-1]
    assert set(last.uncontrolled) >= {"LM-04", "LM-11"}


@pytest.mark.timeout(KILL_RUN_SECONDS + 120)
async def test_a_killed_load_manager_leaves_the_site_to_the_other(site_system):
    specs = station_specs("LK", 12, refusing=set())
    with service_process("workers", site_system, SETTINGS):
        killed: list[int] = []
        killed_at: list = []

        async def kill_the_holder(stations: SiteStations, stores: Stores) -> None:
            await asyncio.sleep(KILL_RUN_SECONDS / 3)
            while not killed:
                record = await stores.allocations.get(*allocation_key("SITE-LK"))
                if record is not None and record.holder is not None:
                    pid = int(record.holder.split("-")[2])
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    killed_at.append(utc_now())
                await asyncio.sleep(0.01)

        site, stations, samples = await run_site(site_system, "SITE-LK", specs,
                                                 KILL_RUN_SECONDS, kill_the_holder)
    sums = per_phase_sums(site, stations)
    for phase, load in sums.largest.items():
        assert load <= sums.at_most + 1e-6, (phase, load)
    # The site went on being divided after its holder died: by the other worker, or by
    # the one the supervisor started in the dead one's place, once the lease ran out.
    assert killed, "no worker held the site's lease to be killed"
    divided_after = {record.allocated_at for record in samples
                     if record.allocated_at is not None and record.allocated_at > killed_at[0]}
    assert divided_after, "the site was not divided again after its holder was killed"
    latencies = transaction_latencies(stations)
    assert latencies and all(each != float("inf") for each in latencies)


async def test_a_cars_needs_and_a_limit_from_outside_weigh_in(site_system):
    """2.x: a car that must leave within the hour with 40 kWh to charge gets more than
    one that says nothing; a limit a station reports from a local energy manager holds
    its car, and lifting it gives the car its share back."""
    specs = [StationSpec(f"LN-{index}", OcppVersion.V201) for index in range(2)]
    site = Site(site_id="SITE-LN", groups=(Group(group_id="SITE-LN", amperes=32.0),),
                evses=tuple(Evse(station_id=spec.station_id, evse_id=1, group_id="SITE-LN")
                            for spec in specs))
    defined = site_system.cli("charging", "site", "define", "-", input=site.model_dump_json())
    assert defined.returncode == 0, defined.stderr
    long_sessions = Pace(session_values=(600, 600), idle=(0.2, 0.5), single_phase=0.0,
                         nearly_full=0.0)
    stations = SiteStations(site_system.station_url, specs, long_sessions, seed=7)
    nc = await site_system.connect()
    stores = Stores(nc.jetstream())
    [needy, other] = stations.stations
    for station in stations.stations:
        station.state.charging.car = Car(phases=3, max_current=32.0)

    async def shares(condition) -> dict[str, float]:
        for _ in range(100):
            record = await stores.allocations.get(*allocation_key("SITE-LN"))
            found = {key.partition("/")[0]: value
                     for key, value in (record.shares if record else {}).items()}
            held = {station.state.station_id: station.state.charging.limit()
                    for station in stations.stations}
            if len(found) == 2 and condition(found) and held == found:
                return found
            await asyncio.sleep(0.2)
        raise AssertionError(f"shares {found}, stations hold {held}")

    try:
        await stations.start()
        even = await shares(lambda found: len(set(found.values())) == 1)
        assert even == {"LN-0": 16.0, "LN-1": 16.0}
        departure = (utc_now() + timedelta(hours=1)).isoformat()
        needy.state.triggered.append(("NotifyEVChargingNeeds", {
            "evseId": 1, "chargingNeeds": {
                "requestedEnergyTransfer": "AC_three_phase", "departureTime": departure,
                "acChargingParameters": {"energyAmount": 40000, "evMinCurrent": 6,
                                         "evMaxCurrent": 32, "evMaxVoltage": 400}}}))
        weighed = await shares(lambda found: found["LN-0"] > found["LN-1"])
        assert weighed["LN-0"] + weighed["LN-1"] <= 32.0
        needy.state.triggered.append(("NotifyChargingLimit", {
            "evseId": 1, "chargingLimit": {"chargingLimitSource": "EMS",
                                           "isGridCritical": False},
            "chargingSchedule": [{"id": 1, "chargingRateUnit": "A",
                                  "chargingSchedulePeriod": [{"startPeriod": 0,
                                                              "limit": 10.0}]}]}))
        held = await shares(lambda found: found["LN-0"] == 10.0)
        assert held["LN-1"] == 22.0
        needy.state.triggered.append(("ClearedChargingLimit", {"chargingLimitSource": "EMS",
                                                               "evseId": 1}))
        await shares(lambda found: found["LN-0"] > found["LN-1"])
        for action in ("NotifyEVChargingNeeds", "NotifyChargingLimit", "ClearedChargingLimit"):
            assert needy.tally.stats.latencies.get(action), f"{action} was not answered"
        assert not needy.tally.stats.callerrors and not other.tally.stats.callerrors
    finally:
        await stations.stop()
        await nc.close()


async def test_a_session_whose_end_never_came_is_forgotten(site_system):
    """A transaction the transactions record as ended (its stop lost, or closed by
    chargebus's own rules) stops counting on the site within a few periods."""
    spec = StationSpec("LE-0", OcppVersion.V16)
    site = Site(site_id="SITE-LE", groups=(Group(group_id="SITE-LE", amperes=32.0),),
                evses=(Evse(station_id=spec.station_id, evse_id=1, group_id="SITE-LE"),))
    defined = site_system.cli("charging", "site", "define", "-", input=site.model_dump_json())
    assert defined.returncode == 0, defined.stderr
    stations = SiteStations(site_system.station_url, [spec],
                            Pace(session_values=(600, 600), idle=(0.2, 0.3)), seed=3)
    nc = await site_system.connect()
    stores = Stores(nc.jetstream())
    try:
        await stations.start()
        session = None
        for _ in range(100):
            record = await stores.allocations.get(*allocation_key("SITE-LE"))
            if record is not None and record.sessions:
                [session] = record.sessions
                break
            await asyncio.sleep(0.2)
        assert session is not None, "the session never reached the load manager"
        key = transaction_key(session.station_id, session.transaction_id)
        for _ in range(150):
            # The transactions consumer has applied the start: a record is rebuilt from
            # the events applied, and one applied after the change below would undo it.
            transaction = await stores.transactions.get(*key)
            if transaction is not None and transaction.started_at is not None:
                break
            await asyncio.sleep(0.2)
        # The station goes without a word (no StopTransaction): no event follows.
        await stations.stop()
        await stores.transactions.modify(
            lambda current: current.model_copy(update={"stopped_at": utc_now(),
                                                       "closed_by_rule": "test"}), *key)
        deadline = asyncio.get_running_loop().time() + 60
        while asyncio.get_running_loop().time() < deadline:
            record = await stores.allocations.get(*allocation_key("SITE-LE"))
            if not record.sessions:
                break
            await asyncio.sleep(0.2)
        assert record.sessions == []
        assert f"LE-0/{session.transaction_id}" in record.ended
    finally:
        await stations.stop()
        await nc.close()


async def test_a_curtailment_of_a_feeder_holds_its_cars_and_lifting_it_frees_them(site_system):
    """A temporary limit of a feeder (a grid operator's curtailment) set from the command
    line: the cars behind it are held to it at once, the other feeder's car is not, and
    lifting it gives them their share back."""
    specs = [StationSpec(f"LC-{index}", OcppVersion.V201) for index in range(3)]
    site = Site(site_id="SITE-LC", groups=(
        Group(group_id="SITE-LC", amperes=64.0),
        Group(group_id="LC-F1", parent="SITE-LC", amperes=32.0),
        Group(group_id="LC-F2", parent="SITE-LC", amperes=32.0)),
        evses=(Evse(station_id="LC-0", evse_id=1, group_id="LC-F1"),
               Evse(station_id="LC-1", evse_id=1, group_id="LC-F1"),
               Evse(station_id="LC-2", evse_id=1, group_id="LC-F2")))
    defined = site_system.cli("charging", "site", "define", "-", input=site.model_dump_json())
    assert defined.returncode == 0, defined.stderr
    stations = SiteStations(site_system.station_url, specs,
                            Pace(session_values=(600, 600), idle=(0.2, 0.3), single_phase=0.0,
                                 nearly_full=0.0), seed=5)
    for station in stations.stations:
        station.state.charging.car = Car(phases=3, max_current=32.0)

    async def held(expected: dict[str, float]) -> None:
        for _ in range(100):
            now = {station.state.station_id: station.state.charging.limit()
                   for station in stations.stations}
            if now == expected:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"stations hold {now}, not {expected}")

    try:
        await stations.start()
        await held({"LC-0": 16.0, "LC-1": 16.0, "LC-2": 32.0})
        limited = await asyncio.to_thread(site_system.cli, "charging", "limit", "SITE-LC",
                                          "--group", "LC-F1", "--amperes", "12",
                                          "--minutes", "10")
        assert limited.returncode == 0, limited.stderr
        await held({"LC-0": 6.0, "LC-1": 6.0, "LC-2": 32.0})
        lifted = await asyncio.to_thread(site_system.cli, "charging", "unlimit", "SITE-LC")
        assert lifted.returncode == 0, lifted.stderr
        await held({"LC-0": 16.0, "LC-1": 16.0, "LC-2": 32.0})
    finally:
        await stations.stop()
