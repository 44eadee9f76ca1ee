"""The operator's operations against the project's own simulated stations, one of each
version: they answer as real stations do and keep what they keep (their configuration,
their device model, the reservation they hold)."""
import asyncio
import uuid
from datetime import timedelta

import pytest

from conftest import CHARGEBUS, eventually
from test_operations import _token
from chargebus.domain.model import IdToken
from chargebus.domain.operations import (Availability, CancelReservation, ChangeAvailability,
                                         ClearCache, DataTransfer, GetConfiguration,
                                         ReadDeviceModel, Reset, ReserveNow, SetConfiguration,
                                         StartCharging, TriggerMessage, UnlockConnector,
                                         VariableName, VariableSetting)
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.clock import utc_now
from chargebus.operations.commands import Outcome
from chargebus.operations.perform import perform, transaction_of
from chargebus.simulate import Options, parse_mix
from chargebus.simulate.options import versions_of_stations
from chargebus.state.stores import Stores, report_key

pytestmark = pytest.mark.asyncio(loop_scope="session")
SENDER = "test"


async def test_every_operation_against_simulated_stations_of_each_version(system, bus):
    prefix = f"SOP{uuid.uuid4().hex[:6]}-"
    versions = versions_of_stations(3, parse_mix("1.6=1,2.0.1=1,2.1=1"))
    ids = {version: Options(url="ws://x/", station_prefix=prefix).station_id(index)
           for index, version in enumerate(versions)}
    simulator = await asyncio.create_subprocess_exec(
        CHARGEBUS, "simulate", "--quiet", "--url", f"ws://127.0.0.1:{system.edge_port}/ocpp/",
        "--mode", "idle", "--stations", "3", "--mix", "1.6=1,2.0.1=1,2.1=1", "--duration", "25",
        "--station-prefix", prefix,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    token = await _token(bus, max_active=0)
    outcomes: dict[OcppVersion, dict] = {}
    began: dict[OcppVersion, str | None] = {}
    try:
        for version, station_id in ids.items():
            async def run(operation, station_id=station_id):
                return await perform(bus, station_id, operation, sender=SENDER, timeout=10)

            async def reachable(station_id=station_id):
                presence = await Stores(bus.jetstream()).presence.get(station_id)
                return presence is not None and presence.online
            assert await eventually(reachable, timeout=20)
            is_16 = version is OcppVersion.V16
            name = (VariableName(variable="HeartbeatInterval") if is_16 else
                    VariableName(component="OCPPCommCtrlr", variable="HeartbeatInterval"))
            until = utc_now() + timedelta(minutes=5)
            started = await run(StartCharging(id_token=IdToken(value=token)))
            began[version] = await transaction_of(bus, started, timeout=15)
            done = {
                "start": started,
                "reset": await run(Reset()),
                "availability": await run(ChangeAvailability(
                    availability=Availability.INOPERATIVE, evse_id=1)),
                "unlock": await run(UnlockConnector(evse_id=1)),
                "unlock elsewhere": await run(UnlockConnector(evse_id=2)),
                "trigger": await run(TriggerMessage(message="Heartbeat")),
                "clear cache": await run(ClearCache()),
                "set": await run(SetConfiguration(settings=[VariableSetting(name=name,
                                                                            value="120")])),
                "get": await run(GetConfiguration(names=[name])),
                "data transfer": await run(DataTransfer(vendor_id="com.example")),
            }
            reserved = await run(ReserveNow(id_token=IdToken(value=token), expires_at=until))
            done["reserve"] = reserved
            done["reserve again"] = await run(ReserveNow(id_token=IdToken(value=token),
                                                         expires_at=until))
            done["cancel"] = await run(CancelReservation(
                reservation_id=reserved.operation.reservation_id))
            done["cancel again"] = await run(CancelReservation(
                reservation_id=reserved.operation.reservation_id))
            done["read"] = await run(ReadDeviceModel())
            outcomes[version] = done
    finally:
        _, stderr = await asyncio.wait_for(simulator.communicate(), 90)
    assert simulator.returncode == 0, stderr.decode()

    for version, done in outcomes.items():
        is_16 = version is OcppVersion.V16
        statuses = {label: performed.result.status if performed.result else performed.outcome
                    for label, performed in done.items()}
        assert all(performed.outcome is Outcome.RESULT for performed in done.values()), statuses
        assert statuses == {
            "reset": "Accepted", "availability": "Accepted", "unlock": "Unlocked",
            "unlock elsewhere": "NotSupported" if is_16 else "UnknownConnector",
            "trigger": "Accepted", "clear cache": "Accepted", "set": "Accepted",
            "get": "Accepted", "data transfer": "UnknownVendorId", "start": "Accepted",
            "reserve": "Accepted", "reserve again": "Occupied", "cancel": "Accepted",
            "cancel again": "Rejected", "read": "Accepted"}, version
        assert done["get"].result.variables[0].value == "120"
        # The remote start began a transaction, linked to it (1.6 by token and time).
        assert began[version] is not None, version
        if not is_16:  # the report the station sent is kept, whole
            request_id = done["read"].operation.request_id
            report = await Stores(bus.jetstream()).reports.get(
                *report_key(ids[version], request_id))
            assert report is not None and report.complete
