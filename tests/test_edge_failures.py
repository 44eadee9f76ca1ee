"""The edge when things around it fail: NATS goes away and comes back, a station's
socket goes silent without closing."""
import asyncio
import base64
import os
import subprocess
import uuid

import nats
import orjson
import pytest
import websockets

from conftest import extra_edge, free_port
from chargebus.bus import subjects
from chargebus.runtime.natsserver import nats_server_command

pytestmark = pytest.mark.asyncio(loop_scope="session")


class NatsServer:
    """A nats-server of the test's own, to stop and start again on the same store."""

    def __init__(self, folder):
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self._command = nats_server_command(self.port, folder / "store", folder / "nats.log")
        self.process = None

    async def start(self) -> None:
        # Popen returns once the child is started; the loop below waits for it to listen.
        self.process = subprocess.Popen(self._command)  # noqa: ASYNC220
        for _ in range(100):
            try:
                nc = await nats.connect(self.url, allow_reconnect=False, connect_timeout=1)
                await nc.close()
                return
            except Exception:
                await asyncio.sleep(0.1)
        pytest.fail("nats-server did not start")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.mark.system
async def test_nats_outage_gets_internal_error_and_loses_nothing(tmp_path):
    server = NatsServer(tmp_path)
    await server.start()
    station_id = f"OUTAGE-{uuid.uuid4().hex[:6]}"
    status = orjson.dumps([2, "st-1", "StatusNotification", {
        "connectorId": 1, "errorCode": "NoError", "status": "Charging"}]).decode()
    try:
        with extra_edge(server.url, "edge-outage",
                        {"CHARGEBUS_WORKER_REQUEST_TIMEOUT": "1"}) as edge:
            async with websockets.connect(edge.station_url(station_id),
                                          subprotocols=["ocpp1.6"]) as socket:
                server.kill()
                await socket.send(status)
                refused = orjson.loads(await asyncio.wait_for(socket.recv(), 15))
                assert refused[:3] == [4, "st-1", "InternalError"]

                await server.start()
                answer = None
                for _ in range(40):  # the station retries until the bus is back
                    await socket.send(status)
                    answer = orjson.loads(await asyncio.wait_for(socket.recv(), 15))
                    if answer[0] == 3:
                        break
                    await asyncio.sleep(0.5)
                assert answer == [3, "st-1", {}]
        nc = await nats.connect(server.url)
        try:
            js = nc.jetstream()
            info = await js.stream_info(subjects.OCPP_STREAM)
            consumer = await js.pull_subscribe(subjects.station_calls(station_id),
                                               stream=subjects.OCPP_STREAM)
            stored = await consumer.fetch(10, timeout=2)
            assert len(stored) == 1 == info.state.messages  # acknowledged once, stored once
            assert stored[0].headers["Chargebus-Unique-Id"] == "st-1"
        finally:
            await nc.close()
    finally:
        if server.process.poll() is None:
            server.kill()


async def test_a_silent_socket_is_noticed_and_closed(system):
    """A station whose TCP connection stays open but which answers nothing (a half-open
    socket) is pinged when idle and disconnected when no pong comes."""
    with extra_edge(system, "edge-idle", {"CHARGEBUS_EDGE_IDLE_SECONDS": "0.5",
                                                   "CHARGEBUS_EDGE_PONG_SECONDS": "0.5"}) as edge:
        reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /ocpp/IDLE-{uuid.uuid4().hex[:6]} HTTP/1.1\r\n"
                      f"Host: 127.0.0.1:{edge.port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
                      ).encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101")
        received = b""
        while True:  # read what the edge sends (its pings) until it hangs up
            chunk = await asyncio.wait_for(reader.read(1024), 10)
            if not chunk:
                break
            received += chunk
        writer.close()
        assert received[:1] == b"\x89"  # a ping came first: the edge asked before it cut
        metrics = edge.metrics()
    assert metrics[("chargebus_edge_connections", (("version", "ocpp1.6"),))] == 0
