"""Fleet views: `chargebus stations list` (every station seen or admitted, online or not,
its connectors) and `chargebus sessions active` (transactions under way, energy so far)."""
import asyncio
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201

from conftest import eventually, ocpp_station
from test_operations import _token

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def _cli(system, *arguments: str):
    return await asyncio.to_thread(system.cli, *arguments)


async def _listed(system, *filters: str) -> dict[str, dict]:
    done = await _cli(system, "stations", "list", "--json", *filters)
    assert done.returncode == 0, done.stderr
    return {view["station_id"]: view for view in map(orjson.loads, done.stdout.splitlines())}


async def test_stations_list_shows_every_station_seen_and_filters(system, bus):
    tag = uuid.uuid4().hex[:6]
    gone, here = f"FL16-{tag}", f"FL201-{tag}"
    async with ocpp_station(system, gone, ChargePoint16, ["ocpp1.6"], "ocpp1.6") as station:
        await station.call(call16.BootNotification(
            charge_point_vendor="Acme", charge_point_model="AC-22", firmware_version="1.2.3"))
        await station.call(call16.StatusNotification(connector_id=1, error_code="NoError",
                                                     status="Faulted", timestamp=_now()))
    async with ocpp_station(system, here, ChargePoint201, ["ocpp2.0.1"], "ocpp2.0.1") as station:
        await station.call(call201.BootNotification(
            charging_station={"vendor_name": "Acme", "model": "DC-150",
                              "firmware_version": "4.0"}, reason="PowerUp"))
        await station.call(call201.StatusNotification(
            timestamp=_now(), connector_status="Occupied", evse_id=1, connector_id=1))

        async def both():
            listed = await _listed(system)
            return listed if {gone, here} <= set(listed) and listed[here]["connectors"] \
                and listed[gone]["connectors"] and not listed[gone]["online"] else None
        listed = await eventually(both)
        online = await _listed(system, "--online")
        offline = await _listed(system, "--offline")
        faulted = await _listed(system, "--status", "faulted")
        v16 = await _listed(system, "--version", "ocpp1.6")
        lines = (await _cli(system, "stations", "list")).stdout.splitlines()
        bad = await _cli(system, "stations", "list", "--version", "ocpp3")
    old, new = listed[gone], listed[here]
    assert (old["version"], old["vendor"], old["model"], old["firmware_version"]) == (
        "ocpp1.6", "Acme", "AC-22", "1.2.3")
    assert old["online"] is False and old["last_seen"] is not None and old["edge_id"] is None
    assert [(c["evse_id"], c["status"]) for c in old["connectors"]] == [(1, "Faulted")]
    assert (new["version"], new["model"], new["online"], new["edge_id"]) == (
        "ocpp2.0.1", "DC-150", True, "edge-1")
    assert [(c["evse_id"], c["connector_id"], c["status"]) for c in new["connectors"]] == [
        (1, 1, "Occupied")]
    assert here in online and gone not in online and gone in offline and here not in offline
    assert gone in faulted and here not in faulted and gone in v16 and here not in v16
    [line] = [line for line in lines if line.startswith(here + " ")]
    assert line == f"{here} ocpp2.0.1 Acme/DC-150 fw 4.0 online on edge-1 1/1:Occupied"
    assert (bad.returncode, bad.stdout) == (2, "")
    assert "argument --version: versions are ocpp1.6, ocpp2.0.1, ocpp2.1, not 'ocpp3'" \
        in bad.stderr


async def test_sessions_active_with_energy_so_far(system, bus):
    tag = uuid.uuid4().hex[:6]
    token = await _token(bus, max_active=0)
    station16, station201 = f"SA16-{tag}", f"SA201-{tag}"
    async with ocpp_station(system, station16, ChargePoint16, ["ocpp1.6"], "ocpp1.6") as old, \
            ocpp_station(system, station201, ChargePoint201, ["ocpp2.0.1"],
                         "ocpp2.0.1") as new:
        started = await old.call(call16.StartTransaction(
            connector_id=1, id_tag=token, meter_start=1000, timestamp=_now()))
        await old.call(call16.MeterValues(
            connector_id=1, transaction_id=started.transaction_id,
            meter_value=[{"timestamp": _now(), "sampled_value": [
                {"value": "1750", "measurand": "Energy.Active.Import.Register",
                 "unit": "Wh"}]}]))
        transaction_201 = f"tx-{tag}"
        for seq, (kind, wh) in enumerate((("Started", 5000), ("Updated", 5400))):
            await new.call(call201.TransactionEvent(
                event_type=kind, timestamp=_now(), trigger_reason="Authorized", seq_no=seq,
                transaction_info={"transaction_id": transaction_201},
                evse={"id": 2, "connector_id": 1},
                id_token={"id_token": token, "type": "ISO14443"},
                meter_value=[{"timestamp": _now(), "sampled_value": [
                    {"value": wh, "measurand": "Energy.Active.Import.Register",
                     "unit_of_measure": {"unit": "Wh"}}]}]))

        async def both():
            done = await _cli(system, "sessions", "active", "--json")
            views = {view["station_id"]: view
                     for view in map(orjson.loads, done.stdout.splitlines())}
            ready = views.get(station16, {}).get("energy_wh") == 750 \
                and views.get(station201, {}).get("energy_wh") == 400
            return views if ready else None
        views = await eventually(both, timeout=30)
        one = await _cli(system, "sessions", "active", "--station", station201)
    assert views[station16]["transaction_id"] == str(started.transaction_id)
    assert (views[station201]["transaction_id"], views[station201]["evse_id"]) == (
        transaction_201, 2)
    assert views[station16]["duration_s"] >= 0 and views[station16]["id_token"] == token
    [line] = one.stdout.splitlines()
    assert line.startswith(f"{station201} {transaction_201} evse 2 {token} ")
    assert line.endswith(" 400 Wh")
