"""What an edge does at its limits: a station calling faster than its rate is slowed
down, alone and losing nothing; at the limit of open files stations are turned away at
once instead of waiting in the backlog."""
import asyncio
import os
import resource
import uuid

import orjson
import pytest
import websockets

from conftest import extra_edge
from raw_websocket import send_upgrade, upgrade_request

pytestmark = pytest.mark.asyncio(loop_scope="session")

CALLS_PER_SECOND = 20
BURST = 10
FLOOD = 60  # 50 calls past the burst: 2.5 s of throttling at 20 a second
OTHER_CALLS = 5


def heartbeat(unique_id: str) -> str:
    return orjson.dumps([2, unique_id, "Heartbeat", {}]).decode()


async def test_a_flooding_station_is_slowed_down_alone_and_loses_nothing(system):
    with extra_edge(system, "edge-rate", {
            "CHARGEBUS_EDGE_STATION_CALLS_PER_SECOND": str(CALLS_PER_SECOND),
            "CHARGEBUS_EDGE_STATION_CALL_BURST": str(BURST)}) as edge:
        async with websockets.connect(edge.station_url(f"FLOOD-{uuid.uuid4().hex[:6]}"),
                                      subprotocols=["ocpp1.6"]) as flood, \
                websockets.connect(edge.station_url(f"CALM-{uuid.uuid4().hex[:6]}"),
                                   subprotocols=["ocpp1.6"]) as calm:
            for n in range(FLOOD):  # all at once, not waiting for answers
                await flood.send(heartbeat(f"f{n}"))
            # The burst answered, the flooder's bucket is empty: the edge stops reading it.
            flooded = [orjson.loads(await flood.recv()) for _ in range(BURST)]

            async def rest_of_the_flood():
                while len(flooded) < FLOOD:
                    flooded.append(orjson.loads(await flood.recv()))
            reading = asyncio.create_task(rest_of_the_flood())

            calm_answers = []
            for n in range(OTHER_CALLS):
                await calm.send(heartbeat(f"c{n}"))
                calm_answers.append(orjson.loads(await calm.recv()))
            flood_unfinished_meanwhile = not reading.done()
            await asyncio.wait_for(reading, 60)
            metrics = edge.metrics()
    assert [answer[:2] for answer in calm_answers] == [[3, f"c{n}"] for n in range(OTHER_CALLS)]
    assert flood_unfinished_meanwhile  # the calm station did not wait for the flood's end
    # Every call of the flood answered, once and in order: slowed down, none dropped.
    assert [answer[:2] for answer in flooded] == [[3, f"f{n}"] for n in range(FLOOD)]
    assert metrics[("chargebus_edge_throttled_seconds_total", ())] > 0
    assert metrics[("chargebus_edge_frames_in_total",
                    (("action", "Heartbeat"), ("version", "ocpp1.6")))] == FLOOD + OTHER_CALLS


async def test_a_station_within_its_rate_is_never_throttled(system):
    with extra_edge(system, "edge-calm", {
            "CHARGEBUS_EDGE_STATION_CALL_BURST": str(BURST)}) as edge:
        async with websockets.connect(edge.station_url(f"CALM-{uuid.uuid4().hex[:6]}"),
                                      subprotocols=["ocpp1.6"]) as socket:
            for n in range(BURST):
                await socket.send(heartbeat(f"c{n}"))
            answers = [orjson.loads(await socket.recv()) for _ in range(BURST)]
            metrics = edge.metrics()
    assert [answer[:2] for answer in answers] == [[3, f"c{n}"] for n in range(BURST)]
    assert metrics[("chargebus_edge_throttled_seconds_total", ())] == 0


ROOM = 4  # stations the edge can take under the lowered limit (more where fds are free)
MOST_STATIONS = 64


def open_files(pid: int) -> list[int]:
    return [int(name) for name in os.listdir(f"/proc/{pid}/fd")]


async def test_at_the_limit_of_open_files_stations_are_turned_away_at_once(system):
    with extra_edge(system, "edge-files") as edge:
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
                    try:
                        refusal = head + await asyncio.wait_for(reader.read(), 10)
                    except ConnectionResetError:
                        # The request came after the edge had read what was there and
                        # closed: the kernel resets, and may drop the body; the head
                        # with its status had come.
                        refusal = head
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
