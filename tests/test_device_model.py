"""A station's configuration kept in KV: 1.6 keys from GetConfiguration and accepted
changes; the 2.x device model from every part of a NotifyReport, in any order, and from
Get/SetVariables; fetched on a station's first boot and when its firmware changes."""
import asyncio

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from conftest import eventually
from test_operations import Connected
from chargebus.domain.devicemodel import ComponentRef
from chargebus.domain.operations import (ReadDeviceModel, SetConfiguration, VariableName,
                                         VariableSetting)
from chargebus.state.stores import Stores, component_key, components_of, report_key

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _variables(bus, station_id: str) -> dict[str, dict[str, str | None]]:
    """Every variable chargebus holds of the station: component label -> name -> value."""
    found: dict[str, dict[str, str | None]] = {}
    for component in await Stores(bus.jetstream()).components.all(*components_of(station_id)):
        ref = component.ref
        label = (f"{ref.name or ''}.{ref.instance or ''}@{ref.evse_id}:{ref.connector_id}"
                 if ref.name else "")
        for key, variable in component.variables.items():
            found.setdefault(label, {})[key] = variable.attributes["Actual"].value
    return found


async def test_a_report_of_600_variables_in_parts_out_of_order(system, bus):
    async with Connected(system, bus, "ocpp2.0.1") as connected:
        station = connected.station
        station.extra_variables, station.part_size = 600, 100
        station.part_order = [3, 0, 6, 1, 5, 2, 4]  # 603 variables: 7 parts
        asked = await connected.perform(ReadDeviceModel())
        request_id = asked.operation.request_id
        stores = Stores(bus.jetstream())

        async def complete():
            report = await stores.reports.get(*report_key(connected.station_id, request_id))
            return report if report and report.complete else None
        report = await eventually(complete, timeout=30)
        variables = await _variables(bus, connected.station_id)
        shown = await asyncio.to_thread(system.cli, "config", "show", connected.station_id,
                                        "--component", "ocppcommctrlr")
        everything = await asyncio.to_thread(system.cli, "config", "show", connected.station_id)
    assert asked.taken and station.base_reports == [request_id]
    assert report.seq_nos == list(range(7)) and report.last_seq_no == 6
    assert sum(len(names) for names in variables.values()) == 603
    assert variables["OCPPCommCtrlr.@None:None"] == {"HeartbeatInterval": "300"}
    assert variables["Connector.i0@1:1"] == {"Available": "true"}
    assert variables["Connector.i299@2:1"] == {"Available": "true"}
    assert shown.returncode == 0
    assert shown.stdout.splitlines()[0] == (
        "OCPPCommCtrlr/HeartbeatInterval = 300 (Actual, ReadWrite)")
    lines = everything.stdout.splitlines()
    assert len(lines) == 604 and lines[-1] == f"report {request_id}: 7 parts, complete"
    assert "Connector.i0@1:1/Available = true (Actual, ReadOnly)" in lines


async def test_a_report_with_a_part_missing_says_so(system, bus):
    async with Connected(system, bus, "ocpp2.1") as connected:
        connected.station.extra_variables = 250
        connected.station.parts_withheld = {1}
        asked = await connected.perform(ReadDeviceModel())
        request_id = asked.operation.request_id
        stores = Stores(bus.jetstream())

        async def last_part():
            report = await stores.reports.get(*report_key(connected.station_id, request_id))
            return report if report and report.last_seq_no is not None else None
        report = await eventually(last_part, timeout=30)
        shown = await asyncio.to_thread(system.cli, "config", "show", connected.station_id)
    assert not report.complete and report.missing == [1]
    assert shown.stdout.splitlines()[-1] == f"report {request_id}: 2 parts, parts missing: 1"


async def test_variables_read_and_set_are_kept(system, bus):
    async with Connected(system, bus, "ocpp2.0.1") as connected:
        name = VariableName(component="OCPPCommCtrlr", variable="HeartbeatInterval")
        await connected.perform(SetConfiguration(settings=[VariableSetting(name=name,
                                                                           value="45")]))
        refused = await connected.perform(SetConfiguration(settings=[VariableSetting(
            name=VariableName(component="SecurityCtrlr", variable="SecurityProfile"),
            value="3")]))
        component = await Stores(bus.jetstream()).components.get(*component_key(
            connected.station_id, ComponentRef(name="OCPPCommCtrlr")))
        held = await _variables(bus, connected.station_id)
    assert component.variables["HeartbeatInterval"].attributes["Actual"].value == "45"
    assert not refused.taken and "SecurityCtrlr.@None:None" not in held


async def test_a_16_station_is_read_at_its_first_boot_and_its_changes_kept(system, bus):
    async with Connected(system, bus, "ocpp1.6") as connected:
        station = connected.station
        await station.call(call16.BootNotification(
            charge_point_vendor="Acme", charge_point_model="AC-22", firmware_version="1.0"))
        keys = await eventually(lambda: _variables(bus, connected.station_id))
        changed = await connected.perform(SetConfiguration(settings=[VariableSetting(
            name=VariableName(variable="MeterValueSampleInterval"), value="30")]))
        component = await Stores(bus.jetstream()).components.get(
            *component_key(connected.station_id, ComponentRef()))
        shown = await asyncio.to_thread(system.cli, "config", "show", connected.station_id)
    assert keys[""] == {"HeartbeatInterval": "300", "NumberOfConnectors": "2",
                        "MeterValueSampleInterval": "60"}
    assert changed.taken and changed.result.variables[0].status == "RebootRequired"
    variable = component.variables["MeterValueSampleInterval"]
    assert variable.attributes["Actual"].value == "30" and variable.reboot_required
    number = component.variables["NumberOfConnectors"]
    assert number.attributes["Actual"].mutability == "ReadOnly"
    assert "MeterValueSampleInterval = 30 (Actual, ReadWrite, reboot required)" in \
        shown.stdout.splitlines()


async def test_a_2x_station_is_read_again_when_its_firmware_changes(system, bus):
    async with Connected(system, bus, "ocpp2.0.1") as connected:
        station = connected.station

        async def boot(firmware: str) -> None:
            await station.call(call201.BootNotification(
                charging_station={"vendor_name": "Acme", "model": "DC-150",
                                  "firmware_version": firmware}, reason="PowerUp"))
        await boot("4.0")
        first = await eventually(lambda: _reports(station, 1))
        await boot("4.0")  # the same firmware: nothing to read again
        await asyncio.sleep(2)
        unchanged = list(station.base_reports)
        await boot("4.1")
        second = await eventually(lambda: _reports(station, 2))
    assert first and unchanged == station.base_reports[:1] and second


async def _reports(station, count: int) -> bool:
    return len(station.base_reports) >= count

