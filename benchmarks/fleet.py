"""How `chargebus stations list` scales: the fleet view (chargebus.state.fleet) read from
KV through one ordered consumer per bucket, against the same records read a KV get per
key (what RecordStore.all did before), on one nats-server, in one run.

    .venv/bin/python benchmarks/fleet.py [--stations 100000] [--peer-stations 10000]

Each station has its boot record, its presence record, one connector status and an
admission record, as chargebus keeps them. The per-key peer reads only the presence
bucket of --peer-stations of them (a get per key is slow enough that the whole fleet
would take minutes); the ratio is per record.
"""
import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from nats.js.errors import KeyNotFoundError

from chargebus.bus import subjects
from chargebus.bus.client import connect_url
from chargebus.bus.topology import ensure_topology
from chargebus.ocpp import OcppVersion
from chargebus.runtime.natsserver import nats_server_command
from chargebus.state.fleet import fleet
from chargebus.state.identifiers import kv_key
from chargebus.state.records import (ConnectorStatus, Presence, StationAdmission,
                                     StationInfo)
from chargebus.state.stores import Stores
from processes import free_port

AT_ONCE = 2000  # KV puts in flight while filling


async def fill(stores: Stores, stations: int) -> None:
    now = datetime.now(UTC)

    async def one(index: int) -> None:
        station_id = f"CP-{index:06d}"
        await asyncio.gather(
            stores.stations.put(StationInfo(station_id=station_id, version=OcppVersion.V201,
                                            vendor="Acme", model="DC-150", firmware_version="4.0",
                                            booted_at=now), station_id),
            stores.presence.put(Presence(station_id=station_id, edge_id="edge-1",
                                         connection_id=f"c-{index}", version=OcppVersion.V201,
                                         connected_at=now), station_id),
            stores.statuses.put(ConnectorStatus(station_id=station_id, evse_id=1,
                                                connector_id=1, status="Available",
                                                reported_at=now, version=OcppVersion.V201),
                                station_id, "1", "1"),
            stores.admission.put(StationAdmission(station_id=station_id, site="depot"),
                                 station_id))

    for start in range(0, stations, AT_ONCE):
        await asyncio.gather(*(one(index) for index in range(start, min(start + AT_ONCE,
                                                                           stations))))


async def per_key(js, stations: int) -> float:
    """Seconds to read the presence of ``stations`` stations a get per key."""
    kv = await js.key_value(subjects.PRESENCE_BUCKET)
    began = time.perf_counter()
    for index in range(stations):
        try:
            entry = await kv.get(kv_key(f"CP-{index:06d}"))
        except KeyNotFoundError:
            continue
        Presence.model_validate_json(entry.value)
    return time.perf_counter() - began


async def run(nats_url: str, stations: int, peer_stations: int) -> None:
    nc = await connect_url(nats_url)
    js = nc.jetstream()
    await ensure_topology(js)
    stores = Stores(js)
    began = time.perf_counter()
    await fill(stores, stations)
    print(f"filled {stations:,} stations (4 records each) in "
          f"{time.perf_counter() - began:.1f} s", flush=True)
    began = time.perf_counter()
    views = await fleet(stores)
    fleet_seconds = time.perf_counter() - began
    assert len(views) == stations
    peer_seconds = await per_key(js, peer_stations)
    records = stations * 4
    print(f"fleet view of {stations:,} stations ({records:,} records): {fleet_seconds:.1f} s, "
          f"{fleet_seconds / records * 1e6:.1f} us a record")
    print(f"a get per key, {peer_stations:,} presence records: {peer_seconds:.1f} s, "
          f"{peer_seconds / peer_stations * 1e6:.1f} us a record")
    print(f"per record, a get per key / the fleet view: "
          f"{(peer_seconds / peer_stations) / (fleet_seconds / records):.1f}x")
    await nc.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=100_000)
    parser.add_argument("--peer-stations", type=int, default=10_000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        server = subprocess.Popen(nats_server_command(port, Path(folder) / "nats",
                                                      Path(folder) / "nats.log"))
        try:
            time.sleep(1)
            asyncio.run(run(f"nats://127.0.0.1:{port}", arguments.stations,
                            arguments.peer_stations))
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
