"""What the audit trail costs a CSMS-to-station call: the edge records each call, once it
ended, with one JetStream publish before it replies (chargebus.operations.audit). One
run, one machine: the round trip of a call through the edge to a station that answers
at once, against a JetStream publish of such a record to the COMMANDS stream.

    .venv/bin/python benchmarks/commands.py [--calls 500]
"""
import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import websockets

from chargebus.bus import events, subjects
from chargebus.bus.client import connect_url, identity_options
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.clock import utc_now
from chargebus.operations import audit
from chargebus.operations.commands import call_station
from chargebus.security import credentials
from chargebus.state.stores import Stores
from processes import free_port

START_SECONDS = 60


async def answering(url: str, ready: asyncio.Event) -> None:
    """A 1.6 station that answers every call at once."""
    async with websockets.connect(url, subprotocols=["ocpp1.6"]) as socket:
        ready.set()
        async for frame in socket:
            call = orjson.loads(frame)
            if call[0] == 2:
                await socket.send(orjson.dumps([3, call[1], {"status": "Accepted"}]).decode())


async def run(nats_url: str, edge_port: int, data_dir: Path, calls: int) -> None:
    seed = credentials.operator_seed(data_dir)
    nc = await connect_url(nats_url, **identity_options(seed))
    js = nc.jetstream()
    station_id = "BENCH-CMD"
    ready = asyncio.Event()
    station = asyncio.create_task(answering(
        f"ws://127.0.0.1:{edge_port}/ocpp/{station_id}", ready))
    await ready.wait()
    while True:
        presence = await Stores(js).presence.get(station_id)
        if presence is not None and presence.online:
            break
        await asyncio.sleep(0.1)
    round_trips, publishes = [], []
    for _ in range(calls):
        began = time.perf_counter()
        reply = await call_station(nc, station_id, "ClearCache", {}, timeout=10,
                                   sender="benchmark")
        round_trips.append(time.perf_counter() - began)
        assert reply.ok, reply
        entry = audit.CommandRecord(
            id=audit.CommandRecord.new_id(), sender="benchmark", station_id=station_id,
            action="ClearCache", payload={}, outcome="result", answer={"status": "Accepted"},
            requested_at=utc_now(), answered_at=utc_now(), latency_ms=1.0, edge_id="edge-1",
            version=OcppVersion.V16.value)
        began = time.perf_counter()
        await js.publish(subjects.command_record(station_id, "ClearCache"),
                         entry.model_dump_json().encode(),
                         headers={events.NATS_MSG_ID: entry.id})
        publishes.append(time.perf_counter() - began)
    station.cancel()
    await nc.close()
    call_ms = statistics.median(round_trips) * 1000
    publish_ms = statistics.median(publishes) * 1000
    print(f"{calls} calls through the edge to a station answering at once, median "
          f"{call_ms:.2f} ms; a JetStream publish of their audit record, median "
          f"{publish_ms:.2f} ms ({publish_ms / call_ms:.0%} of a call)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        nats_url = f"nats://127.0.0.1:{free_port()}"
        edge_port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "chargebus", "--nats-url", nats_url, "run", "--edge-port",
             str(edge_port), "--metrics-port", "0", "--files-port", str(free_port()),
             "--ftp-port", "0", "--api-port", str(free_port()), "--data-dir", folder],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=os.environ | {"PYTHONUNBUFFERED": "1"})
        try:
            deadline = time.monotonic() + START_SECONDS
            while time.monotonic() < deadline:
                line = process.stdout.readline() if process.stdout else ""
                if not line or line.startswith("  Ctrl-C stops everything"):
                    break
            asyncio.run(run(nats_url, edge_port, Path(folder), arguments.calls))
        finally:
            process.terminate()
            process.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
