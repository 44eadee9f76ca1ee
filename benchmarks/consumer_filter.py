"""What a consumer's subject filter costs nats-server: the CPU it spends per message
delivered to a durable pull consumer (and taking its ack) with the meter sink's old
filter, one action from every station (cb.station.MeterValues.*), against a filter equal
to the stream's subjects (cb.station.>), which nats-server treats as none.

    .venv/bin/python benchmarks/consumer_filter.py [--messages 100000] [--stations 1000]
                                                   [--samples-per-message 12] [--rounds 2]

Starts a nats-server of its own, fills the OCPP stream with MeterValues calls as the edge
records them (benchmarks/ingest.py), then drains the whole stream once per round through
each filter in turn, with chargebus's DurableConsumer and a handler that does nothing,
so that the difference is nats-server's. Every message matches both filters.
"""
import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chargebus import bus, subjects
from chargebus.consumers import DurableConsumer
from chargebus.natsserver import nats_server_command
from ingest import fill
from processes import cpu_seconds, free_port

FILTERS = {
    "one-action": subjects.station_events("MeterValues"),
    "whole-stream": subjects.all_station_events(),
}


async def drain(nats_url: str, server_pid: int, durable: str, filter_subject: str,
                messages: int, deadline: float) -> tuple[float, float]:
    """Seconds to drain the stream and nats-server's CPU seconds meanwhile."""
    nc = await bus.connect_url(nats_url)
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
    started = time.perf_counter()
    await consumer.start()
    try:
        await asyncio.wait_for(done.wait(), deadline)
    finally:
        elapsed = time.perf_counter() - started
        await consumer.stop()
        await nc.flush()
        await asyncio.sleep(0.2)  # the last acks reach the server
        cpu = cpu_seconds(server_pid) - cpu_before
        await nc.close()
    return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--samples-per-message", type=int, choices=(4, 12), default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--deadline", type=float, default=120.0, help="per drain, seconds")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        nats_url = f"nats://127.0.0.1:{port}"
        server = subprocess.Popen(nats_server_command(port, Path(folder) / "nats",
                                                      Path(folder) / "nats.log"))
        try:
            time.sleep(1)
            asyncio.run(fill(nats_url, arguments.messages, arguments.stations,
                             arguments.samples_per_message))
            per_message: dict[str, list[float]] = {name: [] for name in FILTERS}
            for round_number in range(arguments.rounds):
                for name, filter_subject in FILTERS.items():
                    elapsed, cpu = asyncio.run(drain(
                        nats_url, server.pid, f"{name}-{round_number}", filter_subject,
                        arguments.messages, arguments.deadline))
                    per_message[name].append(cpu / arguments.messages * 1e6)
                    print(f"{name} ({filter_subject}): {arguments.messages / elapsed:,.0f} "
                          f"messages/s, nats-server {per_message[name][-1]:.1f} us a message")
        finally:
            server.terminate()
            server.wait(timeout=30)
    filtered, whole = (min(per_message[name]) for name in FILTERS)
    print(f"nats-server CPU per message, best of {arguments.rounds}: one action {filtered:.1f} "
          f"us, whole stream {whole:.1f} us; the filter costs {filtered / whole:.2f} times as "
          "much")
    return 0


if __name__ == "__main__":
    sys.exit(main())
