"""Meter samples per second from a publish into JetStream to rows visible in ClickHouse.

    .venv/bin/python benchmarks/ingest.py [--messages 50000] [--samples-per-message 4|12]
                                          [--stations 100000] [--other-calls 0.0]
                                          [--clickhouse-url URL [--clickhouse-pid PID]]
                                          [--heavy-queries]

Starts a nats-server of its own, publishes MeterValues calls of 1.6 with 4 sampled values
each (energy, power, current and voltage of one phase) or 12 (a three-phase AC charger:
energy, power, and current, voltage and power per phase), and, with --other-calls, that
many Heartbeats per MeterValues on average, into the OCPP stream as the edge records them
(acknowledged publishes, a bounded window), then starts one sink process (chdb in a
temporary folder, or the ClickHouse server at --clickhouse-url) and times until the
samples table holds them all: the rate a sink drains JetStream into ClickHouse. The
publish rate of this one Python publisher is printed too (an edge publishes only its own
stations' calls). With --heavy-queries, a query that runs until its time limit stops it
(a count over system.numbers) keeps the sink's query thread busy all the while, one
after another: the ratio of the two rates is what such a query takes from ingest. Stops
everything at the end or after --deadline seconds.
"""
import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nats
import orjson

from chargebus.bus import queryreplies, subjects
from chargebus.bus.events import CallContext
from chargebus.bus.topology import ensure_topology
from chargebus.meter.clickhouse.engines import ServerEngine, with_database
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.clock import ocpp_timestamp
from chargebus.runtime.config import Settings
from chargebus.runtime.natsserver import nats_server_command
from processes import cpu_seconds, free_port

WINDOW = 2000  # publishes awaiting their ack at once


def sampled_values(index: int, count: int) -> list[dict]:
    one_phase = [
        {"value": str(1000 + index), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"},
        {"value": "16.1", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
        {"value": "230.1", "measurand": "Voltage", "phase": "L1-N", "unit": "V"}]
    if count == 4:
        return one_phase
    per_phase = [sample | {"phase": phase} for phase in ("L1", "L2", "L3") for sample in (
        {"value": "16.1", "measurand": "Current.Import", "unit": "A"},
        {"value": "230.1", "measurand": "Voltage", "unit": "V"},
        {"value": "3.7", "measurand": "Power.Active.Import", "unit": "kW"})]
    return one_phase[:2] + per_phase + [
        {"value": "0.1", "measurand": "Current.Import", "phase": "N", "unit": "A"}]


def meter_values(index: int, samples_per_message: int = 4) -> bytes:
    minute = index // 100
    return orjson.dumps({"connectorId": 1, "meterValue": [{
        "timestamp": f"2026-11-{1 + minute // 1440 % 28:02d}T{minute // 60 % 24:02d}:"
                     f"{minute % 60:02d}:00Z",
        "sampledValue": sampled_values(index, samples_per_message)}]})


async def publish(nc, count: int, stations: int, samples_per_message: int = 4,
                  other_calls: float = 0.0) -> float:
    """Records ``count`` MeterValues and, after each, ``other_calls`` Heartbeats on average
    (calls without meter data, which the meter sink's consumers skip)."""
    js = nc.jetstream()
    pending: set[asyncio.Future] = set()
    started = time.perf_counter()
    owed_calls = 0.0
    heartbeats = 0

    async def record(station: str, action: str, unique_id: str, body: bytes) -> None:
        nonlocal pending
        context = CallContext(station, OcppVersion.V16, action, unique_id, "bench",
                              ocpp_timestamp())
        pending.add(asyncio.ensure_future(js.publish(
            subjects.station_event(station, action), body,
            headers=context.record_headers(body))))
        if len(pending) >= WINDOW:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)

    for index in range(count):
        station = f"BENCH-{index % stations:05d}"
        await record(station, "MeterValues", f"m{index}", meter_values(index, samples_per_message))
        owed_calls += other_calls
        while owed_calls >= 1:
            owed_calls -= 1
            heartbeats += 1
            await record(station, "Heartbeat", f"h{heartbeats}", b"{}")
    await asyncio.gather(*pending)
    return time.perf_counter() - started


async def stored(nc) -> int:
    rows = await queryreplies.rows_of(nc, "SELECT count() AS n FROM meter_samples", timeout=30)
    return int(rows[0]["n"])


# The sink's query limit in a run with --heavy-queries: short, so that several run.
HEAVY_QUERY_SECONDS = 5


async def heavy_queries(nc) -> None:
    """Queries that each run until the time limit stops them, one after another."""
    while True:
        try:
            await queryreplies.rows_of(nc, "SELECT count() FROM system.numbers",
                                       timeout=HEAVY_QUERY_SECONDS + 30)
        except queryreplies.QueryFailed as stopped:
            if stopped.kind != queryreplies.LIMIT:
                raise


async def fill(nats_url: str, messages: int, stations: int, samples_per_message: int,
               other_calls: float = 0.0) -> float:
    nc = await nats.connect(nats_url)
    await ensure_topology(nc.jetstream())
    published = await publish(nc, messages, stations, samples_per_message, other_calls)
    await nc.close()
    return published


async def drain(arguments, nats_url: str, published: float,
                processes: dict[str, tuple[int, ...]]) -> bool:
    """Prints the rate; False if not every sample was visible by the deadline."""
    nc = await nats.connect(nats_url)
    expected = arguments.messages * arguments.samples_per_message
    # The sink's main thread (its event loop) is what one sink cannot spread over cores.
    processes = processes | {"sink main thread": processes["sink"] * 2}
    cpu_before = {name: cpu_seconds(*pid) for name, pid in processes.items()}
    heavy = asyncio.create_task(heavy_queries(nc)) if arguments.heavy_queries else None
    started = time.perf_counter()
    deadline = started + arguments.deadline
    count = 0
    while time.perf_counter() < deadline:
        count = await stored(nc)
        if count >= expected:
            break
        await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - started
    if heavy is not None:
        heavy.cancel()
        await asyncio.gather(heavy, return_exceptions=True)
    cpu = {name: cpu_seconds(*pid) - cpu_before[name] for name, pid in processes.items()}
    await nc.close()
    target = arguments.clickhouse_url or "chdb"
    print(f"{target}: {arguments.messages} MeterValues ({expected} samples) published in "
          f"{published:.1f} s ({expected / published:,.0f} samples/s); the sink made {count} "
          f"samples visible in {elapsed:.1f} s: {count / elapsed:,.0f} samples/s")
    if heavy is not None:
        print("meanwhile queries ran one after another, each until its time limit stopped it")
    print("CPU per message while draining: " + ", ".join(
        f"{name} {seconds / arguments.messages * 1e6:.0f} us" for name, seconds in cpu.items()))
    return count >= expected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    # As many stations as send this rate: at 20,000 MeterValues a second, 100,000
    # stations send one every 5 s each. With few stations sending hundreds of calls in
    # a burst, nats-server takes a slow path for filtered consumers that a busy
    # network's stream does not (benchmarks/consumer_filter.py).
    parser.add_argument("--stations", type=int, default=100_000)
    parser.add_argument("--samples-per-message", type=int, choices=(4, 12), default=4)
    parser.add_argument("--other-calls", type=float, default=0.0,
                        help="Heartbeats recorded per MeterValues, on average: calls "
                             "without meter data, which the meter sink's consumers skip")
    parser.add_argument("--clickhouse-url")
    parser.add_argument("--batch-size", type=int, default=Settings().sink_batch_size)
    parser.add_argument("--batch-seconds", type=float, default=Settings().sink_batch_seconds)
    parser.add_argument("--deadline", type=float, default=300.0)
    parser.add_argument("--heavy-queries", action="store_true",
                        help="keep a query that runs until its time limit going meanwhile")
    parser.add_argument("--clickhouse-pid", type=int,
                        help="the local clickhouse-server's pid, to show its CPU too")
    arguments = parser.parse_args()
    database = None
    if arguments.clickhouse_url:
        # A database of its own, so that only this run's samples are counted.
        server = arguments.clickhouse_url
        database = f"ingest_{os.getpid()}"
        _on_server(server, f"CREATE DATABASE {database}")
        arguments.clickhouse_url = with_database(server, database)
    try:
        run(arguments)
    finally:
        if database:
            _on_server(server, f"DROP DATABASE IF EXISTS {database}")
    return 0


def _on_server(server: str, statement: str) -> None:
    engine = ServerEngine(with_database(server, "default"))
    try:
        engine.execute(statement)
    finally:
        engine.close()


def run(arguments) -> None:
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        nats_url = f"nats://127.0.0.1:{port}"
        nats_process = subprocess.Popen(nats_server_command(port, Path(folder) / "nats",
                                                      Path(folder) / "nats.log"))
        # On a server the query user's profile holds the time limit instead.
        heavy_limit = ({"query_timeout_seconds": HEAVY_QUERY_SECONDS}
                       if arguments.heavy_queries else {})
        environment = os.environ | Settings(nats_url=nats_url, data_dir=Path(folder),
                                            clickhouse_url=arguments.clickhouse_url,
                                            sink_batch_size=arguments.batch_size,
                                            sink_batch_seconds=arguments.batch_seconds,
                                            **heavy_limit).as_environment()
        time.sleep(1)
        published = asyncio.run(fill(nats_url, arguments.messages, arguments.stations,
                                     arguments.samples_per_message, arguments.other_calls))
        # To a file, not a pipe: a pipe nobody reads would stop the sink at its 64 KiB
        # of warnings.
        sink_log = Path(folder) / "sink.log"
        with sink_log.open("wb") as log_file:
            sink = subprocess.Popen([sys.executable, "-m", "chargebus.services.sink"],
                                    env=environment, stdout=subprocess.DEVNULL, stderr=log_file)
        try:
            while "sink is ready" not in sink_log.read_text(errors="replace"):
                if sink.poll() is not None:
                    raise SystemExit(f"the sink stopped:\n{sink_log.read_text()}")
                time.sleep(0.1)
            processes = {"nats-server": (nats_process.pid,), "sink": (sink.pid,)}
            if arguments.clickhouse_pid:
                processes["clickhouse-server"] = (arguments.clickhouse_pid,)
            complete = asyncio.run(drain(arguments, nats_url, published, processes))
        finally:
            sink.terminate()
            sink.wait(timeout=30)
            nats_process.terminate()
            nats_process.wait(timeout=30)
        complaints = [line for line in sink_log.read_text(errors="replace").splitlines()
                      if " WARNING " in line or " ERROR " in line]
        if complaints or not complete:
            shown = (complaints if len(complaints) <= 10
                     else complaints[:5] + ["..."] + complaints[-5:])
            print(f"the sink logged {len(complaints)} warnings and errors:", *shown, sep="\n")
        if not complete:
            raise SystemExit("incomplete: not every sample was visible by the deadline")


if __name__ == "__main__":
    sys.exit(main())

# Where the time goes (2026-11-22, 300,000 messages of 12 samples from 100,000 stations,
# one sink, the defaults' batches of 20,000 messages or 1 s), CPU per message while
# draining:
# - chdb: nats-server 15-18 us delivering it to the pull consumer and taking its ack;
#   the sink's event loop 29-32 us (nats-py's parser, msgspec checking the call and
#   reading where it was taken, the column appends of a row per call, the acks in one
#   write); chdb's threads about 27-32 us (reading the JSON and making the rows, the
#   insert with its four materialized views, the background merges).
#   233,800-281,700 samples/s.
# - server 18.16: nats-server 15-17 us; the sink 49-56 us (the same event loop; chdb
#   making the rows, about 14 us, and RowBinary over HTTP); clickhouse-server 21-27 us.
#   204,900-239,300 samples/s: three processes on 2 cores, with both busy.
# With 1,000 stations, nats-server took 28-38 us a message (benchmarks/consumer_filter.py
# says why) and the server runs gave 154,700-232,600 samples/s.
# Before ClickHouse read the calls' JSON, the sink's event loop took about 47 us a
# message walking the sampled values, and chdb's insert held the GIL while it read a
# list entry per sample and column: 145,000-165,000 samples/s. Smaller batches (5,000
# messages or 0.5 s) made parts whose merges took about 19 us a message.
# With --heavy-queries (2026-12-04, 100,000 messages of 4 samples, chdb, the machine's
# 2 cores shared with other work: load average about 5), the rate with a query running
# until its limit all along was 0.5 to 0.8 of the rate without (27,000-41,000 against
# 51,000-65,000 samples/s); too noisy a machine for more than that order of magnitude.
