"""Meter data in ClickHouse: the same migrations and analytics on embedded chdb and on a
real ClickHouse server (Debian's 18.16), exactly once through a server outage, a
killed sink and two sinks at once; one owner of a chdb folder."""
import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import timedelta

import orjson
import pytest
import pytest_asyncio
import websockets

from clickhouse_server import ClickHouseServer
from conftest import (descendants, eventually, free_port, service_process, sql,
                      start_system)
from moments import clickhouse_text, stamp, yesterday
from chargebus.meter.analytics import Analytics
from chargebus.meter.clickhouse.engines import ChdbEngine, ServerEngine
from chargebus.meter.clickhouse.migrations import MIGRATIONS, migrate
from chargebus.ocpp.clock import utc_now
from chargebus.security.permissions import Role

ASYNC = pytest.mark.asyncio(loop_scope="session")

SERVER_SETTINGS = {"CHARGEBUS_CONSUMER_ACK_WAIT_SECONDS": "4",
                   "CHARGEBUS_SINK_MAX_RETRY_SECONDS": "4",
                   "CHARGEBUS_SINK_BATCH_SECONDS": "0.2"}


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory):
    server = ClickHouseServer(tmp_path_factory.mktemp("clickhouse"), free_port(), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server_system(clickhouse, tmp_path_factory):
    system = start_system(tmp_path_factory.mktemp("on-server"), environment=SERVER_SETTINGS | {
        "CHARGEBUS_CLICKHOUSE_URL": clickhouse.url})
    yield system
    assert system.stop() == 0


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server_bus(server_system):
    nc = await server_system.connect()
    yield nc
    await nc.close()


def test_migrations_on_both_engines_and_twice(clickhouse, tmp_path):
    embedded = ChdbEngine(tmp_path / "chdb")
    server = ServerEngine(clickhouse.url)
    try:
        assert server.version[:2] == (18, 16)  # Debian's package, as the issue has it
        latest = MIGRATIONS[-1][0]
        for engine in (embedded, server):
            assert migrate(engine) == latest
            assert migrate(engine) == latest  # a second run changes nothing
        tables = [sorted(name for (name,) in engine.query("SHOW TABLES")[1])
                  for engine in (embedded, server)]
        assert tables[0] == tables[1]
        kinds = {name: kind for name, kind in server.query(
            "SELECT name, type FROM system.columns WHERE table = 'meter_samples'")[1]}
        assert kinds["ts"] == "DateTime('UTC')" and kinds["measurand"] == "String"
        kinds = {name: kind for name, kind in embedded.query(
            "SELECT name, type FROM system.columns WHERE table = 'meter_samples'")[1]}
        assert kinds["ts"] == "DateTime64(3, 'UTC')"
    finally:
        embedded.close()
        server.close()


class MeterStation:
    """A bare 1.6 socket that sends MeterValues and expects each answered {}."""

    def __init__(self, url: str):
        self.url = url
        self.sent = 0
        self.answered = 0

    async def __aenter__(self):
        self.socket = await websockets.connect(self.url, subprotocols=["ocpp1.6"])
        return self

    async def __aexit__(self, *exc_info):
        await self.socket.close()

    async def meter(self, timestamp: str, values: list[tuple[str, str, str]],
                    connector: int = 1) -> None:
        """values: (measurand, value, unit)."""
        self.sent += 1
        unique_id = f"mv-{self.sent}"
        await self.socket.send(orjson.dumps([2, unique_id, "MeterValues", {
            "connectorId": connector, "meterValue": [{"timestamp": timestamp, "sampledValue": [
                {"measurand": measurand, "value": value, "unit": unit}
                for measurand, value, unit in values]}]}]).decode())
        answer = orjson.loads(await asyncio.wait_for(self.socket.recv(), 30))
        assert answer == [3, unique_id, {}], answer
        self.answered += 1


ENERGY, POWER = "Energy.Active.Import.Register", "Power.Active.Import"


def _on(day, clock: str):
    """``clock`` (HH:MM) on that day."""
    hours, minutes = clock.split(":")
    return day + timedelta(hours=int(hours), minutes=int(minutes))


async def _analytics_data(system, prefix: str, day) -> None:
    """Two sites: A with stations 1 and 2, B with station 3, on that day."""
    for station, site in ((f"{prefix}-1", "SITE-A"), (f"{prefix}-2", "SITE-A"),
                          (f"{prefix}-3", "SITE-B")):
        done = system.cli("stations", "add", station, "--site", site)
        assert done.returncode == 0, done.stderr
    await asyncio.sleep(1)  # the sink follows the access bucket through a KV watch
    readings = {
        f"{prefix}-1": [("10:00", [(ENERGY, "1000", "Wh"), (POWER, "7", "kW")]),
                        ("10:05", [(POWER, "9000", "W")]),
                        ("10:15", [(ENERGY, "1500", "Wh"), (POWER, "4000", "W")]),
                        ("10:40", [(ENERGY, "2.5", "kWh")])],
        f"{prefix}-2": [("10:00", [(ENERGY, "0", "Wh"), (POWER, "3000", "W")]),
                        ("10:20", [(ENERGY, "800", "Wh")])],
        f"{prefix}-3": [("10:30", [(ENERGY, "100", "Wh"), (POWER, "2000", "W")]),
                        ("10:50", [(ENERGY, "400", "Wh")])],
    }
    for station, series in readings.items():
        async with MeterStation(system.station_url(station)) as meters:
            for clock, values in series:
                await meters.meter(stamp(_on(day, clock)), values)


@pytest.mark.parametrize("engine", [  # markers: the system comes by getfixturevalue
    pytest.param("chdb", marks=pytest.mark.system),
    pytest.param("server", marks=[pytest.mark.system, pytest.mark.clickhouse])])
@ASYNC
async def test_analytics_give_the_same_answers_on_both_engines(engine, request):
    system = request.getfixturevalue("system" if engine == "chdb" else "server_system")
    nc = await system.connect()
    prefix = f"AN{uuid.uuid4().hex[:6]}"
    # Yesterday, a whole day: the readings are past (their stations silent now) whatever
    # the time of day the test runs.
    since = yesterday()
    until = since + timedelta(days=1)
    try:
        await _analytics_data(system, prefix, since)
        analytics = Analytics.over_nats(nc)

        async def energy_by_station():
            """Once every reading is in: they reach ClickHouse in whatever batches the
            sink makes, and a station's energy is its last reading minus its first."""
            rows = [row for row in await analytics.energy("station", since, until)
                    if row["station"].startswith(prefix)]
            return rows if [row["energy_wh"] for row in rows] == [1500, 800, 300] else None
        daily = await eventually(energy_by_station)
        day = since.date().isoformat()
        assert [(row["station"][-1], row["day"], row["energy_wh"]) for row in daily] == [
            ("1", day, 1500), ("2", day, 800), ("3", day, 300)]
        # Not whole days: read from the 15-minute aggregates, the same answer.
        assert [row for row in await analytics.energy(
            "station", since - timedelta(minutes=1), until)
            if row["station"].startswith(prefix)] == daily
        by_site = {row["site"]: row["energy_wh"]
                   for row in await analytics.energy("site", since, until)}
        assert by_site["SITE-A"] >= 2300 and by_site["SITE-B"] >= 300
        peaks = {row["site"]: (row["peak_w"], row["slot"])
                 for row in await analytics.peak(since, until)}
        assert peaks["SITE-A"][0] >= 11000 and peaks["SITE-A"][1] == clickhouse_text(
            _on(since, "10:00"))
        series = await analytics.series(f"{prefix}-1", ENERGY, since, until)
        assert [(row["at"][11:19], row["unit"], row["value"]) for row in series] == [
            ("10:00:00", "Wh", 1000), ("10:15:00", "Wh", 1500), ("10:40:00", "Wh", 2500)]
        silent = {row["station"] for row in await analytics.silent(60, utc_now())}
        assert {f"{prefix}-1", f"{prefix}-2", f"{prefix}-3"} <= silent
        # At 11:30 that day only station 2 (last sample 10:20) had been silent for an hour.
        then = {row["station"] for row in await analytics.silent(60, _on(since, "11:30"))}
        assert {f"{prefix}-1", f"{prefix}-2", f"{prefix}-3"} & then == {f"{prefix}-2"}
        for output in ("table", "csv", "json"):
            done = await asyncio.to_thread(
                system.cli, "analytics", "energy", "--since", stamp(since),
                "--until", stamp(until), "--format", output)
            assert done.returncode == 0, done.stderr
            assert f"{prefix}-1" in done.stdout and "1500" in done.stdout
        csv_lines = (await asyncio.to_thread(
            system.cli, "analytics", "series", f"{prefix}-3", "--since", stamp(since),
            "--until", stamp(until), "--format", "csv")).stdout.splitlines()
        assert csv_lines[0] == "at,evse_id,phase,unit,value" and len(csv_lines) == 3
    finally:
        await nc.close()


@ASYNC
async def test_sessions_on_the_server(server_system, server_bus):
    station_id, transaction_id = f"SES-{uuid.uuid4().hex[:6]}", f"tx-{uuid.uuid4().hex[:6]}"
    day = yesterday()  # a day past, asked for whole, whatever the time of day
    async with websockets.connect(server_system.station_url(station_id),
                                  subprotocols=["ocpp2.0.1"]) as socket:
        for seq, (kind, clock, kwh) in enumerate((("Started", "09:00", 10.0),
                                                  ("Ended", "09:45", 22.5))):
            payload = {"eventType": kind, "timestamp": stamp(_on(day, clock)),
                       "triggerReason": "Authorized", "seqNo": seq,
                       "transactionInfo": {"transactionId": transaction_id},
                       "evse": {"id": 1, "connectorId": 1},
                       "meterValue": [{"timestamp": stamp(_on(day, clock)), "sampledValue": [
                           {"value": kwh, "unitOfMeasure": {"unit": "kWh"}}]}]}
            await socket.send(orjson.dumps([2, f"te-{seq}", "TransactionEvent", payload]).decode())
            assert orjson.loads(await socket.recv())[0] == 3
    analytics = Analytics.over_nats(server_bus)

    async def session():
        rows = await analytics.sessions(day, day + timedelta(days=1), station_id)
        return rows if rows and rows[0]["energy_wh"] == 12500 else None
    [row] = await eventually(session)
    assert (row["transaction_id"], row["duration_s"], row["stop_reason"]) == (
        transaction_id, 2700, "Local")


async def _count(bus, station_prefix: str) -> tuple[int, int]:
    rows = await sql(bus, f"SELECT count() AS n, uniqExact(station, stream_seq, measurand) AS u "
                          f"FROM meter_samples WHERE startsWith(station, '{station_prefix}')")
    return int(rows[0]["n"]), int(rows[0]["u"])


async def _send_for(system, prefix: str, stations: int, seconds: float, counter: dict) -> None:
    """Stations each sending one MeterValues (2 samples) every 0.2 s for ``seconds``."""
    async def one(index: int) -> None:
        async with MeterStation(system.station_url(f"{prefix}-{index}")) as meters:
            deadline = asyncio.get_running_loop().time() + seconds
            minute = 0
            while asyncio.get_running_loop().time() < deadline:
                minute += 1
                await meters.meter(f"2026-11-19T{minute // 60 % 24:02d}:{minute % 60:02d}:00Z",
                                   [(ENERGY, str(minute), "Wh"), (POWER, "1000", "W")])
                await asyncio.sleep(0.2)
            counter["sent"] += meters.sent
            counter["answered"] += meters.answered
    await asyncio.gather(*(one(index) for index in range(stations)))


@pytest.mark.timeout(300)
@ASYNC
async def test_a_clickhouse_outage_loses_and_doubles_nothing(clickhouse, server_system, server_bus):
    prefix = f"OUT{uuid.uuid4().hex[:6]}"
    counter = {"sent": 0, "answered": 0}
    sending = asyncio.create_task(_send_for(server_system, prefix, 4, 80, counter))
    await asyncio.sleep(10)
    clickhouse.stop()  # a minute without ClickHouse; the stations go on
    await asyncio.sleep(60)
    clickhouse.start()
    await sending
    expected = counter["sent"] * 2

    async def complete():
        counts = await _count(server_bus, prefix)
        return counts if counts[0] >= expected else None
    stored, distinct = await eventually(complete, timeout=60) or await _count(server_bus, prefix)
    print(f"outage: {counter['sent']} MeterValues sent, {counter['answered']} acknowledged, "
          f"{stored} samples stored of {expected}, {distinct} distinct")
    assert counter["answered"] == counter["sent"]
    assert stored == distinct == expected


@pytest.mark.timeout(200)
@ASYNC
async def test_a_killed_sink_and_a_second_sink_double_nothing(clickhouse, server_system,
                                                             server_bus):
    prefix = f"KIL{uuid.uuid4().hex[:6]}"
    counter = {"sent": 0, "answered": 0}
    with service_process("sink", server_system, SERVER_SETTINGS | {
            "CHARGEBUS_CLICKHOUSE_URL": clickhouse.url}):
        sending = asyncio.create_task(_send_for(server_system, prefix, 4, 20, counter))
        await asyncio.sleep(8)
        os.kill(_sink_pid(server_system), signal.SIGKILL)  # the supervisor starts it again
        await sending
        expected = counter["sent"] * 2

        async def complete():
            counts = await _count(server_bus, prefix)
            return counts if counts[0] >= expected else None
        stored, distinct = await eventually(complete, timeout=60) or await _count(
            server_bus, prefix)
    assert stored == distinct == expected


def _sink_pid(system) -> int:
    for pid in descendants(system.process.pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if b"chargebus.services.sink" in handle.read():
                    return pid
        except OSError:
            continue
    pytest.fail("the embedded system's sink process was not found")


def test_a_second_owner_of_a_chdb_folder_is_told_clearly(system):
    done = subprocess.run([sys.executable, "-m", "chargebus.services.sink"], capture_output=True,
                          text=True, timeout=60,
                          env=os.environ | {
                              "CHARGEBUS_NATS_URL": system.nats_url,
                              "CHARGEBUS_NATS_CREDENTIALS": str(system.seed(Role.SINK)),
                              "CHARGEBUS_DATA_DIR": str(system.data_dir)})
    assert done.returncode != 0
    assert "Only one process may own it" in done.stderr + done.stdout
