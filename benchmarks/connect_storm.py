"""Many stations connect to one edge at once and boot: how long until all are booted,
and how much memory the edge holds per connection.

    .venv/bin/python benchmarks/connect_storm.py [--stations 5000] [--profile 1]

Runs `chargebus run` (embedded: nats-server, one edge, workers, sink) on free ports in a
temporary folder, then opens the stations from this process with picows over
127.0.0.1, each sending an OCPP 1.6 BootNotification once connected. Prints the time
from the first connect to the last boot answer and the edge's resident memory before
and after, divided by the number of stations. With --profile 1 every station
has a password in the access bucket and sends it with HTTP Basic, so the edge verifies
one scrypt hash per station. Stops everything when done or after --deadline seconds.
Both sides share this machine's cores: the figures include the load the stations
themselves put on it.
"""
import argparse
import asyncio
import base64
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
from picows import WSListener, WSMsgType, ws_connect

from chargebus.bus.client import connect_url, identity_options
from chargebus.bus.topology import ensure_topology
from chargebus.security import credentials
from chargebus.security.passwords import hash_password
from chargebus.state.records import StationAccess, StationAdmission
from chargebus.state.stores import Stores
from processes import free_port, resident_kib

PASSWORD = "storm-password-0123456789"
BOOT = orjson.dumps([2, "boot-1", "BootNotification", {
    "chargePointVendor": "chargebus", "chargePointModel": "storm"}])


class BootingStation(WSListener):
    def __init__(self, booted: asyncio.Future):
        self._booted = booted

    def on_ws_connected(self, transport) -> None:
        transport.send(WSMsgType.TEXT, BOOT)

    def on_ws_frame(self, transport, frame) -> None:
        if frame.msg_type is WSMsgType.TEXT and not self._booted.done():
            answer = orjson.loads(frame.get_payload_as_bytes())
            self._booted.set_result(answer[0] == 3 and answer[2].get("status") == "Accepted")

    def on_ws_disconnected(self, transport) -> None:
        if not self._booted.done():
            self._booted.set_result(False)




def edge_pid(root: int) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if command.endswith(b"-m\0chargebus.services.edge\0"):  # not its hasher
                return int(entry.name)
    raise RuntimeError("the edge process was not found")


def station_name(index: int) -> str:
    return f"STORM-{index:05d}"


def basic_auth(station: str) -> str:
    return "Basic " + base64.b64encode(f"{station}:{PASSWORD}".encode()).decode()


async def register(nats_url: str, data_dir: str, count: int) -> None:
    """Give every station the same password (hashed once: the edge still checks one
    hash per station, which is what this measures)."""
    nc = await connect_url(
        nats_url, **identity_options(credentials.operator_seed(Path(data_dir))))
    try:
        js = nc.jetstream()
        await ensure_topology(js)
        stores, hashed = Stores(js), hash_password(PASSWORD)
        for index in range(count):
            name = station_name(index)
            await stores.access.put(StationAccess(station_id=name, password_hash=hashed), name)
            await stores.admission.put(StationAdmission(station_id=name), name)
    finally:
        await nc.close()


async def storm(url: str, count: int, concurrency: int, deadline: float, edge: int,
                with_password: bool):
    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(concurrency)
    transports, outcomes = [], []

    async def one(index: int) -> None:
        booted = loop.create_future()
        async with slots:
            try:
                name = station_name(index)
                headers = {"Sec-WebSocket-Protocol": "ocpp1.6"}
                if with_password:
                    headers["Authorization"] = basic_auth(name)
                transport, _ = await ws_connect(
                    lambda: BootingStation(booted), url + name, extra_headers=headers,
                    websocket_handshake_timeout=60)
            except Exception as error:
                outcomes.append(f"connect failed: {type(error).__name__}")
                return
            transports.append(transport)
            outcomes.append(await booted)

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(count))), deadline)
    seconds = time.perf_counter() - started
    await asyncio.sleep(2)  # let the edge finish attaching (subscriptions, presence)
    held = resident_kib(edge)
    for transport in transports:
        transport.disconnect()
    return seconds, held, outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=1000,
                        help="connection attempts under way at once")
    parser.add_argument("--deadline", type=float, default=300.0)
    parser.add_argument("--profile", type=int, choices=(0, 1), default=0,
                        help="security profile of the edge (1: HTTP Basic passwords)")
    arguments = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if arguments.stations + 100 > hard:
        raise SystemExit(f"{arguments.stations} stations need more than the {hard} open files "
                         "this machine allows")

    edge_port, nats_url = free_port(), f"nats://127.0.0.1:{free_port()}"
    profile = {"CHARGEBUS_EDGE_SECURITY_PROFILE": str(arguments.profile),
               "CHARGEBUS_UNKNOWN_STATIONS": "reject" if arguments.profile else "accept"}
    with tempfile.TemporaryDirectory() as folder:
        system = subprocess.Popen(
            [str(Path(sys.executable).parent / "chargebus"),
             "--nats-url", nats_url, "run",
             "--edge-port", str(edge_port), "--metrics-port", str(free_port()),
             "--files-port", str(free_port()), "--ftp-port", "0",
             "--api-port", str(free_port()), "--data-dir", folder],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env=os.environ | {"PYTHONUNBUFFERED": "1"} | profile)
        try:
            for line in system.stdout:
                if "Ctrl-C stops everything" in line:
                    break
            else:
                raise SystemExit("chargebus run did not start")
            if arguments.profile:
                asyncio.run(register(nats_url, folder, arguments.stations))
                time.sleep(2)  # the edge's mirror of the access bucket catches up
            edge = edge_pid(system.pid)
            before = resident_kib(edge)
            seconds, after, outcomes = asyncio.run(storm(
                f"ws://127.0.0.1:{edge_port}/ocpp/", arguments.stations,
                arguments.concurrency, arguments.deadline, edge, arguments.profile == 1))
            booted = sum(1 for outcome in outcomes if outcome is True)
            print(f"stations: {arguments.stations}, booted: {booted}, "
                  f"failed: {len(outcomes) - booted}")
            print(f"all connected and booted in {seconds:.1f} s "
                  f"({booted / seconds:.0f} boots/s)")
            print(f"edge resident memory: {before / 1024:.1f} MiB before, "
                  f"{after / 1024:.1f} MiB with the stations: "
                  f"{(after - before) / max(booted, 1):.1f} KiB per connection")
            return 0 if booted == arguments.stations else 1
        finally:
            system.send_signal(signal.SIGINT)
            try:
                system.wait(timeout=30)
            except subprocess.TimeoutExpired:
                system.kill()


if __name__ == "__main__":
    sys.exit(main())
