"""OCPP 1.6J end to end: the `ocpp` package's ChargePoint over a real WebSocket to the
edge, through NATS to the workers and the sink; checked in KV and in ClickHouse."""
import asyncio
import re
import uuid
from datetime import timedelta

import pytest
from ocpp.v16 import ChargePoint, call

from conftest import ended, eventually, ocpp_station, rows_when, started_and_ended
from moments import ago, clickhouse_text, stamp, yesterday
from chargebus.meter.analytics import Analytics
from chargebus.state.stores import token_key

pytestmark = pytest.mark.asyncio(loop_scope="session")


def station(system, station_id: str):
    return ocpp_station(system, station_id, ChargePoint, ["ocpp1.6"], "ocpp1.6")


def new_station_id() -> str:
    return f"CP16-{uuid.uuid4().hex[:8]}"


async def test_boot_is_accepted_and_the_station_stored(system, stores):
    station_id = new_station_id()
    async with station(system, station_id) as cp:
        reply = await cp.call(call.BootNotification(
            charge_point_vendor="Alfen", charge_point_model="Eve Double",
            charge_point_serial_number="SN-1", firmware_version="6.1.2"))
    assert reply.status == "Accepted"
    assert reply.interval == 300
    info = await stores.stations.get(station_id)
    assert (info.vendor, info.model, info.serial_number, info.firmware_version) == (
        "Alfen", "Eve Double", "SN-1", "6.1.2")
    assert info.version == "ocpp1.6"


async def test_heartbeat_answers_utc_with_z(system):
    async with station(system, new_station_id()) as cp:
        reply = await cp.call(call.Heartbeat())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", reply.current_time)


async def test_status_notification_is_stored(system, stores):
    station_id = new_station_id()
    async with station(system, station_id) as cp:
        reply = await cp.call(call.StatusNotification(
            connector_id=2, error_code="NoError", status="Preparing",
            timestamp="2026-11-21T10:00:00Z"))
    assert reply is not None
    status = await eventually(lambda: stores.statuses.get(station_id, "2"))
    assert (status.evse_id, status.status, status.error_code) == (2, "Preparing", "NoError")


async def test_authorize_known_and_unknown_tokens(system):
    token = f"TAG{uuid.uuid4().hex[:8]}"
    added = system.cli("tokens", "add", token)
    assert added.returncode == 0, added.stderr
    async with station(system, new_station_id()) as cp:
        known = await cp.call(call.Authorize(id_tag=token))
        lower = await cp.call(call.Authorize(id_tag=token.lower()))
        unknown = await cp.call(call.Authorize(id_tag="NO-SUCH-TAG"))
    assert known.id_tag_info["status"] == "Accepted"
    assert lower.id_tag_info["status"] == "Accepted"  # idTag is a CiString
    assert unknown.id_tag_info["status"] == "Invalid"


async def test_blocked_token_is_answered_blocked(system, stores):
    token = f"TAG{uuid.uuid4().hex[:8]}"
    assert system.cli("tokens", "add", token, "--status", "Blocked").returncode == 0
    assert (await stores.tokens.get(token_key(token))).status == "Blocked"
    async with station(system, new_station_id()) as cp:
        reply = await cp.call(call.Authorize(id_tag=token))
    assert reply.id_tag_info["status"] == "Blocked"


async def test_transaction_with_meter_values_lands_in_kv_and_clickhouse(system, stores, bus):
    station_id = new_station_id()
    token = f"TAG{uuid.uuid4().hex[:8]}"
    assert system.cli("tokens", "add", token).returncode == 0
    # An hour ago: a transaction silent for 48 hours would be closed by rule meanwhile.
    begin = ago(hours=1)
    async with station(system, station_id) as cp:
        await cp.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        started = await cp.call(call.StartTransaction(
            connector_id=1, id_tag=token, meter_start=1000, timestamp=stamp(begin)))
        transaction_id = started.transaction_id
        assert started.id_tag_info["status"] == "Accepted"
        assert await cp.call(call.MeterValues(connector_id=1, transaction_id=transaction_id,
                                              meter_value=[{
            "timestamp": stamp(begin + timedelta(minutes=5)),
            "sampledValue": [
                {"value": "1500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"},
                {"value": "16.1", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
                {"value": "16.3", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
            ]}])) is not None
        stopped = await cp.call(call.StopTransaction(
            transaction_id=transaction_id, meter_stop=2100,
            timestamp=stamp(begin + timedelta(minutes=10)), id_tag=token, reason="EVDisconnected",
            transaction_data=[{"timestamp": stamp(begin + timedelta(minutes=10)),
                               "sampledValue": [{"value": "2100"}]}]))
    assert stopped.id_tag_info["status"] == "Accepted"

    record = await eventually(lambda: started_and_ended(stores, station_id, str(transaction_id)))
    assert (record.evse_id, record.first_reading.wh, record.last_reading.wh, record.energy_wh,
            record.stop_reason) == (1, 1000, 2100, 1100, "EVDisconnected")
    assert record.id_token == token and not record.active
    # The session row of the whole transaction: a row written when only the end was
    # applied is replaced by it.
    session = await eventually(lambda: rows_when(
        bus, f"SELECT * FROM sessions FINAL WHERE station = '{station_id}' AND evse_id = 1", 1))
    assert [(row["transaction_id"], row["evse_id"], row["id_token"], row["energy_wh"],
             row["stop_reason"]) for row in session] == [
        (str(transaction_id), 1, token, 1100, "EVDisconnected")]

    query = (f"SELECT evse_id, transaction_id, toString(ts) AS ts, measurand, phase, unit, "
             f"value, context FROM meter_samples WHERE station = '{station_id}' "
             f"ORDER BY ts, measurand, phase, context")
    rows = await eventually(lambda: rows_when(bus, query, 7))
    # meterStart and meterStop are register readings too: a session's energy and the
    # analytics' agree.
    assert [(r["context"]) for r in rows if r["context"].startswith("Transaction.")] == [
        "Transaction.Begin", "Transaction.End"]
    assert [(r["evse_id"], r["transaction_id"], r["measurand"], r["phase"], r["unit"], r["value"])
            for r in rows] == [
        (1, str(transaction_id), "Energy.Active.Import.Register", "", "Wh", 1000),
        (1, str(transaction_id), "Current.Import", "L1", "A", 16.1),
        (1, str(transaction_id), "Current.Import", "L2", "A", 16.3),
        (1, str(transaction_id), "Energy.Active.Import.Register", "", "Wh", 1500),
        (1, str(transaction_id), "Power.Active.Import", "", "W", 7400),  # kW: one unit
        # From StopTransaction.transactionData, with 1.6's default measurand and unit,
        # and the connector of the transaction's start.
        (1, str(transaction_id), "Energy.Active.Import.Register", "", "Wh", 2100),
        (1, str(transaction_id), "Energy.Active.Import.Register", "", "Wh", 2100),
    ]
    assert rows[0]["ts"].startswith(clickhouse_text(begin))
    assert rows[1]["ts"].startswith(clickhouse_text(begin + timedelta(minutes=5)))


async def test_transaction_ids_are_unique_and_a_repeated_start_gets_the_same_id(system):
    begin = ago(hours=1)

    def start(second: int):
        return call.StartTransaction(connector_id=1, id_tag="ANY", meter_start=0,
                                     timestamp=stamp(begin + timedelta(seconds=second)))

    async with station(system, new_station_id()) as first, \
            station(system, new_station_id()) as other:
        # The same start from two stations, at once, is two transactions.
        replies = list(await asyncio.gather(first.call(start(0)), other.call(start(0))))
        replies += [await first.call(start(second)) for second in range(1, 5)]
        repeated = await first.call(start(1))
    ids = [reply.transaction_id for reply in replies]
    assert len(set(ids)) == 6 and all(isinstance(value, int) for value in ids)
    assert repeated.transaction_id == ids[2]  # the station repeated the start of second 1


async def test_unknown_token_start_is_invalid_but_still_numbered(system):
    async with station(system, new_station_id()) as cp:
        reply = await cp.call(call.StartTransaction(
            connector_id=1, id_tag="UNKNOWN", meter_start=0, timestamp=stamp(ago(minutes=1))))
    assert reply.id_tag_info["status"] == "Invalid"
    assert reply.transaction_id > 0


async def test_stop_of_unknown_transaction_is_kept(system, stores):
    station_id = new_station_id()
    async with station(system, station_id) as cp:
        reply = await cp.call(call.StopTransaction(
            transaction_id=987654321, meter_stop=10, timestamp="2026-11-21T12:00:00Z"))
    assert reply is not None
    record = await eventually(lambda: ended(stores, station_id, "987654321"))
    assert record.started_at is None and record.last_reading.wh == 10


async def test_session_energy_and_analytics_energy_agree(system, bus):
    """meterStart and meterStop count as energy register readings (a reported case: a
    session of 1750 Wh had 1000 Wh in `analytics energy`, which saw only the samples)."""
    station_id, token = new_station_id(), f"AG{uuid.uuid4().hex[:8]}"
    assert system.cli("tokens", "add", token, "--max-active", "0").returncode == 0
    day = yesterday()  # a whole day past, whatever the time of day now
    begin = day + timedelta(hours=9)
    async with station(system, station_id) as cp:
        started = await cp.call(call.StartTransaction(
            connector_id=1, id_tag=token, meter_start=1000, timestamp=stamp(begin)))
        await cp.call(call.MeterValues(
            connector_id=1, transaction_id=started.transaction_id, meter_value=[{
                "timestamp": stamp(begin + timedelta(minutes=20)),
                "sampledValue": [{"value": "2000", "measurand": "Energy.Active.Import.Register",
                                  "unit": "Wh"}]}]))
        await cp.call(call.StopTransaction(
            transaction_id=started.transaction_id, meter_stop=2750,
            timestamp=stamp(begin + timedelta(minutes=45)), id_tag=token))
    analytics = Analytics.over_nats(bus)

    async def both():
        sessions = await analytics.sessions(day, day + timedelta(days=1), station_id)
        energy = [row for row in await analytics.energy("station", day, day + timedelta(days=1))
                  if row["station"] == station_id]
        return (sessions, energy) if sessions and energy and energy[0]["energy_wh"] == 1750 \
            else None
    found = await eventually(both, timeout=30)
    assert found is not None, "analytics energy never counted meterStart and meterStop"
    sessions, energy = found
    assert sessions[0]["energy_wh"] == 1750 and energy[0]["energy_wh"] == 1750
