"""Read-only SQL from outside (`chargebus sql`, the sink's query subject) runs under
ClickHouse's own protection, on chdb and on a ClickHouse server (18.16) alike: what
reaches files, URLs or other servers, writes, or lifts a limit is refused and changes
nothing; answers of any size come back whole, in as many replies as they take; the
limits stop a query with an error that names them, and ingest goes on meanwhile."""
import asyncio
import uuid

import orjson
import pytest
import pytest_asyncio
import websockets

from clickhouse_server import QUERY_USER, ClickHouseServer
from conftest import eventually, free_port, sql, start_system
from chargebus.bus import queryreplies
from chargebus.meter.clickhouse.engines import ServerEngine
from chargebus.meter.clickhouse.querylimits import QueryLimits, QueryUserUnsafe
from chargebus.services.sink.store import MeterStore

ASYNC = pytest.mark.asyncio(loop_scope="session")

# Tight, so that a query stopped by its time limit costs the tests little.
LIMITS = QueryLimits(seconds=4, memory_bytes=1 << 30, rows=60_000, threads=1)
LIMIT_SETTINGS = {"CHARGEBUS_QUERY_TIMEOUT_SECONDS": str(LIMITS.seconds),
                  "CHARGEBUS_QUERY_MAX_MEMORY_BYTES": str(LIMITS.memory_bytes),
                  "CHARGEBUS_QUERY_MAX_ROWS": str(LIMITS.rows),
                  "CHARGEBUS_QUERY_MAX_THREADS": str(LIMITS.threads),
                  "CHARGEBUS_SINK_BATCH_SECONDS": "0.2"}
# Each engine's system comes through request.getfixturevalue, which the markers do not
# see (tests/markers.py): the parameters carry them.
ENGINES = pytest.mark.parametrize("engine", [
    pytest.param("chdb", marks=pytest.mark.system),
    pytest.param("server", marks=[pytest.mark.system, pytest.mark.clickhouse])])
WAIT = LIMITS.seconds + 30


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory):
    server = ClickHouseServer(tmp_path_factory.mktemp("clickhouse"), free_port(), free_port(),
                              query_limits=LIMITS)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chdb_system(tmp_path_factory):
    system = start_system(tmp_path_factory.mktemp("queries-chdb"), environment=LIMIT_SETTINGS)
    yield system
    assert system.stop() == 0


@pytest.fixture(scope="module")
def server_system(clickhouse, tmp_path_factory):
    system = start_system(tmp_path_factory.mktemp("queries-server"),
                          environment=LIMIT_SETTINGS | {"CHARGEBUS_CLICKHOUSE_URL": clickhouse.url})
    yield system
    assert system.stop() == 0


@pytest_asyncio.fixture(loop_scope="session")
async def running(engine, request):
    """The system of the engine, and a NATS connection to it."""
    system = request.getfixturevalue(f"{engine}_system")
    nc = await system.connect()
    yield system, nc
    await nc.close()


async def failure(nc, query: str) -> queryreplies.QueryFailed:
    """The error the sink answers ``query`` with, after whatever rows came first."""
    try:
        await queryreplies.rows_of(nc, query, WAIT)
    except queryreplies.QueryFailed as failed:
        return failed
    pytest.fail(f"answered without an error: {query}")


def attacks(tmp_path, metrics_port: int) -> dict[str, str]:
    return {
        "a file": "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "a file in user_files": "SELECT * FROM file('x.csv', 'CSV', 'a UInt8')",
        "a URL": f"SELECT * FROM url('http://127.0.0.1:{metrics_port}/metrics', 'LineAsString')",
        "another server": "SELECT * FROM remote('127.0.0.1:9000', system.one)",
        "a secure server": "SELECT * FROM remoteSecure('127.0.0.1:9440', system.one)",
        "MySQL": "SELECT * FROM mysql('127.0.0.1:3306', 'd', 't', 'u', 'p')",
        "JDBC": "SELECT * FROM jdbc('jdbc:mysql://127.0.0.1/d', 't')",
        "ODBC": "SELECT * FROM odbc('DSN=x', 't')",
        "HDFS": "SELECT * FROM hdfs('hdfs://127.0.0.1:9000/x', 'TSV', 'a UInt8')",
        "S3": "SELECT * FROM s3('http://127.0.0.1:1/bucket/x.csv', 'CSV', 'a UInt8')",
        "PostgreSQL": "SELECT * FROM postgresql('127.0.0.1:5432', 'd', 't', 'u', 'p')",
        "a program": "SELECT * FROM executable('id', 'TSV', 'a String')",
        "a write to a new file": f"SELECT 1 INTO OUTFILE '{tmp_path}/new'",
        "a truncate of a file": f"SELECT 1 INTO OUTFILE '{tmp_path}/kept' TRUNCATE",
        "an append to a file": f"SELECT 1 INTO OUTFILE '{tmp_path}/kept' APPEND",
        "lifting readonly": "SET readonly = 0",
        "lifting a limit": "SET max_result_rows = 0",
        "lifting readonly inline": "SELECT count() FROM meter_samples SETTINGS readonly = 0",
        "lifting a limit inline":
            "SELECT count() FROM meter_samples SETTINGS max_execution_time = 0",
        "an insert": "INSERT INTO meter_samples (station) VALUES ('intruder')",
        "a table": "CREATE TABLE intruder (a UInt8) ENGINE = Memory",
        "a drop": "DROP TABLE meter_samples",
    }


@ENGINES
@ASYNC
async def test_each_attack_is_refused_and_changes_nothing(engine, running, tmp_path):
    system, nc = running
    kept = tmp_path / "kept"
    kept.write_text("as it was\n")
    answers = {attack: await failure(nc, query)
               for attack, query in attacks(tmp_path, system.metrics_port).items()}
    for attack, failed in answers.items():
        assert "root:" not in failed.reason and "edge_" not in failed.reason, attack
    # 18.16 knows no INTO OUTFILE ... TRUNCATE or APPEND: a syntax error, nothing runs.
    unknown = {"a truncate of a file", "an append to a file"} if engine == "server" else set()
    assert {attack: str(failed) for attack, failed in answers.items()
            if failed.kind != queryreplies.REFUSED
            and not (attack in unknown and "Syntax error" in failed.reason)} == {}
    assert not (tmp_path / "new").exists()
    assert kept.read_text() == "as it was\n"
    assert await sql(nc, "SELECT count() AS n FROM system.tables "
                         "WHERE name IN ('meter_samples', 'intruder')") == [{"n": 1}]
    assert await sql(nc, "SELECT count() AS n FROM meter_samples "
                         "WHERE station = 'intruder'") == [{"n": 0}]


@ENGINES
@ASYNC
async def test_the_cli_refuses_an_attack_in_one_line(engine, running, tmp_path):
    system, _ = running
    for query in (f"SELECT 1 INTO OUTFILE '{tmp_path}/cli'",
                  "SELECT * FROM file('/etc/passwd', 'LineAsString')"):
        done = await asyncio.to_thread(system.cli, "sql", query)
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        [line] = done.stderr.splitlines()
        assert line.startswith("chargebus sql: query refused: "), line
    assert not (tmp_path / "cli").exists()


@ENGINES
@ASYNC
async def test_queries_run_readonly_within_the_limits(engine, running):
    _, nc = running
    rows = await sql(nc, "SELECT name, value FROM system.settings WHERE name IN "
                         "('readonly', 'allow_ddl', 'max_execution_time', 'max_result_rows', "
                         "'max_memory_usage', 'max_threads', 'result_overflow_mode')")
    settings = {row["name"]: row["value"] for row in rows}
    assert settings["readonly"] == "1" and settings["allow_ddl"] == "0"
    assert settings["result_overflow_mode"] == "throw"
    assert settings["max_result_rows"] == str(LIMITS.rows)
    assert settings["max_memory_usage"] == str(LIMITS.memory_bytes)
    assert float(settings["max_execution_time"]) == LIMITS.seconds
    assert settings["max_threads"].strip("'").removeprefix("auto(").rstrip(")") == "1"


PAD = "x" * 100
# system.numbers, not numbers(): 18.16 refuses every table function under readonly=1.
BIG = f"SELECT number, '{PAD}' AS pad FROM system.numbers LIMIT 50000"


@ENGINES
@ASYNC
async def test_an_answer_over_a_megabyte_comes_back_whole(engine, running):
    system, nc = running
    rows = await queryreplies.rows_of(nc, BIG, WAIT)
    assert len(orjson.dumps(rows)) > nc.max_payload  # more than one reply holds
    assert [row["number"] for row in rows] == list(range(50000))
    assert {row["pad"] for row in rows} == {PAD}
    done = await asyncio.to_thread(system.cli, "sql", BIG)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 50000
    assert orjson.loads(lines[-1]) == {"number": 49999, "pad": PAD}


@ENGINES
@ASYNC
async def test_a_row_bigger_than_a_reply_is_a_clear_error(engine, running):
    _, nc = running
    two_megabytes = "arrayStringConcat(arrayMap(i -> 'xxxxxxxxxx', range(200000)))"
    failed = await failure(nc, f"SELECT {two_megabytes} AS big")
    assert failed.kind == queryreplies.LIMIT, failed
    assert "max_payload" in failed.reason


@ENGINES
@ASYNC
async def test_an_answer_over_the_row_limit_is_a_clear_error(engine, running):
    system, nc = running
    failed = await failure(nc, f"SELECT number FROM system.numbers LIMIT {LIMITS.rows + 1}")
    assert failed.kind == queryreplies.LIMIT
    assert "max_result_rows" in failed.reason and "CHARGEBUS_QUERY_MAX_ROWS" in failed.reason
    done = await asyncio.to_thread(system.cli, "sql",
                                   f"SELECT number FROM system.numbers LIMIT {LIMITS.rows + 1}")
    assert done.returncode == 2
    assert "max_result_rows" in done.stderr.splitlines()[-1]


@ENGINES
@ASYNC
async def test_an_answer_not_of_rows_is_a_clear_error(engine, running):
    system, nc = running
    failed = await failure(nc, "SELECT 1 AS n FORMAT CSV")
    assert "FORMAT" in failed.reason
    done = await asyncio.to_thread(system.cli, "sql", "SELECT 1 AS n FORMAT CSV")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1


@ENGINES
@ASYNC
async def test_a_heavy_query_is_cut_by_its_time_limit_and_ingest_goes_on(engine, running):
    system, nc = running
    station = f"HV{uuid.uuid4().hex[:6]}"
    heavy = asyncio.create_task(failure(nc, "SELECT count() FROM system.numbers"))
    sent = 0
    async with websockets.connect(system.station_url(station),
                                  subprotocols=["ocpp1.6"]) as socket:
        while not heavy.done() and sent < 200:
            sent += 1
            await socket.send(orjson.dumps([2, f"m{sent}", "MeterValues", {
                "connectorId": 1, "meterValue": [{
                    "timestamp": f"2026-11-20T10:{sent // 60:02d}:{sent % 60:02d}Z",
                    "sampledValue": [{"value": str(sent)}]}]}]).decode())
            assert orjson.loads(await socket.recv())[0] == 3
            await asyncio.sleep(0.05)
    failed = await heavy
    assert failed.kind == queryreplies.LIMIT
    assert "max_execution_time" in failed.reason
    assert "CHARGEBUS_QUERY_TIMEOUT_SECONDS" in failed.reason

    async def arrived():
        [row] = await sql(nc, f"SELECT count() AS n FROM meter_samples WHERE station = '{station}'")
        return row["n"] if row["n"] >= sent else None
    assert await eventually(arrived, timeout=30) == sent


def test_a_query_user_that_is_not_readonly_gets_no_query(clickhouse):
    """The sink asks the server for the query user's settings before each query."""
    store = MeterStore(ServerEngine(clickhouse.url, query_user="default"), LIMITS)
    try:
        with pytest.raises(QueryUserUnsafe) as unsafe:
            list(store.query_rows("SELECT 1"))
        assert "readonly is 0, not 1" in str(unsafe.value)
        assert "CHARGEBUS_CLICKHOUSE_QUERY_USER" in str(unsafe.value)
        looser = MeterStore(ServerEngine(clickhouse.url, query_user=QUERY_USER),
                            QueryLimits(seconds=2, memory_bytes=LIMITS.memory_bytes,
                                        rows=LIMITS.rows, threads=1))
        with pytest.raises(QueryUserUnsafe) as unsafe:
            list(looser.query_rows("SELECT 1"))
        assert "max_execution_time is 4, at most 2" in str(unsafe.value)
        looser.close()
    finally:
        store.close()
