"""OCPP 2.0.1 end to end, with the `ocpp` package's v201 ChargePoint."""
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from ocpp.v201 import ChargePoint, call

from conftest import eventually, ocpp_station, rows_when
from conftest import ended as transaction_ended
from moments import ago, stamp
from chargebus.ocpp.clock import ocpp_timestamp

pytestmark = pytest.mark.asyncio(loop_scope="session")


def station(system, station_id: str, offered=("ocpp2.0.1",)):
    return ocpp_station(system, station_id, ChargePoint, list(offered), "ocpp2.0.1")


def new_station_id() -> str:
    return f"CS201-{uuid.uuid4().hex[:8]}"


async def test_server_prefers_201_when_both_are_offered(system):
    async with station(system, new_station_id(), offered=("ocpp1.6", "ocpp2.0.1")) as cs:
        reply = await cs.call(call.Heartbeat())
    assert reply.current_time.endswith("Z")


async def test_boot_is_accepted_and_the_station_stored(system, stores):
    station_id = new_station_id()
    async with station(system, station_id) as cs:
        reply = await cs.call(call.BootNotification(
            charging_station={"model": "Terra AC", "vendorName": "ABB",
                              "serialNumber": "TACW-42", "firmwareVersion": "1.8.3"},
            reason="PowerUp"))
    assert reply.status == "Accepted" and reply.interval == 300
    assert re.fullmatch(r".+T.+Z", reply.current_time)
    info = await stores.stations.get(station_id)
    assert (info.vendor, info.model, info.serial_number, info.firmware_version,
            info.boot_reason, info.version) == (
        "ABB", "Terra AC", "TACW-42", "1.8.3", "PowerUp", "ocpp2.0.1")


async def test_status_notification_is_stored_per_evse_and_connector(system, stores):
    station_id = new_station_id()
    async with station(system, station_id) as cs:
        await cs.call(call.StatusNotification(timestamp="2026-11-21T09:00:00Z",
                                              connector_status="Occupied", evse_id=1,
                                              connector_id=2))
    status = await eventually(lambda: stores.statuses.get(station_id, "1", "2"))
    assert (status.evse_id, status.connector_id, status.status) == (1, 2, "Occupied")


async def test_authorize(system):
    token = f"RFID{uuid.uuid4().hex[:8]}"
    assert system.cli("tokens", "add", token).returncode == 0
    async with station(system, new_station_id()) as cs:
        known = await cs.call(call.Authorize(id_token={"idToken": token, "type": "ISO14443"}))
        unknown = await cs.call(call.Authorize(id_token={"idToken": "NOPE", "type": "ISO14443"}))
    assert known.id_token_info["status"] == "Accepted"
    assert unknown.id_token_info["status"] == "Invalid"


def energy(value: float, timestamp: str, context: str) -> list[dict]:
    return [{"timestamp": timestamp, "sampledValue": [
        {"value": value, "context": context, "measurand": "Energy.Active.Import.Register",
         "unitOfMeasure": {"unit": "kWh"}}]}]


async def test_transaction_events_and_meter_values(system, stores, bus):
    station_id = new_station_id()
    token = f"RFID{uuid.uuid4().hex[:8]}"
    assert system.cli("tokens", "add", token).returncode == 0
    transaction_id = f"tx-{uuid.uuid4().hex[:12]}"
    # An hour ago: a transaction silent for 48 hours would be closed by rule meanwhile.
    begin = ago(hours=1)

    def at(minutes: int) -> str:
        return stamp(begin + timedelta(minutes=minutes))

    async with station(system, station_id) as cs:
        started = await cs.call(call.TransactionEvent(
            event_type="Started", timestamp=at(0), trigger_reason="Authorized",
            seq_no=0, transaction_info={"transactionId": transaction_id},
            evse={"id": 2, "connectorId": 1}, id_token={"idToken": token, "type": "ISO14443"},
            meter_value=energy(10.0, at(0), "Transaction.Begin")))
        assert started.id_token_info["status"] == "Accepted"
        updated = await cs.call(call.TransactionEvent(
            event_type="Updated", timestamp=at(15),
            trigger_reason="MeterValuePeriodic", seq_no=1,
            transaction_info={"transactionId": transaction_id, "chargingState": "Charging"},
            meter_value=[{"timestamp": at(15), "sampledValue": [
                {"value": 11.5, "measurand": "Energy.Active.Import.Register",
                 "unitOfMeasure": {"unit": "kWh"}},
                {"value": 2300, "measurand": "Voltage", "phase": "L1-N",
                 "unitOfMeasure": {"unit": "V", "multiplier": -1}},
            ]}]))
        assert updated is not None
        await cs.call(call.MeterValues(evse_id=2, meter_value=[{
            "timestamp": at(20),
            "sampledValue": [{"value": 11000, "measurand": "Power.Active.Import",
                              "unitOfMeasure": {"unit": "W"}}]}]))
        ended = await cs.call(call.TransactionEvent(
            event_type="Ended", timestamp=at(30), trigger_reason="EVDeparted",
            seq_no=2, transaction_info={"transactionId": transaction_id,
                                        "stoppedReason": "EVDisconnected"},
            meter_value=energy(13.25, at(30), "Transaction.End")))
        assert ended is not None

    record = await eventually(lambda: transaction_ended(stores, station_id, transaction_id))
    assert (record.evse_id, record.connector_id, record.id_token, sorted(record.applied_keys)) == (
        2, 1, token, ["seq:0", "seq:1", "seq:2"])
    assert (record.first_reading.wh, record.last_reading.wh, record.energy_wh,
            record.stop_reason) == (10000.0, 13250.0, 3250.0, "EVDisconnected")
    assert record.started_at == begin and not record.active

    query = ("SELECT evse_id, connector_id, transaction_id, toString(ts) AS ts, measurand, phase,"
             " context, unit, value FROM meter_samples"
             f" WHERE station = '{station_id}' ORDER BY ts, measurand")
    rows = await eventually(lambda: rows_when(bus, query, 5))
    assert [(r["evse_id"], r["transaction_id"], r["measurand"], r["phase"], r["unit"],
             r["value"]) for r in rows] == [
        (2, transaction_id, "Energy.Active.Import.Register", "", "Wh", 10000.0),  # from kWh
        (2, transaction_id, "Energy.Active.Import.Register", "", "Wh", 11500.0),
        (2, transaction_id, "Voltage", "L1-N", "V", 230.0),  # multiplier -1 applied
        (2, "", "Power.Active.Import", "", "W", 11000.0),  # MeterValues names no transaction
        (2, transaction_id, "Energy.Active.Import.Register", "", "Wh", 13250.0),
    ]
    assert rows[0]["context"] == "Transaction.Begin"


async def test_events_a_station_numbers_alike_still_make_the_session(system, stores, bus, capfd):
    """A station that sends every TransactionEvent with seqNo 0: each is applied by its
    content, the end ends the transaction, and the workers log the station's error."""
    station_id = new_station_id()
    transaction_id = f"tx-{uuid.uuid4().hex[:12]}"
    began = datetime.now(UTC) - timedelta(minutes=30)

    def at(minutes: int) -> str:
        return ocpp_timestamp(began + timedelta(minutes=minutes))

    async with station(system, station_id) as cs:
        for event_type, minutes, kwh, trigger, info, context in (
                ("Started", 0, 10.0, "CablePluggedIn", {}, "Transaction.Begin"),
                ("Updated", 10, 11.0, "MeterValuePeriodic", {"chargingState": "Charging"},
                 "Sample.Periodic"),
                ("Ended", 20, 12.5, "EVDeparted", {"stoppedReason": "EVDisconnected"},
                 "Transaction.End")):
            answer = await cs.call(call.TransactionEvent(
                event_type=event_type, timestamp=at(minutes), trigger_reason=trigger, seq_no=0,
                transaction_info={"transactionId": transaction_id, **info},
                evse={"id": 1, "connectorId": 1},
                meter_value=energy(kwh, at(minutes), context)))
            assert answer is not None

    record = await eventually(lambda: transaction_ended(stores, station_id, transaction_id))
    assert record is not None, "the Ended event was dropped"
    assert record.applied_keys == ["seq:0"] * 3
    assert (record.energy_wh, record.stop_reason) == (2500.0, "EVDisconnected")
    query = (f"SELECT transaction_id, energy_wh, stop_reason FROM sessions FINAL "
             f"WHERE station = '{station_id}'")
    rows = await eventually(lambda: rows_when(bus, query, 1))
    assert rows == [{"transaction_id": transaction_id, "energy_wh": 2500.0,
                     "stop_reason": "EVDisconnected"}]

    logged = []  # the workers' log reaches this process's stderr (conftest.start_system)

    async def warnings():
        logged.append(capfd.readouterr().err)
        lines = [line for line in "".join(logged).splitlines()
                 if " WARNING " in line and station_id in line and "seq:0" in line]
        return lines if len(lines) >= 2 else None

    lines = await eventually(warnings)
    assert lines is not None, "no warning names the station and its seqNo"
    assert {kind for line in lines for kind in ("Started", "Updated", "Ended")
            if f"({kind} at" in line} == {"Updated", "Ended"}
