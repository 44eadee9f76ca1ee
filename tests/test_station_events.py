"""Station events in ClickHouse (chargebus.meter.stationevents): each notification that is
no meter data as rows, per version; their table, listing and analytics on chdb and on
Debian's clickhouse-server 18.16; a batch delivered again stored once; and a running
system that keeps them through a restart, once each."""
import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call as call21

from clickhouse_server import ClickHouseServer
from conftest import free_port, ocpp_station, start_system
from moments import stamp
from chargebus.bus import events, subjects
from chargebus.bus.consumers import UNUSABLE
from chargebus.bus.events import CallContext
from chargebus.cli import main
from chargebus.meter.clickhouse.engines import ChdbEngine, ServerEngine
from chargebus.meter.eventqueries import events_sql, failed_updates_sql, faults_sql
from chargebus.meter.stationevents import (NO_SEVERITY, EventColumns, EventRow, event_rows)
from chargebus.ocpp import OcppVersion, codec
from chargebus.services.sink.events import EventSink
from chargebus.services.sink.store import MeterStore

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
AT = "2026-11-21T10:00:00Z"


def rows(version: OcppVersion, action: str, payload: dict) -> list[EventRow]:
    """The rows of a payload the edge takes (its own schema check first)."""
    codec.decode_frame(orjson.dumps([2, "1", action, payload]), codec.dialect_of(version))
    return event_rows(version, action, orjson.dumps(payload))


# -- rows per version -------------------------------------------------------------------

@pytest.mark.parametrize("action, payload, expected", [
    ("BootNotification", {"chargePointVendor": "ABB", "chargePointModel": "Terra 54",
                          "firmwareVersion": "1.0.3"}, EventRow(model="Terra 54")),
    ("StatusNotification", {"connectorId": 1, "errorCode": "GroundFailure",
                            "status": "Faulted", "vendorErrorCode": "E-17", "timestamp": AT},
     EventRow(status="Faulted", event_type="GroundFailure", tech_code="E-17")),
    ("StatusNotification", {"connectorId": 2, "errorCode": "NoError", "status": "Charging"},
     EventRow(status="Charging", event_type="NoError")),
    ("FirmwareStatusNotification", {"status": "InstallationFailed"},
     EventRow(firmware_status="InstallationFailed")),
    ("SignedFirmwareStatusNotification", {"status": "InvalidSignature", "requestId": 3},
     EventRow(firmware_status="InvalidSignature")),
    ("DiagnosticsStatusNotification", {"status": "UploadFailed"},
     EventRow(status="UploadFailed")),
    ("LogStatusNotification", {"status": "Uploaded", "requestId": 4}, EventRow(status="Uploaded")),
    ("SecurityEventNotification", {"type": "TamperDetectionActivated", "timestamp": AT,
                                   "techInfo": "lid opened"},
     EventRow(event_type="TamperDetectionActivated", tech_code="lid opened")),
    ("DataTransfer", {"vendorId": "com.example", "messageId": "Temp", "data": "41"},
     EventRow()),
])
def test_16_rows(action, payload, expected):
    assert rows(V16, action, payload) == [expected]


CONNECTOR = {"name": "Connector", "evse": {"id": 1, "connectorId": 1}}


def event(variable: dict, value: str, **more) -> dict:
    return {"eventId": 7, "timestamp": AT, "trigger": "Delta", "actualValue": value,
            "eventNotificationType": "HardWiredNotification", "component": CONNECTOR,
            "variable": variable} | more


@pytest.mark.parametrize("version", [V201, V21])
@pytest.mark.parametrize("action, payload, expected", [
    ("BootNotification", {"reason": "PowerUp", "chargingStation": {
        "model": "Terra AC", "vendorName": "ABB", "firmwareVersion": "1.8"}},
     [EventRow(status="PowerUp", model="Terra AC")]),
    ("StatusNotification", {"timestamp": AT, "connectorStatus": "Faulted", "evseId": 1,
                            "connectorId": 1}, [EventRow(status="Faulted")]),
    ("NotifyEvent", {"generatedAt": AT, "seqNo": 0, "eventData": [
        event({"name": "AvailabilityState"}, "Faulted"),
        event({"name": "Problem"}, "true", trigger="Alerting", techCode="OV-3",
              component={"name": "ChargingStation", "instance": "main"}),
    ]}, [EventRow(event_type="HardWiredNotification", component="Connector",
                  variable="AvailabilityState", trigger="Delta", status="Faulted"),
         EventRow(event_type="HardWiredNotification", component="ChargingStation.main",
                  variable="Problem", trigger="Alerting", tech_code="OV-3", status="true")]),
    ("NotifyMonitoringReport", {"requestId": 1, "seqNo": 0, "generatedAt": AT, "monitor": [
        {"component": {"name": "SampledDataCtrlr"},
         "variable": {"name": "TxUpdatedInterval"},
         "variableMonitoring": [
             {"id": 1, "transaction": False, "value": 100, "type": "UpperThreshold",
              "severity": 3},
             {"id": 2, "transaction": True, "value": 5, "type": "Delta", "severity": 8}]},
        {"component": CONNECTOR, "variable": {"name": "Temperature", "instance": "plug"},
         "variableMonitoring": [{"id": 3, "transaction": False, "value": 80,
                                 "type": "UpperThreshold", "severity": 0}]}]},
     [EventRow(event_type="UpperThreshold", component="SampledDataCtrlr",
               variable="TxUpdatedInterval", severity=3),
      EventRow(event_type="Delta", component="SampledDataCtrlr",
               variable="TxUpdatedInterval", severity=8),
      EventRow(event_type="UpperThreshold", component="Connector",
               variable="Temperature.plug", severity=0)]),
    ("NotifyMonitoringReport", {"requestId": 2, "seqNo": 0, "generatedAt": AT},
     [EventRow()]),
    ("SecurityEventNotification", {"type": "SettingSystemTime", "timestamp": AT},
     [EventRow(event_type="SettingSystemTime")]),
    ("FirmwareStatusNotification", {"status": "InstallVerificationFailed", "requestId": 1},
     [EventRow(firmware_status="InstallVerificationFailed")]),
    ("PublishFirmwareStatusNotification", {"status": "PublishFailed", "requestId": 2},
     [EventRow(status="PublishFailed")]),
    ("LogStatusNotification", {"status": "UploadFailure", "requestId": 5},
     [EventRow(status="UploadFailure")]),
    ("ReservationStatusUpdate", {"reservationId": 5, "reservationUpdateStatus": "Expired"},
     [EventRow(status="Expired")]),
    ("ClearedChargingLimit", {"chargingLimitSource": "EMS"}, [EventRow()]),
    ("NotifyCustomerInformation", {"data": "Jane Doe, card 1234", "seqNo": 0,
                                   "generatedAt": AT, "requestId": 9}, [EventRow()]),
])
def test_2x_rows(version, action, payload, expected):
    if version is V21 and action == "NotifyMonitoringReport" and "monitor" in payload:
        for entry in payload["monitor"]:  # required in 2.1
            for monitor in entry["variableMonitoring"]:
                monitor["eventNotificationType"] = "CustomMonitor"
    assert rows(version, action, payload) == expected


def test_21_events_have_a_severity():
    payload = {"generatedAt": AT, "seqNo": 0, "eventData": [
        event({"name": "Problem"}, "true", severity=1), event({"name": "Problem"}, "false")]}
    assert [row.severity for row in rows(V21, "NotifyEvent", payload)] == [1, NO_SEVERITY]


@pytest.mark.parametrize("version, action, payload", [
    (V16, "StatusNotification", b"[1, 2]"),
    (V16, "StatusNotification", b"not json"),
    (V16, "StatusNotification", b'{"connectorId": 1, "errorCode": "NoError", "status": 5}'),
    (V16, "BootNotification", b'{"chargePointVendor": "V"}'),
    (V201, "BootNotification", b'{"reason": "PowerUp", "chargingStation": "M"}'),
    (V201, "NotifyEvent", b'{"eventData": "x"}'),
    (V201, "NotifyEvent", b'{"eventData": [1]}'),
    (V201, "NotifyEvent", orjson.dumps({"eventData": [{
        k: v for k, v in event({"name": "Problem"}, "true").items() if k != "component"}]})),
    (V21, "NotifyEvent", orjson.dumps({"eventData": [event({"name": "P"}, "1", severity="3")]})),
    (V21, "NotifyEvent", orjson.dumps({"eventData": [event({"name": "P"}, "1", severity=255)]})),
    (V21, "NotifyEvent", orjson.dumps({"eventData": [event({"name": "P"}, "1", severity=True)]})),
    (V21, "NotifyEvent", orjson.dumps({"eventData": [event({"name": 5}, "1")]})),
    (V16, "NotifyEvent", b"{}"),  # not a 1.6 action
    (V201, "MeterValues", b"{}"),  # meter data
])
def test_what_cannot_be_read_is_unusable(version, action, payload):
    with pytest.raises(UNUSABLE):
        event_rows(version, action, payload)


def test_columns_hold_each_row_with_its_call_and_item():
    columns = EventColumns()
    report = {"requestId": 1, "seqNo": 0, "generatedAt": AT, "monitor": [
        {"component": {"name": "A"}, "variable": {"name": "B"}, "variableMonitoring": [
            {"id": 1, "transaction": False, "value": 1, "type": "Delta", "severity": 2},
            {"id": 2, "transaction": False, "value": 2, "type": "Delta", "severity": 4}]}]}
    assert columns.add("CS-1", 1_000, 41, V201, "NotifyMonitoringReport",
                       orjson.dumps(report)) == 2
    assert columns.add("CS-1", 2_000, 42, V201, "NotifyCustomerInformation", orjson.dumps(
        {"data": "Jane Doe", "seqNo": 0, "generatedAt": AT, "requestId": 9})) == 1
    with pytest.raises(UNUSABLE):
        columns.add("CS-1", 3_000, 43, V201, "NotifyEvent", b"{}")
    lists = columns.lists
    assert len(columns) == 3
    assert lists["item"] == [0, 1, 0] and lists["stream_seq"] == [41, 41, 42]
    assert lists["ts"] == [1_000, 1_000, 2_000] and lists["version"] == ["ocpp2.0.1"] * 3
    assert lists["severity"] == [2, 4, NO_SEVERITY]
    assert orjson.loads(lists["payload"][0]) == report
    assert lists["payload"][2] == ""  # what a station holds of a customer stays out


# -- the table, its lookup and its queries, on chdb and on a server --------------------

def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
FAULTY, QUIET, UNBOOTED = "FAULTY-1", "QUIET-1", "UNBOOTED-1"
HISTORY = [  # (station, hours before NOW, version, action, payload)
    (FAULTY, 300, V16, "BootNotification", {"chargePointVendor": "V", "chargePointModel": "Old"}),
    (FAULTY, 30, V16, "StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                             "status": "Faulted"}),  # before the window
    (FAULTY, 20, V16, "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M-16"}),
    (FAULTY, 10, V16, "StatusNotification", {"connectorId": 1, "errorCode": "WeakSignal",
                                             "status": "Available"}),
    (FAULTY, 9, V16, "FirmwareStatusNotification", {"status": "DownloadFailed"}),
    (FAULTY, 8, V16, "FirmwareStatusNotification", {"status": "InstallationFailed"}),
    (FAULTY, 7, V16, "SecurityEventNotification", {"type": "FirmwareUpdated", "timestamp": AT}),
    (QUIET, 12, V201, "BootNotification", {"reason": "PowerUp", "chargingStation": {
        "model": "M-201", "vendorName": "V"}}),
    (QUIET, 6, V201, "StatusNotification", {"timestamp": AT, "connectorStatus": "Available",
                                            "evseId": 1, "connectorId": 1}),
    (QUIET, 5, V201, "NotifyEvent", {"generatedAt": AT, "seqNo": 0, "eventData": [
        event({"name": "Problem"}, "false"), event({"name": "AvailabilityState"}, "Faulted")]}),
    (QUIET, 4, V201, "FirmwareStatusNotification", {"status": "Installed", "requestId": 1}),
    (QUIET, 3, V201, "FirmwareStatusNotification", {"status": "InvalidSignature",
                                                    "requestId": 2}),
    (UNBOOTED, 2, V21, "FirmwareStatusNotification", {"status": "DownloadFailed",
                                                      "requestId": 1}),
    (UNBOOTED, 1, V21, "NotifyEvent", {"generatedAt": AT, "seqNo": 0, "eventData": [
        event({"name": "Problem"}, "True", severity=2)]}),
]


def insert_history(store: MeterStore, prefix: str) -> dict[str, str]:
    """HISTORY under station ids of this run's own; the ids by their names above."""
    named = {name: f"{prefix}-{name}" for name in (FAULTY, QUIET, UNBOOTED)}
    columns = EventColumns()
    for sequence, (station, hours, version, action, payload) in enumerate(HISTORY, 1):
        columns.add(named[station], ms(NOW - timedelta(hours=hours)), sequence, version,
                    action, orjson.dumps(payload))
    store.insert_events(columns.lists)
    return named


def answered(store: MeterStore, sql: str) -> list[dict]:
    """The rows as `chargebus` gets them: read-only, from outside."""
    return [orjson.loads(line) for piece in store.query_rows(sql)
            for line in piece.splitlines() if line]


def check_table(store: MeterStore) -> None:
    prefix = uuid.uuid4().hex[:6]
    named = insert_history(store, prefix)
    faulty, quiet, unbooted = named[FAULTY], named[QUIET], named[UNBOOTED]

    listed = answered(store, events_sql(faulty, [], None, None, None, 100))
    assert [row["action"] for row in listed] == [
        "SecurityEventNotification", "FirmwareStatusNotification", "FirmwareStatusNotification",
        "StatusNotification", "BootNotification", "StatusNotification", "BootNotification"]
    assert listed[3]["event_type"] == "WeakSignal" and listed[4]["model"] == "M-16"
    assert "payload" not in listed[0]
    notified = answered(store, events_sql(quiet, ["NotifyEvent"], None, None, None, 100, True))
    assert [(row["variable"], row["status"]) for row in notified] == [
        ("Problem", "false"), ("AvailabilityState", "Faulted")]
    assert orjson.loads(notified[0]["payload"])["eventData"][1]["actualValue"] == "Faulted"
    window = answered(store, events_sql(None, ["FirmwareStatusNotification"], None,
                                        NOW - timedelta(hours=8, minutes=30),
                                        NOW - timedelta(hours=3), 100))
    assert [(row["station"], row["firmware_status"]) for row in window
            if row["station"].startswith(prefix)] == [(quiet, "Installed"),
                                                      (faulty, "InstallationFailed")]
    typed = answered(store, events_sql(None, [], "FirmwareUpdated", None, None, 1))
    assert [row["station"] for row in typed] == [faulty]

    faults = {row["station"]: row for row in answered(store, faults_sql(NOW - timedelta(days=1)))}
    assert {station for station in faults if station.startswith(prefix)} == {
        faulty, quiet, unbooted}
    assert int(faults[faulty]["faults"]) == 1 and faults[faulty]["last_action"] == \
        "StatusNotification"
    assert int(faults[quiet]["faults"]) == 1 and faults[quiet]["last_action"] == "NotifyEvent"
    assert faults[unbooted]["last"].startswith("2026-11-21 11:00:00")

    failed = [row for row in answered(store, failed_updates_sql(NOW - timedelta(days=7)))
              if row["model"] in ("M-16", "M-201", "")]
    assert [(row["model"], int(row["stations"]), int(row["failures"])) for row in failed] == [
        ("M-16", 1, 2), ("", 1, 1), ("M-201", 1, 1)]

    # A batch delivered again: the lookup finds what is stored, by station, time and sequence.
    stations = [faulty, quiet]
    first, last = ms(NOW - timedelta(hours=10)), ms(NOW - timedelta(hours=3))
    assert store.stored_event_sequences(stations, first, last, [4, 9, 12, 99]) == {4, 9, 12}


@pytest.fixture(scope="module")
def chdb_store(tmp_path_factory):
    store = MeterStore(ChdbEngine(tmp_path_factory.mktemp("events-chdb")))
    yield store
    store.close()


def test_the_table_lists_and_analyses_events_on_chdb(chdb_store):
    check_table(chdb_store)


@pytest.mark.clickhouse
def test_the_table_lists_and_analyses_events_on_a_server(tmp_path):
    """Debian's clickhouse-server 18.16: the migration, inserts without DateTime64, the
    queries as its read-only query user runs them."""
    server = ClickHouseServer(tmp_path, free_port(), free_port())
    server.start()
    try:
        store = MeterStore(ServerEngine(server.url))
        assert store.engine.version[:2] == (18, 16)
        check_table(store)
        store.close()
    finally:
        server.stop()


# -- the sink ---------------------------------------------------------------------------

@dataclass
class Recorded:
    """A recorded call as a consumer gets it, with its delivery in its ack subject."""
    subject: str
    data: bytes
    headers: dict[str, str]
    reply: str


def recorded(station_id: str, action: str, payload: dict | bytes, sequence: int,
             times: int = 1) -> Recorded:
    context = CallContext(station_id, V16, action, str(sequence), "edge-1",
                          "2026-11-21T10:00:00.250Z")
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return Recorded(subjects.station_event(station_id, action), body, context.headers(),
                    f"{subjects.jetstream_ack_prefix()}{subjects.OCPP_STREAM}.event-sink."
                    f"{times}.{sequence}.{sequence}.0.0")


@pytest.mark.asyncio(loop_scope="session")
async def test_a_batch_delivered_again_is_stored_once_and_the_unusable_go_to_dead_letters(
        chdb_store, bus):
    station_id = f"AGAIN-{uuid.uuid4().hex[:6]}"
    faulted = {"connectorId": 1, "errorCode": "GroundFailure", "status": "Faulted"}
    sink = EventSink(bus, chdb_store)  # its dead letters go to the system's NATS
    await sink.write([recorded(station_id, "StatusNotification", faulted, 1),
                      recorded(station_id, "StatusNotification", b"[]", 2),
                      recorded(station_id, "SecurityEventNotification",
                               {"type": "StartupOfTheDevice", "timestamp": AT}, 3)])
    # Stored, but the ack was lost: all of it again, with a message never stored before.
    await sink.write([recorded(station_id, "StatusNotification", faulted, 1, times=2),
                      recorded(station_id, "SecurityEventNotification",
                               {"type": "StartupOfTheDevice", "timestamp": AT}, 3, times=2),
                      recorded(station_id, "FirmwareStatusNotification",
                               {"status": "Installed"}, 4, times=3)])
    _, stored = chdb_store.engine.query(
        "SELECT stream_seq, action, toUnixTimestamp64Milli(ts) FROM station_events "
        f"WHERE station = '{station_id}' ORDER BY stream_seq")
    assert stored == [(1, "StatusNotification", 1795255200250),
                      (3, "SecurityEventNotification", 1795255200250),
                      (4, "FirmwareStatusNotification", 1795255200250)]
    letter = await bus.jetstream().get_last_msg(
        subjects.DEAD_LETTER_STREAM, subjects.dead_letter(subjects.EVENT_SINK_CONSUMER))
    assert letter.data == b"[]" and letter.headers[events.STATION] == station_id
    assert "no usable station event" in letter.headers[events.REASON]


# -- the command line's refusals ----------------------------------------------------------

@pytest.mark.parametrize("arguments, says", [
    (("events", ""), "not a valid station id: ''"),
    (("events", "bad id!"), "not a valid station id: 'bad id!'"),
    (("events", "--since", "2026-02-01T00:00:00Z", "--until", "2026-01-01T00:00:00Z"),
     "--since 2026-02-01T00:00:00+00:00 is not before --until 2026-01-01T00:00:00+00:00"),
    (("events", "--since", "2999-01-01T00:00:00Z"), "(now)"),
    (("events", "--action", "MeterValues"), "MeterValues is not an action kept as a station"),
    (("events", "faults", "--action", "StatusNotification"),
     "--action goes with the list of events, not `events faults`"),
    (("events", "CS-1", "--hours", "3"), "--hours goes with `events faults`"),
    (("events", "faults", "--days", "3"), "--days goes with `events failed-updates`"),
    (("events", "failed-updates", "--limit", "3"),
     "--limit goes with the list of events, not `events failed-updates`"),
])
def test_the_command_refuses_bad_input_in_one_line(capsys, arguments, says):
    assert main(["--nats-url", "nats://127.0.0.1:1", *arguments]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and len(printed.err.strip().splitlines()) == 1
    assert says in printed.err


# -- a running system, stopped and started again ------------------------------------------

FAST_SINK = {"CHARGEBUS_SINK_BATCH_SECONDS": "0.2"}


async def cli_rows(system, *arguments: str) -> list[dict]:
    done = await asyncio.to_thread(system.cli, "events", *arguments, "--format", "json")
    assert done.returncode == 0, done.stderr
    return orjson.loads(done.stdout)


async def rows_of(system, station_id: str, count: int) -> list[dict]:
    """The station's events once there are ``count`` of them."""
    for _ in range(100):
        found = await cli_rows(system, station_id)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"{station_id} has {len(found)} events, not {count}: {found}")


async def notify(system, s16: str, s201: str, s21: str) -> None:
    """What three stations of the three versions tell: boots, faults, a failed update."""
    async with ocpp_station(system, s16, ChargePoint16, ["ocpp1.6"], "ocpp1.6") as cs:
        await cs.call(call16.BootNotification(charge_point_model="EV-16",
                                              charge_point_vendor="V"))
        await cs.call(call16.StatusNotification(connector_id=1, error_code="GroundFailure",
                                                status="Faulted", vendor_error_code="E-17"))
        await cs.call(call16.FirmwareStatusNotification(status="InstallationFailed"))
        await cs.call(call16.SecurityEventNotification(
            type="TamperDetectionActivated", timestamp=stamp(datetime.now(UTC)),
            tech_info="lid opened"))
    async with ocpp_station(system, s201, ChargePoint201, ["ocpp2.0.1"], "ocpp2.0.1") as cs:
        await cs.call(call201.BootNotification(
            charging_station={"model": "EV-201", "vendorName": "V"}, reason="PowerUp"))
        await cs.call(call201.StatusNotification(
            timestamp=stamp(datetime.now(UTC)), connector_status="Faulted", evse_id=1,
            connector_id=1))
        await cs.call(call201.FirmwareStatusNotification(status="DownloadFailed", request_id=1))
    async with ocpp_station(system, s21, ChargePoint21, ["ocpp2.1"], "ocpp2.1") as cs:
        await cs.call(call21.BootNotification(
            charging_station={"model": "EV-21", "vendorName": "V"}, reason="Watchdog"))
        await cs.call(call21.NotifyEvent(generated_at=stamp(datetime.now(UTC)), seq_no=0,
                                          event_data=[event({"name": "AvailabilityState"},
                                                            "Faulted", severity=1)]))


@pytest.mark.system
@pytest.mark.timeout(240)  # the whole system starts twice
async def test_events_are_listed_analysed_and_kept_once_through_a_restart(tmp_path):
    s16, s201, s21 = (f"EV{version}-{uuid.uuid4().hex[:6]}" for version in (16, 201, 21))
    system = await asyncio.to_thread(start_system, tmp_path, environment=FAST_SINK)
    try:
        await notify(system, s16, s201, s21)
        listed = {station_id: await rows_of(system, station_id, count)
                  for station_id, count in ((s16, 4), (s201, 3), (s21, 2))}
        assert [row["action"] for row in listed[s16]] == [
            "SecurityEventNotification", "FirmwareStatusNotification", "StatusNotification",
            "BootNotification"]
        assert (listed[s16][2]["status"], listed[s16][2]["event_type"],
                listed[s16][2]["tech_code"]) == ("Faulted", "GroundFailure", "E-17")
        assert listed[s21][0]["variable"] == "AvailabilityState" and \
            listed[s21][0]["severity"] == 1
        assert orjson.loads(listed[s201][0]["payload"]) == {"status": "DownloadFailed",
                                                            "requestId": 1}
        assert [row["station"] for row in await cli_rows(system, "--type", "GroundFailure")] \
            == [s16]

        faults = {row["station"]: row for row in await cli_rows(system, "faults")}
        assert set(faults) == {s16, s201, s21}
        assert faults[s21]["last_action"] == "NotifyEvent"
        failed = await cli_rows(system, "failed-updates", "--days", "1")
        assert sorted((row["model"], int(row["stations"]), int(row["failures"]))
                      for row in failed) == [("EV-16", 1, 1), ("EV-201", 1, 1)]
        table = await asyncio.to_thread(system.cli, "events", "faults")
        assert table.returncode == 0 and "last_action" in table.stdout and s16 in table.stdout
    finally:
        assert system.stop() == 0

    again = await asyncio.to_thread(start_system, tmp_path, environment=FAST_SINK,
                                    nats_port=int(system.nats_url.rsplit(":", 1)[1]))
    try:
        # A call after the restart is stored, so the sink reads again; what was stored
        # before is there as it was, once.
        async with ocpp_station(again, s16, ChargePoint16, ["ocpp1.6"], "ocpp1.6") as cs:
            await cs.call(call16.StatusNotification(connector_id=1, error_code="NoError",
                                                    status="Available"))
        after = await rows_of(again, s16, 5)
        await asyncio.sleep(1)
        assert await cli_rows(again, s16) == after and after[1:] == listed[s16]
        for station_id in (s201, s21):
            assert await cli_rows(again, station_id) == listed[station_id]
    finally:
        assert again.stop() == 0
