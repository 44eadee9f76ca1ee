"""What the HTTP API adds to what it serves: a page of 10,000 stations and an operation's
round trip through the API, against the same through the library calls the command line
makes (chargebus.state.fleet.fleet, chargebus.operations.perform.perform), in one run
on one `chargebus run`.

    .venv/bin/python benchmarks/api.py [--stations 10000] [--lists 40] [--operations 500]

The stations are records in KV, as chargebus keeps them (benchmarks/fleet.py); the
operation is a ClearCache to a 1.6 station that answers at once. Each is timed one
request at a time (latency) and with --concurrency requests in flight (rate).
"""
import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from chargebus.bus.client import connect_url, identity_options
from chargebus.bus.topology import ensure_topology
from chargebus.domain.operations import ClearCache
from chargebus.operations.perform import perform
from chargebus.security import credentials
from chargebus.state.fleet import fleet
from chargebus.state.stores import Stores
from commands import answering
from fleet import fill
from processes import free_port

START_SECONDS = 60
CHARGEBUS = Path(sys.executable).parent / "chargebus"
STATION = "BENCH-API"


def figures(name: str, latencies: list[float], seconds: float) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    median = statistics.median(ordered)
    return (f"{name:50} {len(latencies) / seconds:9.1f}/s  p50 {median * 1e3:8.2f} ms"
            f"  p99 {p99 * 1e3:8.2f} ms")


async def timed(count: int, concurrency: int, one: Callable[[], Awaitable[None]]
                ) -> tuple[list[float], float]:
    latencies: list[float] = []
    left = iter(range(count))

    async def worker() -> None:
        for _ in left:
            began = time.perf_counter()
            await one()
            latencies.append(time.perf_counter() - began)
    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - began


async def run(system: dict, arguments: argparse.Namespace) -> None:
    nc = await connect_url(system["nats_url"],
                           **identity_options(credentials.operator_seed(system["data"])))
    js = nc.jetstream()
    await ensure_topology(js)
    stores = Stores(js)
    await fill(stores, arguments.stations)
    made = subprocess.run([str(CHARGEBUS), "--nats-url", system["nats_url"], "--data-dir",
                           str(system["data"]), "api-keys", "add", "bench", "--scope", "operate"],
                          capture_output=True, text=True, check=True)
    headers = {"Authorization": f"Bearer {made.stdout.strip()}"}
    api = system["api_url"]
    ready = asyncio.Event()
    station = asyncio.create_task(answering(
        f"ws://127.0.0.1:{system['edge_port']}/ocpp/{STATION}", ready))
    await ready.wait()
    async with aiohttp.ClientSession(headers=headers) as session:
        while True:  # the API's view holds every station, and the answering one is online
            async with session.get(f"{api}/stations/{STATION}") as response:
                online = response.status == 200 and (await response.json())["online"]
            async with session.get(f"{api}/health") as response:
                known = (await response.json())["stations"]
            if online and known > arguments.stations:
                break
            await asyncio.sleep(0.2)

        async def api_list() -> None:
            async with session.get(f"{api}/stations", params={"limit": "10000"}) as response:
                assert response.status == 200
                await response.read()

        async def library_list() -> None:
            assert len(await fleet(stores)) > arguments.stations

        async def api_operation() -> None:
            async with session.post(f"{api}/stations/{STATION}/clear-cache",
                                    json={}) as response:
                assert response.status == 200, await response.text()
                await response.read()

        async def library_operation() -> None:
            performed = await perform(nc, STATION, ClearCache(), sender="benchmark")
            assert performed.taken

        print(f"{arguments.stations:,} stations; {arguments.lists} lists and "
              f"{arguments.operations} operations each way, in one run\n")
        results = {}
        for name, one, count in (
                ("station list of 10,000, API", api_list, arguments.lists),
                ("station list of 10,000, library", library_list, arguments.lists),
                ("operation round trip, API", api_operation, arguments.operations),
                ("operation round trip, library", library_operation, arguments.operations)):
            await one()  # warm
            for concurrency in (1, arguments.concurrency):
                latencies, seconds = await timed(count, concurrency, one)
                results[(name, concurrency)] = (latencies, seconds)
                print(figures(f"{name}, {concurrency} at once", latencies, seconds), flush=True)
        print()
        for what in ("station list of 10,000", "operation round trip"):
            for concurrency in (1, arguments.concurrency):
                api_l, api_s = results[(f"{what}, API", concurrency)]
                lib_l, lib_s = results[(f"{what}, library", concurrency)]
                print(f"{what}, {concurrency} at once: API/library rate "
                      f"{(len(api_l) / api_s) / (len(lib_l) / lib_s):.2f}x, median latency "
                      f"{statistics.median(api_l) / statistics.median(lib_l):.2f}x")
    station.cancel()
    await nc.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--lists", type=int, default=40)
    parser.add_argument("--operations", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        nats_url, edge_port, api_port = (f"nats://127.0.0.1:{free_port()}", free_port(),
                                         free_port())
        log = Path(folder) / "run.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                [str(CHARGEBUS), "--nats-url", nats_url, "run", "--edge-port", str(edge_port),
                 "--metrics-port", "0", "--files-port", str(free_port()), "--ftp-port", "0",
                 "--api-port", str(api_port), "--data-dir", str(Path(folder) / "data")],
                stdout=output, stderr=subprocess.STDOUT,
                env=os.environ | {"PYTHONUNBUFFERED": "1",
                                  "CHARGEBUS_API_RATE_PER_SECOND": "1000000",
                                  "CHARGEBUS_API_RATE_BURST": "1000000"})
        try:
            deadline = time.monotonic() + START_SECONDS
            while "Ctrl-C stops everything" not in log.read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    print(log.read_text(), file=sys.stderr)
                    return 1
                time.sleep(0.2)
            asyncio.run(run({"nats_url": nats_url, "edge_port": edge_port,
                             "api_url": f"http://127.0.0.1:{api_port}/api/v1",
                             "data": Path(folder) / "data"}, arguments))
        finally:
            process.terminate()
            process.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
