"""`chargebus charging` against the project's simulated stations of each version: a
profile sent, kept with the station's answer, shown, cleared; the station's own list
fetched back (2.x); the composite schedule as chargebus computes it beside the station's
own; sites defined and shown; what chargebus refuses refused with exit 2 and one line."""
import asyncio
import json
import uuid
from datetime import timedelta

import pytest

from site_stations import cli, idle_station
from chargebus.domain.profiles import (ChargingProfile, ChargingSchedule, Kind, Purpose,
                                       RateUnit, SchedulePeriod)
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.clock import utc_now
from chargebus.operations import audit

def station(system, version: OcppVersion, refuses: bool = False):
    return idle_station(system, version, "SC", refuses)


@pytest.mark.parametrize("version", list(OcppVersion))
async def test_a_profile_is_sent_kept_shown_and_cleared(system, bus, version):
    async with station(system, version) as held:
        station_id = held.state.station_id
        sent = await cli(system, "charging", "profile", "set", station_id, "--evse", "1",
                         "--id", "11", "--purpose", "TxDefaultProfile", "--unit", "A",
                         "--period", "0:16", "--period", "3600:10:1", "--stack", "2")
        assert sent.returncode == 0, sent.stderr
        assert "SetChargingProfile Accepted" in sent.stdout
        [kept] = held.state.charging.profiles
        assert (kept.evse_id, kept.profile.profile_id, kept.profile.stack_level) == (1, 11, 2)
        listed = await cli(system, "charging", "profiles", station_id, "--json")
        [entry] = [json.loads(line) for line in listed.stdout.splitlines()]
        assert entry["status"] == "Accepted" and entry["profile"]["profile_id"] == 11
        assert entry["source"].startswith("chargebus-cli")

        schedule = await cli(system, "charging", "schedule", station_id, "--evse", "1",
                             "--duration", "7200", "--ask-station", "--json")
        assert schedule.returncode == 0, schedule.stderr
        both = json.loads(schedule.stdout)
        assert both["station_answer"] == "Accepted"
        ours, theirs = both["chargebus"], both["station"]
        # Both from the same profile: 16 A now, 10 A on one phase after an hour (counted
        # from when each computed it, a moment apart).
        assert [period["limit"] for period in ours["periods"]] == [16.0, 10.0]
        assert [period["limit"] for period in theirs["periods"]] == [16.0, 10.0]

        cleared = await cli(system, "charging", "profile", "clear", station_id, "--id", "11")
        assert cleared.returncode == 0, cleared.stderr
        assert held.state.charging.profiles == []
        listed = await cli(system, "charging", "profiles", station_id, "--json")
        assert listed.stdout == ""
        again = await cli(system, "charging", "profile", "clear", station_id, "--id", "11")
        assert again.returncode == 1 and "Unknown" in again.stdout

        trail = await audit.read(bus.jetstream(), station_id, utc_now() - timedelta(hours=1),
                                 100)
        assert [record.action for record in trail].count("SetChargingProfile") == 1
        assert "GetCompositeSchedule" in [record.action for record in trail]


@pytest.mark.parametrize("version", [OcppVersion.V201, OcppVersion.V21])
async def test_a_stations_own_list_comes_back_with_a_fetch(system, version):
    async with station(system, version) as held:
        station_id = held.state.station_id
        sent = await cli(system, "charging", "profile", "set", station_id, "--evse", "1",
                         "--id", "21", "--purpose", "TxDefaultProfile", "--unit", "W",
                         "--period", "0:7400")
        assert sent.returncode == 0, sent.stderr
        # Set at the station by someone else (a local energy manager): chargebus knows
        # nothing of it until it fetches the station's list.
        assert held.state.charging.set_profile(0, ChargingProfile(
            profile_id=22, stack_level=1, purpose=Purpose.STATION_MAX, kind=Kind.ABSOLUTE,
            schedule=ChargingSchedule(unit=RateUnit.AMPERES, start_schedule=utc_now(),
                                      periods=(SchedulePeriod(start_period=0, limit=20),))
        )) == "Accepted"
        fetched = await cli(system, "charging", "profile", "fetch", station_id)
        assert fetched.returncode == 0, fetched.stderr

        async def listed():
            done = await cli(system, "charging", "profiles", station_id, "--json")
            entries = [json.loads(line) for line in done.stdout.splitlines()]
            return entries if {each["profile"]["profile_id"] for each in entries} == {21, 22} \
                else None
        entries = None
        for _ in range(50):
            entries = await listed()
            if entries:
                break
            await asyncio.sleep(0.2)
        assert entries, "the station's report did not reach the store"
        assert {each["status"] for each in entries} == {"Reported"}


async def test_a_refused_profile_exits_1_and_is_kept_among_the_refusals(system):
    async with station(system, OcppVersion.V16, refuses=True) as held:
        station_id = held.state.station_id
        sent = await cli(system, "charging", "profile", "set", station_id, "--evse", "0",
                         "--id", "5", "--purpose", "ChargePointMaxProfile", "--unit", "A",
                         "--period", "0:40")
        assert sent.returncode == 1 and "Rejected" in sent.stdout
        listed = await cli(system, "charging", "profiles", station_id, "--refused", "--json")
        [entry] = [json.loads(line) for line in listed.stdout.splitlines()]
        assert entry["status"] == "Rejected"


@pytest.mark.parametrize("arguments, says", [
    (("--period", "0"), "START:LIMIT"),
    (("--period", "0:-3"), "START:LIMIT"),
    (("--period", "0:16", "--purpose", "Sideways"), "purposes are"),
    (("--period", "10:16"), "the first period of a schedule starts at 0"),
    (("--period", "0:16", "--kind", "Recurring"), "recurrency"),
])
def test_a_bad_profile_is_refused_in_one_line(system, arguments, says):
    base = ["charging", "profile", "set", "CP-NOWHERE", "--evse", "1", "--id", "1",
            "--unit", "A"]
    if "--purpose" not in arguments:
        base += ["--purpose", "TxDefaultProfile"]
    done = system.cli(*base, *arguments)
    assert done.returncode == 2
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1


async def test_what_16_cannot_carry_is_refused_with_exit_2(system):
    async with station(system, OcppVersion.V16) as held:
        done = await cli(system, "charging", "profile", "set", held.state.station_id,
                         "--evse", "0", "--id", "3", "--unit", "A", "--period", "0:20",
                         "--purpose", "ChargingStationExternalConstraints")
        assert done.returncode == 2 and "1.6 has no" in done.stderr
        fetch = await cli(system, "charging", "profile", "fetch", held.state.station_id)
        assert fetch.returncode == 2 and "2.x" in fetch.stderr


def test_a_site_is_defined_shown_listed_and_removed(system):
    site_id = f"SITE-{uuid.uuid4().hex[:6]}"
    station_id = f"SC-{uuid.uuid4().hex[:8]}"
    definition = {"site_id": site_id, "groups": [
        {"group_id": site_id, "watts": 50000},
        {"group_id": "FEEDER-A", "parent": site_id, "amperes": 40, "phases": 3}],
        "evses": [{"station_id": station_id, "evse_id": 1, "group_id": "FEEDER-A",
                   "phases": ["L2", "L3", "L1"], "max_current": 16, "priority": 1}]}
    done = system.cli("charging", "site", "define", "-", input=json.dumps(definition))
    assert done.returncode == 0, done.stderr
    shown = system.cli("charging", "site", "show", site_id)
    assert f"{site_id}: 50000 W (72.5 A per phase)" in shown.stdout
    assert f"    {station_id} evse 1: L2/L3/L1, 6-16 A, priority 1" in shown.stdout
    assert site_id in system.cli("charging", "site", "list").stdout

    other = dict(definition, site_id="SITE-OTHER", groups=[{"group_id": "SITE-OTHER",
                                                             "amperes": 10}],
                 evses=[dict(definition["evses"][0], group_id="SITE-OTHER")])
    taken = system.cli("charging", "site", "define", "-", input=json.dumps(other))
    assert taken.returncode == 2 and f"is in site {site_id}" in taken.stderr

    limited = system.cli("charging", "limit", site_id, "--group", "FEEDER-A", "--amperes", "20",
                         "--minutes", "30")
    assert limited.returncode == 0, limited.stderr
    allocation = system.cli("charging", "allocation", site_id)
    assert "limit FEEDER-A: 20 A per phase" in allocation.stdout
    assert system.cli("charging", "unlimit", site_id).returncode == 0
    assert "limit FEEDER-A" not in system.cli("charging", "allocation", site_id).stdout

    assert system.cli("charging", "site", "remove", site_id).returncode == 0
    assert system.cli("charging", "site", "show", site_id).returncode == 1


@pytest.mark.parametrize("definition, says", [
    ("{", "Invalid JSON"),
    ('{"site_id": "S", "groups": []}', "groups"),
    ('{"site_id": "S", "groups": [{"group_id": "S"}]}', "one of them"),
    ('{"site_id": "S", "groups": [{"group_id": "S", "amperes": 10}], "evses": ['
     '{"station_id": "A", "evse_id": 1, "group_id": "NOPE"}]}', "does not have"),
    ('{"site_id": "S", "groups": [{"group_id": "S", "amperes": 10, "phases": 1}], "evses": ['
     '{"station_id": "A", "evse_id": 1, "group_id": "S"}]}', "phase its group does not have"),
])
def test_a_bad_site_is_refused_in_one_line(system, definition, says):
    done = system.cli("charging", "site", "define", "-", input=definition)
    assert done.returncode == 2, done.stdout
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1


async def test_the_2x_smart_charging_notifications_are_answered(system):
    """NotifyEVChargingNeeds is answered Processing (the load manager sends the profile),
    NotifyEVChargingSchedule Accepted, NotifyChargingLimit and ClearedChargingLimit
    acknowledged; 2.1's NotifyPriorityCharging acknowledged and PullDynamicScheduleUpdate
    Rejected (chargebus sends no Dynamic profiles)."""
    from ocpp.v201 import ChargePoint as ChargePoint201
    from ocpp.v201 import call as call201
    from ocpp.v21 import ChargePoint as ChargePoint21
    from ocpp.v21 import call as call21

    from conftest import ocpp_station

    now = utc_now().isoformat()
    async with ocpp_station(system, f"SN-{uuid.uuid4().hex[:8]}", ChargePoint201,
                            ["ocpp2.0.1"], "ocpp2.0.1") as station:
        booted = await station.call(call201.BootNotification(
            charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"))
        assert booted.status == "Accepted"
        needs = await station.call(call201.NotifyEVChargingNeeds(
            evse_id=1, charging_needs={"requested_energy_transfer": "AC_three_phase",
                                       "ac_charging_parameters": {
                                           "energy_amount": 20000, "ev_min_current": 6,
                                           "ev_max_current": 32, "ev_max_voltage": 400}}))
        assert needs.status == "Processing"
        schedule = await station.call(call201.NotifyEVChargingSchedule(
            time_base=now, evse_id=1, charging_schedule={
                "id": 1, "charging_rate_unit": "A",
                "charging_schedule_period": [{"start_period": 0, "limit": 16}]}))
        assert schedule.status == "Accepted"
        # suppress=False: a CALLERROR raises instead of answering None.
        await station.call(call201.NotifyChargingLimit(
            charging_limit={"charging_limit_source": "EMS"}, evse_id=1), suppress=False)
        await station.call(call201.ClearedChargingLimit(charging_limit_source="EMS"),
                           suppress=False)
    async with ocpp_station(system, f"SN-{uuid.uuid4().hex[:8]}", ChargePoint21,
                            ["ocpp2.1"], "ocpp2.1") as station:
        booted = await station.call(call21.BootNotification(
            charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"))
        assert booted.status == "Accepted"
        await station.call(call21.NotifyPriorityCharging(transaction_id="T-1", activated=True),
                           suppress=False)
        pulled = await station.call(call21.PullDynamicScheduleUpdate(charging_profile_id=7))
        assert pulled.status == "Rejected"
