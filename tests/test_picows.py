"""The edge's picows seam (services/edge/_picows.py) against the installed picows: the
protocol constructor takes the arguments we pass, by the names and in the order we pass
them, and both the protocol and the request parser behave with picows itself as the edge
relies on."""
import ast
import asyncio
import logging
import re
from pathlib import Path

import picows
import picows.picows
import pytest
from picows import WSCloseCode, WSListener, WSMsgType, WSUpgradeRequest, ws_connect

from chargebus.services.edge._picows import parse_request_head, server_protocol

ROOT = Path(__file__).resolve().parent.parent
SEAM = ROOT / "src/chargebus/services/edge/_picows.py"
WAIT_SECONDS = 30.0
MAX_FRAME = 64


def picows_constructor() -> list[str]:
    """WSProtocol.__init__'s parameters, in order, as the picows.pyx shipped in the wheel
    declares them (the compiled class has no signature to inspect)."""
    source = Path(picows.picows.__file__).with_name("picows.pyx").read_text()
    declared = re.search(r"^cdef class WSProtocol\b.*?^    def __init__\(self,(.*?)\):",
                         source, re.MULTILINE | re.DOTALL)
    assert declared, "picows.pyx declares no WSProtocol.__init__"
    # Each parameter is "[C type] name [= default]".
    return [parameter.split("=")[0].split()[-1]
            for parameter in declared.group(1).split(",") if parameter.strip()]


def seam_call() -> list[str]:
    """The keyword arguments the seam passes to WSProtocol, in the order written."""
    calls = [node for node in ast.walk(ast.parse(SEAM.read_text()))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
             and node.func.id == "WSProtocol"]
    assert len(calls) == 1, "the seam makes WSProtocol in one place"
    assert not calls[0].args, "WSProtocol's arguments go by name"
    return [keyword.arg for keyword in calls[0].keywords]


def test_the_constructor_takes_what_the_seam_passes():
    declared = picows_constructor()
    assert "max_frame_size" in declared and len(declared) > 10  # the parse found them
    assert seam_call() == declared


class Echo(WSListener):
    def on_ws_frame(self, transport, frame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            transport.send(WSMsgType.TEXT, frame.get_payload_as_bytes())


class Client(WSListener):
    def __init__(self) -> None:
        self.texts: asyncio.Queue[bytes] = asyncio.Queue()
        self.close_code: WSCloseCode | None = None

    def on_ws_frame(self, transport, frame) -> None:
        if frame.msg_type == WSMsgType.TEXT:
            self.texts.put_nowait(frame.get_payload_as_bytes())
        elif frame.msg_type == WSMsgType.CLOSE:
            self.close_code = frame.get_close_code()


async def _server(requests: list[WSUpgradeRequest]) -> asyncio.Server:
    def accept(request: WSUpgradeRequest) -> WSListener:
        requests.append(request)
        return Echo()

    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: server_protocol(accept, logger=logging.getLogger("picows.test"),
                                handshake_timeout=WAIT_SECONDS, max_frame_size=MAX_FRAME,
                                read_buffer_size=1024),
        "127.0.0.1", 0)


def test_a_station_connects_through_the_seams_protocol():
    """Upgraded, its frames reach the listener; one over max_frame_size is refused with
    1009, as the edge's message limit promises."""
    async def run():
        requests: list[WSUpgradeRequest] = []
        server = await _server(requests)
        port = server.sockets[0].getsockname()[1]
        try:
            transport, client = await ws_connect(Client, f"ws://127.0.0.1:{port}/ocpp/CP-1",
                                                 websocket_handshake_timeout=WAIT_SECONDS)
            transport.send(WSMsgType.TEXT, b"[2,\"1\",\"Heartbeat\",{}]")
            echoed = await asyncio.wait_for(client.texts.get(), WAIT_SECONDS)
            transport.send(WSMsgType.TEXT, b"x" * (MAX_FRAME + 1))
            await asyncio.wait_for(transport.wait_disconnected(), WAIT_SECONDS)
            return [request.path for request in requests], echoed, client.close_code
        finally:
            server.close()

    paths, echoed, close_code = asyncio.run(run())
    assert paths == [b"/ocpp/CP-1"]
    assert echoed == b"[2,\"1\",\"Heartbeat\",{}]"
    assert close_code == WSCloseCode.MESSAGE_TOO_BIG


HEAD = (b"GET /ocpp/CP-2?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp2.0.1, ocpp1.6\r\n"
        b"Authorization: Basic Q1AtMjpzZWNyZXQ=")


def _request(request: WSUpgradeRequest) -> tuple:
    return request.method, request.path, request.version, list(request.headers.items())


async def _picows_answers(head: bytes, whole: bool) -> tuple[list[WSUpgradeRequest], bytes]:
    """The requests picows' own server hands its listener for ``head``, and its answer:
    the whole of it, or its status line."""
    requests: list[WSUpgradeRequest] = []
    server = await _server(requests)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head + b"\r\n\r\n")
        answer = await asyncio.wait_for(reader.read() if whole else reader.readline(),
                                        WAIT_SECONDS)
        writer.close()
        return requests, answer
    finally:
        server.close()


def test_the_head_is_parsed_as_picows_server_parses_it():
    """What CheckedHandshake checks is the request picows' own server hands the listener."""
    requests, status = asyncio.run(_picows_answers(HEAD, whole=False))
    assert status.startswith(b"HTTP/1.1 101 ")
    assert [_request(request) for request in requests] == [_request(parse_request_head(HEAD))]
    assert parse_request_head(HEAD).headers["Authorization"] == "Basic Q1AtMjpzZWNyZXQ="


@pytest.mark.parametrize("head", [b"POST /ocpp/CP-3 HTTP/1.1\r\nHost: x",
                                  b"GET /ocpp/CP-3\r\nHost: x",
                                  b"GET /ocpp/CP-3 HTTP/1.1\r\nBad Name: x"])
def test_a_head_picows_refuses_is_a_runtime_error_and_no_upgrade(head):
    """CheckedHandshake hands such a head over unchecked, for picows to refuse: the parser
    raises RuntimeError, and picows' server upgrades nothing."""
    with pytest.raises(RuntimeError):
        parse_request_head(head)
    requests, answer = asyncio.run(_picows_answers(head, whole=True))
    assert requests == []
    assert not answer.startswith(b"HTTP/1.1 101 ")
