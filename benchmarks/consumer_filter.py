"""What a consumer's subject filter costs nats-server, by the number of stations: the CPU
it spends per message delivered to a durable pull consumer (and taking its ack) through
the filter of one action from every station (cb.station.MeterValues.*, as the meter sink
reads), against a filter equal to the stream's subjects (cb.station.>), which
nats-server treats as none.

    .venv/bin/python benchmarks/consumer_filter.py [--messages 100000]
                                                   [--stations 10 100 1000 10000 100000]

For each number of stations: a nats-server of its own, the OCPP stream filled with
MeterValues calls of 12 samples as the edge records them (benchmarks/ingest.py), then the
whole stream drained through each filter in turn, twice, with chargebus's DurableConsumer
and a handler that does nothing, so that the difference is nats-server's. Every message
matches both filters.

Why it depends on the stations: nats-server (2.15, filestore.go firstMatching) finds a
filtered consumer's next message by walking the stream block's list of subjects, unless
the block holds more than a quarter as many subjects as messages left, when it reads the
messages in order. A block of a busy network (many stations, each sending every few
seconds at most) holds nearly a subject per message; a benchmark whose 1,000 stations
send hundreds of messages each in a burst does not.
"""
import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chargebus.bus import subjects
from chargebus.bus.client import connect_url
from chargebus.bus.consumers import DurableConsumer
from chargebus.runtime.natsserver import nats_server_command
from ingest import fill
from processes import cpu_seconds, free_port

FILTERS = {
    "one-action": subjects.station_events("MeterValues"),
    "whole-stream": subjects.all_station_events(),
}
ROUNDS = 2


async def drain(nats_url: str, server_pid: int, durable: str, filter_subject: str,
                messages: int, deadline: float) -> float:
    """nats-server's CPU seconds while the consumer drains the stream."""
    nc = await connect_url(nats_url)
    drained = 0
    done = asyncio.Event()

    async def handle(batch) -> None:
        nonlocal drained
        drained += len(batch)
        if drained >= messages:
            done.set()

    consumer = DurableConsumer(nc, subjects.OCPP_STREAM, durable, filter_subject, handle,
                               batch_size=20_000, batch_seconds=1.0, overlap=True)
    cpu_before = cpu_seconds(server_pid)
    await consumer.start()
    try:
        await asyncio.wait_for(done.wait(), deadline)
    finally:
        await consumer.stop()
        await nc.flush()
        await asyncio.sleep(0.2)  # the last acks reach the server
        cpu = cpu_seconds(server_pid) - cpu_before
        await nc.close()
    return cpu


def measure(stations: int, messages: int, deadline: float) -> dict[str, float]:
    """The best of ROUNDS drains through each filter: nats-server's us per message."""
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        nats_url = f"nats://127.0.0.1:{port}"
        server = subprocess.Popen(nats_server_command(port, Path(folder) / "nats",
                                                      Path(folder) / "nats.log"))
        try:
            time.sleep(1)
            asyncio.run(fill(nats_url, messages, stations, samples_per_message=12))
            best = {name: float("inf") for name in FILTERS}
            for round_number in range(ROUNDS):
                for name, filter_subject in FILTERS.items():
                    cpu = asyncio.run(drain(nats_url, server.pid, f"{name}-{round_number}",
                                            filter_subject, messages, deadline))
                    best[name] = min(best[name], cpu / messages * 1e6)
            return best
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--stations", type=int, nargs="+", default=[10, 100, 1000, 10_000, 100_000])
    parser.add_argument("--deadline", type=float, default=120.0, help="per drain, seconds")
    arguments = parser.parse_args()
    print(f"nats-server CPU per message delivered, best of {ROUNDS}, "
          f"{arguments.messages:,} MeterValues:")
    print("| stations | one action | whole stream | ratio |")
    print("|---|---|---|---|")
    for stations in arguments.stations:
        best = measure(stations, arguments.messages, arguments.deadline)
        filtered, whole = best["one-action"], best["whole-stream"]
        print(f"| {stations:,} | {filtered:.1f} us | {whole:.1f} us | {filtered / whole:.2f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
