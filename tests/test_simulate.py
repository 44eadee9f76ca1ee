"""`chargebus simulate`: what its stations send is schema-valid, what they answer to the
CSMS is too, and runs against a real chargebus and the ocpp-library baseline report
what happened."""
import asyncio
import json
import math
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
import pytest
import websockets

from chargebus.ocpp import OcppVersion
from chargebus.operations.commands import Outcome, call_station
from chargebus.simulate import Mode, Options, parse_mix, parse_rate, run
from chargebus.simulate import v2x, v16
from chargebus.simulate.options import versions_of_stations
from chargebus.simulate.scenario import Refusal, Result, StationState
from chargebus.simulate.stats import CallStats, latency_summary, percentile
from conftest import CHARGEBUS, eventually, free_port
from schema_cases import example, messages

BASELINE = Path(__file__).parent.parent / "benchmarks" / "baseline" / "csms.py"
DIALECTS = {OcppVersion.V16: v16, OcppVersion.V201: v2x, OcppVersion.V21: v2x}
SCHEMAS = {(message.version, message.action, message.direction): message
           for message in messages()}
SESSION_16 = ["Authorize", "StartTransaction", "StatusNotification", "MeterValues",
              "StopTransaction", "Heartbeat"]
SESSION_2X = ["Authorize", "TransactionEvent", "StatusNotification", "Heartbeat"]


def assert_valid(version: OcppVersion, action: str, direction: str, payload: dict) -> None:
    schema = SCHEMAS[(version.value, action, direction)]
    errors = schema.oracle_errors(payload)
    assert not errors, f"{version.value} {action} {direction} {payload}: {errors}"


# -- parsing what users type -----------------------------------------------------------

def test_a_mix_is_read_with_or_without_the_ocpp_prefix_and_scaled_to_one():
    assert parse_mix("1.6=0.5,2.0.1=0.5") == ((OcppVersion.V16, 0.5), (OcppVersion.V201, 0.5))
    assert parse_mix("ocpp2.1") == ((OcppVersion.V21, 1.0),)
    assert parse_mix(" 1.6=1, 2.1=3 ") == ((OcppVersion.V16, 0.25), (OcppVersion.V21, 0.75))
    assert parse_mix("1.6=0,2.0.1=2") == ((OcppVersion.V201, 1.0),)


@pytest.mark.parametrize("text, complaint", [
    ("1.7=1", "unknown OCPP version"), ("1.6=x", "not a number"), ("1.6=-1", "zero or more"),
    ("", "names no version"), ("1.6=0", "names no version"), ("1.6=1,ocpp1.6=1", "twice"),
    ("1.6=inf", "zero or more")])
def test_a_bad_mix_says_what_is_wrong(text, complaint):
    with pytest.raises(ValueError, match=complaint):
        parse_mix(text)


def test_a_rate_is_a_positive_number_or_max():
    assert parse_rate("max") == math.inf
    assert parse_rate("MAX") == math.inf
    assert parse_rate("2500") == 2500.0
    for text in ("0", "-5", "fast", "nan", "inf", ""):
        with pytest.raises(ValueError):
            parse_rate(text)


def test_stations_get_versions_in_proportion_in_every_process_share():
    mix = parse_mix("1.6=0.5,2.0.1=0.3,2.1=0.2")
    versions = versions_of_stations(1000, mix)
    assert [versions.count(v) for v in OcppVersion] == [500, 300, 200]
    for share in range(3):
        part = versions[share::3]
        assert abs(part.count(OcppVersion.V16) / len(part) - 0.5) < 0.01


def test_options_that_cannot_work_are_named():
    good = Options(url="ws://127.0.0.1:1/ocpp/")
    good.check()
    for change, name in (({"stations": 0}, "--stations"), ({"processes": 0}, "--processes"),
                         ({"duration": -1.0}, "--duration"),
                         ({"meter_values": 0}, "--meter-values"), ({"url": "http://x/"}, "--url"),
                         ({"station_prefix": "a.b"}, "--station-prefix"),
                         ({"station_prefix": "x" * 45}, "--station-prefix")):
        with pytest.raises(ValueError, match=name):
            Options(**(vars(good) | change)).check()


# -- figures ---------------------------------------------------------------------------

def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, f) for f in (0.5, 0.95, 0.99, 1.0)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([7.0], 0.5) == 7.0
    assert percentile([1.0, 2.0], 0.5) == 1.0
    with pytest.raises(ValueError):
        percentile([], 0.5)
    with pytest.raises(ValueError):
        percentile([1.0], 0.0)


def test_latencies_of_processes_merge_into_exact_percentiles():
    first, second = CallStats(), CallStats()
    for value in range(1, 51):
        first.record("Heartbeat", value / 1000)
    for value in range(51, 101):
        second.record("Heartbeat", value / 1000)
    second.callerrors[("Heartbeat", "InternalError")] += 2
    first.merge(second)
    summary = first.summary()
    heartbeat = summary["actions"]["Heartbeat"]
    assert heartbeat["count"] == 100
    assert heartbeat["p50_ms"] == pytest.approx(50.0)
    assert heartbeat["p99_ms"] == pytest.approx(99.0)
    assert heartbeat["max_ms"] == pytest.approx(100.0)
    assert heartbeat["callerrors"] == 2
    assert summary["callerrors"] == {"InternalError": 2}
    assert latency_summary([]) == {"count": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None,
                                   "max_ms": None}


# -- what stations send and answer -----------------------------------------------------

def plausible_answer(action: str, payload: dict) -> dict:
    if action == "StartTransaction":
        return {"transactionId": 4711, "idTagInfo": {"status": "Accepted"}}
    return {}


@pytest.mark.parametrize("version", list(OcppVersion))
def test_every_call_a_station_makes_is_schema_valid(version):
    dialect = DIALECTS[version]
    state = StationState(index=12345, station_id="SIM-012345", version=version,
                         meter_values=3, meter_interval=5.0, run_tag="a1b2c3")
    calls = [("BootNotification", dialect.boot(state))]
    script = dialect.sessions(state)
    call = next(script)
    for step in range(40):
        calls.append(call)
        # One StartTransaction goes unanswered, as after a CALLERROR.
        answer = None if step == 9 else plausible_answer(*call)
        call = script.send(answer)
    for requested in dialect.TRIGGERABLE:
        outcome = dialect.answer(state, "TriggerMessage", {"requestedMessage": requested})
        assert outcome == Result({"status": "Accepted"})
    calls.extend(state.triggered)
    actions = {action for action, _ in calls}
    assert actions >= {"BootNotification"} | set(
        SESSION_16 if version is OcppVersion.V16 else SESSION_2X)
    for action, payload in calls:
        assert_valid(version, action, "request", orjson.loads(orjson.dumps(payload)))
    if version is not OcppVersion.V16:
        events = [payload for action, payload in calls if action == "TransactionEvent"]
        first = [e for e in events if e["transactionInfo"]["transactionId"]
                 == events[0]["transactionInfo"]["transactionId"]]
        assert [e["eventType"] for e in first] == ["Started", "Updated", "Updated", "Updated",
                                                   "Ended"]
        assert [e["seqNo"] for e in first] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("version", list(OcppVersion))
def test_every_call_from_the_csms_gets_a_valid_answer_or_a_callerror(version):
    dialect = DIALECTS[version]
    answered = set()
    requests = [m for m in SCHEMAS.values()
                if m.version == version.value and m.direction == "request"]
    for message in requests:
        for full in (False, True):
            state = StationState(index=1, station_id="SIM-000001", version=version,
                                 meter_values=3, meter_interval=5.0)
            payload = example(message.schema, message.schema, full)
            outcome = dialect.answer(state, message.action, payload)
            if isinstance(outcome, Refusal):
                assert outcome.code == "NotSupported", (message.action, outcome)
            else:
                answered.add(message.action)
                assert_valid(version, message.action, "response", outcome.payload)
            for action, triggered in state.triggered:
                assert_valid(version, action, "request", triggered)
    common = {"Reset", "ChangeAvailability", "TriggerMessage", "UnlockConnector",
              "RemoteStartTransaction", "GetConfiguration", "ChangeConfiguration"} \
        if version is OcppVersion.V16 else \
        {"Reset", "ChangeAvailability", "TriggerMessage", "UnlockConnector",
         "RequestStartTransaction", "GetVariables", "SetVariables"}
    assert common <= answered
    unknown = dialect.answer(StationState(1, "SIM-000001", version, 3, 5.0), "NoSuchAction", {})
    assert isinstance(unknown, Refusal) and unknown.code == "NotImplemented"


def test_a_16_station_reports_and_keeps_its_configuration():
    state = StationState(index=1, station_id="SIM-000001", version=OcppVersion.V16,
                         meter_values=3, meter_interval=5.0)
    changed = v16.answer(state, "ChangeConfiguration", {"key": "heartbeatinterval", "value": "60"})
    read_only = v16.answer(state, "ChangeConfiguration",
                           {"key": "NumberOfConnectors", "value": "2"})
    reply = v16.answer(state, "GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]})
    assert (changed.payload, read_only.payload) == ({"status": "Accepted"}, {"status": "Rejected"})
    assert reply.payload == {"configurationKey": [
        {"key": "HeartbeatInterval", "readonly": False, "value": "60"}], "unknownKey": ["Nope"]}


# -- runs against real systems ---------------------------------------------------------

def edge_url(system) -> str:
    return f"ws://127.0.0.1:{system.edge_port}/ocpp/"


def simulate(*arguments: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([CHARGEBUS, "simulate", "--quiet", *arguments], capture_output=True,
                          text=True, timeout=timeout)


def assert_sound(results: dict, expected_actions: list[str]) -> None:
    calls = results["calls"]
    assert results["connect"]["calls"]["callerrors"] == {}
    assert results["connect"]["calls"]["actions"]["BootNotification"]["count"] \
        == results["options"]["stations"]
    assert calls["callerrors"] == {}, calls["callerrors"]
    assert calls["timeouts"] == 0
    for action in expected_actions:
        figures = calls["actions"][action]
        assert figures["count"] > 0, action
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert results["connect"]["booted"] == results["options"]["stations"]


def test_a_load_against_chargebus_plays_every_action_of_every_version(system, tmp_path):
    output = tmp_path / "results.json"
    finished = simulate("--url", edge_url(system), "--stations", "6",
                        "--mix", "1.6=1,2.0.1=1,2.1=1", "--rate", "max", "--duration", "3",
                        "--meter-values", "3", "--station-prefix", f"LOAD{uuid.uuid4().hex[:6]}-",
                        "--json", str(output))
    assert finished.returncode == 0, finished.stderr
    results = json.loads(output.read_text())
    assert_sound(results, sorted(set(SESSION_16) | set(SESSION_2X)))
    load = results["load"]
    assert load["answered"] > 0 and load["calls_per_second"] > 0
    assert "calls/s" in finished.stdout and "TransactionEvent" in finished.stdout
    assert results["connect"]["calls"]["authorization"]["BootNotification Accepted"] == 6


def test_a_paced_load_offers_its_rate(system):
    results = run(Options(url=edge_url(system), stations=4, rate=40.0, duration=2.0,
                          meter_values=2, station_prefix=f"RATE{uuid.uuid4().hex[:6]}-"))
    assert_sound(results, ["StatusNotification", "Authorize"])
    assert results["load"]["offered_per_second"] == 40.0
    # An open loop never sends more than it offers (the pacer's ticks allow one extra).
    assert results["load"]["answered"] <= 40 * results["load"]["seconds"] + 1


@pytest.fixture(scope="module")
def baseline():
    port = free_port()
    process = subprocess.Popen([sys.executable, str(BASELINE), "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.1)
    yield f"ws://127.0.0.1:{port}/"
    process.terminate()
    process.wait(10)


def test_the_same_load_against_the_ocpp_library_baseline(baseline, tmp_path):
    output = tmp_path / "results.json"
    finished = simulate("--url", baseline, "--stations", "6", "--mix", "1.6=1,2.0.1=1,2.1=1",
                        "--rate", "max", "--duration", "3", "--meter-values", "3",
                        "--processes", "2", "--json", str(output))
    assert finished.returncode == 0, finished.stderr
    assert_sound(json.loads(output.read_text()), sorted(set(SESSION_16) | set(SESSION_2X)))


def test_idle_stations_are_held_and_a_storm_brings_them_all_back(system):
    prefix = f"IDLE{uuid.uuid4().hex[:6]}-"
    held = run(Options(url=edge_url(system), stations=5, mode=Mode.IDLE, duration=1.0,
                       mix=parse_mix("1.6=1,2.0.1=1"), station_prefix=prefix))
    assert held["idle"] == {"held": 5, "seconds": 1.0}
    assert held["connect"]["calls"]["actions"]["BootNotification"]["count"] == 5
    storm = run(Options(url=edge_url(system), stations=5, mode=Mode.STORM, processes=2,
                        mix=parse_mix("2.1=1,1.6=1"), station_prefix=prefix))
    assert storm["storm"]["booted"] == 5 and storm["storm"]["complete"]
    assert storm["storm"]["seconds"] > 0
    assert storm["calls"]["callerrors"] == {}
    # Every station booted once before the drop and once after.
    assert storm["connect"]["calls"]["actions"]["BootNotification"]["count"] == 5
    assert storm["calls"]["actions"]["BootNotification"]["count"] == 5


async def test_calls_from_the_csms_reach_simulated_stations_and_get_real_answers(system, bus,
                                                                                 tmp_path):
    prefix = f"CSMS{uuid.uuid4().hex[:6]}-"
    mix = parse_mix("1.6=1,2.0.1=1,2.1=1")
    versions = versions_of_stations(3, mix)
    ids = {version: Options(url="ws://x/", station_prefix=prefix).station_id(index)
           for index, version in enumerate(versions)}
    output = tmp_path / "results.json"
    simulator = await asyncio.create_subprocess_exec(
        CHARGEBUS, "simulate", "--quiet", "--url", edge_url(system), "--mode", "idle",
        "--stations", "3", "--mix", "1.6=1,2.0.1=1,2.1=1", "--duration", "6",
        "--station-prefix", prefix, "--json", str(output),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)

    async def reachable(station_id: str):
        reply = await call_station(bus, station_id, "Reset",
                                   {"type": "Soft"} if station_id == ids[OcppVersion.V16]
                                   else {"type": "OnIdle"}, timeout=5)
        return reply if reply.outcome is not Outcome.OFFLINE else None

    try:
        for station_id in ids.values():
            reset = await eventually(lambda station_id=station_id: reachable(station_id),
                                     timeout=20)
            assert reset is not None and reset.body == {"status": "Accepted"}
        station16, station201, station21 = (ids[v] for v in OcppVersion)
        configuration = await call_station(bus, station16, "GetConfiguration",
                                           {"key": ["HeartbeatInterval", "NoSuchKey"]}, 10)
        trigger = await call_station(bus, station16, "TriggerMessage",
                                     {"requestedMessage": "Heartbeat"}, 10)
        variable = {"component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"}}
        got = await call_station(bus, station201, "GetVariables",
                                 {"getVariableData": [variable]}, 10)
        set_ = await call_station(bus, station21, "SetVariables",
                                  {"setVariableData": [variable | {"attributeValue": "60"}]}, 10)
        unsupported = await call_station(bus, station21, "CostUpdated", {
            "totalCost": 1.5, "transactionId": "T-1"}, 10)
    finally:
        _, stderr = await asyncio.wait_for(simulator.communicate(), 60)
    assert simulator.returncode == 0, stderr.decode()
    assert configuration.body == {"configurationKey": [
        {"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
        "unknownKey": ["NoSuchKey"]}
    assert trigger.body == {"status": "Accepted"}
    assert got.body == {"getVariableResult": [variable | {"attributeStatus": "Accepted",
                                                          "attributeValue": "300"}]}
    assert set_.body == {"setVariableResult": [variable | {"attributeStatus": "Accepted"}]}
    assert unsupported.outcome is Outcome.ERROR and unsupported.body["errorCode"] == "NotSupported"
    results = json.loads(output.read_text())
    # One the test sent, one chargebus sent at the station's first boot (device model).
    assert results["calls"]["csms_calls"]["GetConfiguration answered"] == 2
    assert results["calls"]["csms_calls"]["GetBaseReport answered"] == 2
    assert results["calls"]["csms_calls"]["CostUpdated NotSupported"] == 1
    # The Heartbeat the TriggerMessage asked for was sent, and answered.
    assert results["calls"]["actions"]["Heartbeat"]["count"] >= 1


async def test_calls_left_unanswered_time_out_and_are_not_counted_as_answers(tmp_path):
    async def boots_only(socket):
        """Answers each station's BootNotification, then nothing."""
        async for frame in socket:
            call = orjson.loads(frame)
            if call[2] == "BootNotification":
                await socket.send(orjson.dumps([3, call[1], {
                    "currentTime": "2026-11-21T10:00:00Z", "interval": 300,
                    "status": "Accepted"}]).decode())

    output = tmp_path / "results.json"
    async with websockets.serve(boots_only, "127.0.0.1", 0,
                                subprotocols=["ocpp1.6"]) as server:
        port = server.sockets[0].getsockname()[1]
        simulator = await asyncio.create_subprocess_exec(
            CHARGEBUS, "simulate", "--quiet", "--url", f"ws://127.0.0.1:{port}/",
            "--stations", "3", "--rate", "max", "--duration", "2", "--call-timeout", "0.5",
            "--json", str(output), stderr=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL)
        _, stderr = await asyncio.wait_for(simulator.communicate(), 60)
    assert simulator.returncode == 0, stderr.decode()
    results = json.loads(output.read_text())
    assert results["connect"]["booted"] == 3
    assert results["calls"]["timeouts"] >= 3
    assert results["calls"]["actions"]["StatusNotification"]["timeouts"] >= 3
    assert results["calls"]["all"]["count"] == 0
    assert results["load"]["answered"] == 0


# -- the command line ------------------------------------------------------------------

@pytest.mark.parametrize("arguments, complaint", [
    (["--mix", "1.7=1"], "unknown OCPP version"),
    (["--rate", "fast"], "calls per second or 'max'"),
    (["--stations", "0"], "--stations must be"),
    (["--stations", "ten"], "invalid int value"),
    (["--url", "http://127.0.0.1:1/"], "--url must start with ws://"),
    (["--json", "/no/such/folder/results.json"], "no folder"),
])
def test_bad_input_gets_a_message_not_a_traceback(arguments, complaint):
    finished = simulate(*arguments)
    assert finished.returncode == 2
    assert complaint in finished.stderr
    assert "Traceback" not in finished.stderr


def test_a_csms_that_is_not_there_is_named():
    finished = simulate("--url", f"ws://127.0.0.1:{free_port()}/ocpp/", "--duration", "1")
    assert finished.returncode == 1
    assert "nothing answers at 127.0.0.1" in finished.stderr
    assert "Traceback" not in finished.stderr


async def test_a_csms_close_without_a_code_is_answered_with_a_valid_close(tmp_path):
    answers = []

    async def closes_at_once(socket):
        await socket.close(code=None)  # a close frame with no status code
        answers.append(socket.protocol.close_rcvd)

    async with websockets.serve(closes_at_once, "127.0.0.1", 0,
                                subprotocols=["ocpp1.6"]) as server:
        port = server.sockets[0].getsockname()[1]
        simulator = await asyncio.create_subprocess_exec(
            CHARGEBUS, "simulate", "--quiet", "--url", f"ws://127.0.0.1:{port}/",
            "--stations", "1", "--duration", "1", "--json", str(tmp_path / "results.json"),
            stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL)
        _, stderr = await asyncio.wait_for(simulator.communicate(), 60)
    assert answers, stderr.decode()
    # websockets refuses a close frame with a code no one may send: close_rcvd stays None.
    assert all(answer is not None and answer.code == 1000 for answer in answers), answers
