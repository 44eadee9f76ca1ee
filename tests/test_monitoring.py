"""2.x variable monitoring: a monitor set and kept on its variable, an event the station
raises when a value crosses it kept as the variable's latest, the station's own monitors
fetched back, cleared; base and level taken; 1.6 refused before anything is sent."""
import asyncio
import json

import pytest

from site_stations import cli, idle_station
from chargebus.ocpp import OcppVersion
from chargebus.state.stores import components_of

VARIABLE = "SampledDataCtrlr/TxUpdatedInterval"


async def component_of(stores, station_id: str, wanted) -> dict:
    for _ in range(50):
        for component in await stores.components.all(*components_of(station_id)):
            if component.ref.name == "SampledDataCtrlr":
                variable = component.variables.get("TxUpdatedInterval")
                if variable is not None and wanted(variable):
                    return variable
        await asyncio.sleep(0.2)
    raise AssertionError(f"{station_id}: {VARIABLE} never became what was wanted")


@pytest.mark.parametrize("version", [OcppVersion.V201, OcppVersion.V21])
async def test_a_monitor_raises_events_and_is_kept(system, stores, version):
    async with idle_station(system, version, "MO") as held:
        station_id = held.state.station_id
        watched = await cli(system, "monitors", "set", station_id, VARIABLE, "--type",
                            "UpperThreshold", "--value", "100", "--severity", "3", "--json")
        assert watched.returncode == 0, watched.stderr
        [result] = json.loads(watched.stdout)["result"]["monitors"]
        monitor_id = result["monitor_id"]
        variable = await component_of(stores, station_id,
                                      lambda variable: monitor_id in variable.monitors)
        assert variable.monitors[monitor_id].kind == "UpperThreshold"

        # Past its threshold: the station raises an event, kept as the variable's latest.
        changed = await cli(system, "config", "set", station_id, f"{VARIABLE}=250")
        assert changed.returncode == 0, changed.stderr
        variable = await component_of(stores, station_id,
                                      lambda variable: variable.last_event is not None)
        event = variable.last_event
        assert (event.actual_value, event.monitor_id, event.trigger) == (
            "250", monitor_id, "Alerting")
        shown = await cli(system, "config", "show", station_id, "--component",
                          "SampledDataCtrlr")
        assert f"TxUpdatedInterval monitor {monitor_id}: UpperThreshold 100" in shown.stdout
        assert "Alerting 250" in shown.stdout

        # Known to the station alone: fetched back into the model.
        held.state.monitors[77] = (("SampledDataCtrlr", "TxUpdatedInterval"), "Delta", 5.0, 8,
                                   False)
        fetched = await cli(system, "monitors", "fetch", station_id)
        assert fetched.returncode == 0, fetched.stderr
        variable = await component_of(stores, station_id,
                                      lambda variable: 77 in variable.monitors)
        assert set(variable.monitors) == {monitor_id, 77}

        for command in (("base", "All"), ("level", "4")):
            done = await cli(system, "monitors", *command[:1], station_id, *command[1:])
            assert done.returncode == 0, done.stderr
        cleared = await cli(system, "monitors", "clear", station_id, str(monitor_id), "77")
        assert cleared.returncode == 0, cleared.stderr
        await component_of(stores, station_id, lambda variable: not variable.monitors)
        unknown = await cli(system, "monitors", "clear", station_id, "5")
        assert unknown.returncode == 1


async def test_a_monitor_of_an_unknown_variable_is_refused_by_the_station(system):
    async with idle_station(system, OcppVersion.V201, "MO") as held:
        done = await cli(system, "monitors", "set", held.state.station_id, "Nope/Nothing",
                         "--type", "Delta", "--value", "1")
        assert done.returncode == 1 and "UnknownComponent" in done.stdout


async def test_16_has_no_monitoring(system):
    async with idle_station(system, OcppVersion.V16, "MO") as held:
        done = await cli(system, "monitors", "level", held.state.station_id, "3")
        assert done.returncode == 2 and "1.6 call" in done.stderr
