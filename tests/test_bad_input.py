"""Bad input gets a clear answer and loses nothing."""
import asyncio
import uuid

import orjson
import pytest
import websockets
from nats.errors import TimeoutError as NatsTimeoutError

from conftest import eventually, sql
from chargebus.bus import events, subjects
from chargebus.bus.events import CallContext
from chargebus.ocpp import OcppVersion

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def call(socket, unique_id: str, action: str, payload: dict) -> list:
    await socket.send(orjson.dumps([2, unique_id, action, payload]).decode())
    return orjson.loads(await socket.recv())


async def dead_letters(bus, consumer: str, station_id: str) -> list:
    js = bus.jetstream()
    subscription = await js.subscribe(subjects.dead_letter(consumer), ordered_consumer=True)
    letters = []
    try:
        while True:
            msg = await subscription.next_msg(timeout=1)
            if msg.headers.get(events.STATION) == station_id:
                letters.append(msg)
    except NatsTimeoutError:
        return letters
    finally:
        await subscription.unsubscribe()


async def record_directly(bus, station_id: str, unique_id: str, action: str,
                          payload: dict | bytes) -> None:
    """Put a call into the OCPP stream the way an edge does, bypassing its validation
    (as an edge of an older release, or a bug, might)."""
    context = CallContext(station_id, OcppVersion.V16, action, unique_id, "test-edge",
                          "2026-11-21T10:00:00Z")
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    await bus.jetstream().publish(subjects.station_event(station_id, action), body,
                                  headers=context.record_headers(body))


async def test_a_payload_that_breaks_its_schema_is_refused_at_the_edge_and_not_recorded(
        system, bus):
    station_id = f"BAD-{uuid.uuid4().hex[:8]}"
    async with websockets.connect(system.station_url(station_id),
                                  subprotocols=["ocpp1.6"]) as socket:
        answer = await call(socket, "1", "MeterValues", {
            "connectorId": 1, "meterValue": [{"sampledValue": [{"value": "1"}]}]})
    assert answer == [4, "1", "OccurenceConstraintViolation",
                      "MeterValues: meterValue[0].timestamp is required", {}]
    info = await bus.jetstream().stream_info(
        subjects.OCPP_STREAM, subjects_filter=subjects.station_calls(station_id))
    assert not info.state.subjects


async def test_unusable_meter_values_go_to_dead_letters_and_block_nothing(system, bus):
    station_id = f"BAD-{uuid.uuid4().hex[:8]}"
    await record_directly(bus, station_id, "1", "MeterValues", {
        "connectorId": 1, "meterValue": [{"sampledValue": [{"value": "1"}]}]})  # no timestamp
    await record_directly(bus, station_id, "2", "MeterValues", {
        "connectorId": 1, "meterValue": [{"timestamp": "2026-11-21T10:00:00Z",
                                          "sampledValue": [{"value": "7"}]}]})

    async def stored():
        return await sql(bus, f"SELECT value FROM meter_samples WHERE station = '{station_id}'")

    assert await eventually(stored) == [{"value": 7}]
    letters = await eventually(lambda: dead_letters(bus, subjects.METER_SINK_CONSUMER, station_id))
    assert len(letters) == 1
    assert letters[0].headers[events.UNIQUE_ID] == "1"
    assert "timestamp" in letters[0].headers[events.REASON]
    assert orjson.loads(letters[0].data)["connectorId"] == 1  # the payload itself is kept


async def test_meter_values_clickhouse_would_read_otherwise_are_stored_as_the_sink_reads_them(
        system, bus):
    """The embedded sink hands calls to chdb as JSON; the ones chdb would read otherwise
    than the sink (a time not in RFC 3339, a member named twice, what only a lenient
    reading takes) are stored as the sink reads them, each once."""
    station_id = f"ODD-{uuid.uuid4().hex[:8]}"

    def meter_value(timestamp: str, value: str) -> str:
        return f'[{{"timestamp": "{timestamp}", "sampledValue": [{{"value": "{value}"}}]}}]'

    await record_directly(bus, station_id, "1", "MeterValues", {
        "connectorId": 1, "meterValue": orjson.loads(meter_value("2026-11-21T10:00:00Z", "1"))})
    await record_directly(bus, station_id, "2", "MeterValues", {
        "connectorId": 1, "meterValue": orjson.loads(meter_value("2026-11-21 10:02:00", "2"))})
    await record_directly(bus, station_id, "3", "MeterValues", (
        '{"connectorId": 1, "meterValue": ' + meter_value("2026-11-21T10:03:00Z", "0")
        + ', "meterValue": [{"timestamp": '
        '"2026-11-21T10:03:00Z", "sampledValue": [{"value": "3"}, {"value": "33"}]}]}').encode())
    await record_directly(bus, station_id, "4", "MeterValues", {
        "connectorId": 1.0, "meterValue": orjson.loads(meter_value("2026-11-21T10:04:00Z", "4"))})

    async def stored():
        rows = await sql(bus, "SELECT toUnixTimestamp64Milli(ts) AS ms, value, evse_id FROM "
                              f"meter_samples WHERE station = '{station_id}' ORDER BY ts, value")
        return rows if len(rows) >= 5 else None

    minute = 60_000
    start = 1795255200000  # 2026-11-21T10:00:00Z
    assert await eventually(stored) == [
        {"ms": start, "value": 1, "evse_id": 1},
        {"ms": start + 2 * minute, "value": 2, "evse_id": 1},
        {"ms": start + 3 * minute, "value": 3, "evse_id": 1},
        {"ms": start + 3 * minute, "value": 33, "evse_id": 1},
        {"ms": start + 4 * minute, "value": 4, "evse_id": 1}]
    await asyncio.sleep(1)  # a row stored twice would show by now
    assert len(await stored()) == 5
    assert await dead_letters(bus, subjects.METER_SINK_CONSUMER, station_id) == []


async def test_unusable_status_goes_to_dead_letters(system, bus, stores):
    station_id = f"BAD-{uuid.uuid4().hex[:8]}"
    await record_directly(bus, station_id, "1", "StatusNotification", {"status": "Available"})
    await record_directly(bus, station_id, "2", "StatusNotification", {
        "connectorId": 1, "status": "Available", "errorCode": "NoError"})
    assert await eventually(lambda: stores.statuses.get(station_id, "1"))
    letters = await eventually(lambda: dead_letters(bus, subjects.STATUS_CONSUMER, station_id))
    assert [letter.headers[events.UNIQUE_ID] for letter in letters] == ["1"]


@pytest.mark.parametrize("subprotocol, payload, code, where", [
    ("ocpp1.6", {"chargePointVendor": "V"}, "OccurenceConstraintViolation", "chargePointModel"),
    ("ocpp2.0.1", {"reason": "PowerUp", "chargingStation": {"vendorName": "V"}},
     "OccurrenceConstraintViolation", "chargingStation.model"),
    ("ocpp1.6", {"chargePointVendor": "V", "chargePointModel": 5}, "TypeConstraintViolation",
     "chargePointModel"),
    ("ocpp2.0.1", {"reason": "Sleepy", "chargingStation": {"vendorName": "V", "model": "M"}},
     "PropertyConstraintViolation", "reason"),
    ("ocpp1.6", {"chargePointVendor": "V", "chargePointModel": "M", "colour": "red"},
     "FormationViolation", "colour"),
])
async def test_a_malformed_call_gets_the_versions_callerror_naming_the_path(
        system, subprotocol, payload, code, where):
    async with websockets.connect(system.station_url(f"BAD-{uuid.uuid4().hex[:8]}"),
                                  subprotocols=[subprotocol]) as socket:
        answer = await call(socket, "b", "BootNotification", payload)
    assert answer[:3] == [4, "b", code]
    assert answer[3].startswith(f"BootNotification: {where} ")


async def test_a_repeated_call_is_recorded_once_a_reused_id_is_not_lost(system, bus):
    station_id = f"REP-{uuid.uuid4().hex[:8]}"
    first = {"connectorId": 1, "meterValue": [{"timestamp": "2026-11-21T10:00:00Z",
                                               "sampledValue": [{"value": "1"}]}]}
    after_reboot = {"connectorId": 1, "meterValue": [{"timestamp": "2026-11-21T10:05:00Z",
                                                      "sampledValue": [{"value": "2"}]}]}
    async with websockets.connect(system.station_url(station_id),
                                  subprotocols=["ocpp1.6"]) as socket:
        for payload in (first, first, after_reboot):  # a retry, then a reused id
            assert (await call(socket, "1", "MeterValues", payload))[:2] == [3, "1"]

    info = await bus.jetstream().stream_info(
        subjects.OCPP_STREAM, subjects_filter=subjects.station_event(station_id, "MeterValues"))
    assert sum(info.state.subjects.values()) == 2

    async def stored():
        rows = await sql(bus, f"SELECT value FROM meter_samples WHERE station = '{station_id}'"
                              " ORDER BY ts")
        return rows if len(rows) >= 2 else None

    assert await eventually(stored) == [{"value": 1}, {"value": 2}]
    await asyncio.sleep(1)  # a duplicate, had it been recorded, would show by now
    assert len(await sql(bus, f"SELECT 1 FROM meter_samples WHERE station = '{station_id}'")) == 2
