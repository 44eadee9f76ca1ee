"""A WebSocket client by hand, over a plain TCP socket: the upgrade written out and the
edge's frames read byte by byte, for what a library client would not send or would
hide (invalid close codes, invalid UTF-8, binary frames, odd upgrade requests)."""
import asyncio
import base64
import os
import struct
import uuid

import pytest

CONTINUATION_OPCODE = 0x0
TEXT_OPCODE = 0x1
BINARY_OPCODE = 0x2
CLOSE_OPCODE = 0x8
READ_TIMEOUT = 10.0


def masked_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A client frame (clients must mask, section 5.3)."""
    mask = os.urandom(4)
    body = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    if len(payload) < 126:
        length = bytes([0x80 | len(payload)])
    elif len(payload) < 1 << 16:
        length = bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    else:
        length = bytes([0x80 | 127]) + struct.pack("!Q", len(payload))
    return bytes([(0x80 if fin else 0) | opcode]) + length + mask + body


def upgrade_request(port: int, station_id: str, subprotocol: str = "ocpp1.6",
                    version: str | None = "13", extra: str = "") -> bytes:
    """The HTTP request that asks for the upgrade; ``version`` None leaves out
    Sec-WebSocket-Version, ``extra`` is more header lines, each ending in CRLF."""
    key = base64.b64encode(os.urandom(16)).decode()
    version_line = "" if version is None else f"Sec-WebSocket-Version: {version}\r\n"
    return (f"GET /ocpp/{station_id} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"{version_line}Sec-WebSocket-Protocol: {subprotocol}\r\n{extra}\r\n").encode()


async def send_upgrade(port: int, request: bytes):
    """The socket and the head of the edge's HTTP answer to ``request``: empty when it
    closed the socket without answering. The socket stays open."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
    except asyncio.IncompleteReadError as closed:
        head = closed.partial
    return reader, writer, head


async def answer_to_upgrade(port: int, request: bytes) -> bytes:
    """The edge's HTTP answer to ``request``, head and body up to its closing the
    socket (the head alone of a 101); empty when it closed without answering."""
    reader, writer, answer = await send_upgrade(port, request)
    try:
        if not answer.startswith(b"HTTP/1.1 101"):
            while chunk := await asyncio.wait_for(reader.read(65536), READ_TIMEOUT):
                answer += chunk
        return answer
    finally:
        writer.close()


def header_of(answer: bytes, name: str) -> str | None:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


async def upgraded_socket(port: int, subprotocol: str = "ocpp1.6"):
    reader, writer, head = await send_upgrade(
        port, upgrade_request(port, f"RAW-{uuid.uuid4().hex[:8]}", subprotocol))
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The opcode and payload of the edge's next frame (server frames are unmasked)."""
    first, second = await asyncio.wait_for(reader.readexactly(2), READ_TIMEOUT)
    assert not second & 0x80, "a server frame is never masked"
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    return first & 0x0F, await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT)


async def close_frame_answering(reader, writer, sent: bytes) -> bytes:
    """The payload of the edge's close frame, read raw after sending ``sent``."""
    writer.write(sent)
    await writer.drain()
    received = b""
    while True:  # the edge answers, then hangs up
        chunk = await asyncio.wait_for(reader.read(4096), READ_TIMEOUT)
        if not chunk:
            break
        received += chunk
    writer.close()
    while received:  # server frames are unmasked, and control frames short
        opcode, length, start = received[0] & 0x0F, received[1] & 0x7F, 2
        assert received[0] & 0x80 and not received[1] & 0x80
        if length == 126:
            length, start = struct.unpack("!H", received[2:4])[0], 4
        payload, received = received[start:start + length], received[start + length:]
        if opcode == CLOSE_OPCODE:
            assert length <= 125
            return payload
    pytest.fail("the edge sent no close frame")
