"""What an edge does at its limits: at the limit of open files stations are turned away
at once instead of waiting in the backlog."""
import asyncio
import os
import resource
import uuid

import pytest

from conftest import extra_edge
from raw_websocket import send_upgrade, upgrade_request

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROOM = 4  # stations the edge can take under the lowered limit (more where fds are free)
MOST_STATIONS = 64


def open_files(pid: int) -> list[int]:
    return [int(name) for name in os.listdir(f"/proc/{pid}/fd")]


async def test_at_the_limit_of_open_files_stations_are_turned_away_at_once(system):
    with extra_edge(system.nats_url, "edge-files") as edge:
        pid = edge.process.pid
        limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE,
                         (max(open_files(pid)) + 1 + ROOM, limits[1]))
        connected, refusal = [], None
        try:
            for n in range(MOST_STATIONS):
                reader, writer, head = await send_upgrade(
                    edge.port, upgrade_request(edge.port, f"FILES-{n}-{uuid.uuid4().hex[:4]}"))
                if not head.startswith(b"HTTP/1.1 101"):
                    refusal = head + await asyncio.wait_for(reader.read(), 10)
                    writer.close()
                    break
                connected.append(writer)
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)
            for writer in connected:
                writer.close()
        assert connected, "the edge took no station under the lowered limit"
        assert refusal is not None, f"the edge took all {MOST_STATIONS} stations"
        assert refusal.startswith(b"HTTP/1.1 503 "), refusal
        assert b"Connection: close" in refusal
        # Back under the limit, stations are taken again.
        reader, writer, head = await send_upgrade(
            edge.port, upgrade_request(edge.port, f"FILES-AFTER-{uuid.uuid4().hex[:4]}"))
        writer.close()
        assert head.startswith(b"HTTP/1.1 101"), head
        metrics = edge.metrics()
    assert metrics[("chargebus_edge_refused_total",
                    (("reason", "out_of_file_descriptors"),))] >= 1
