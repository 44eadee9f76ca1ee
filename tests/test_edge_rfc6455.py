"""What RFC 6455 asks of a server, and OCPP-J of its frames, on the edge's own sockets:
text that is not UTF-8 closes with 1007, a binary message with 1003, an upgrade of
another WebSocket version gets 426 naming version 13, a request head too large 431, one
never finished is cut off."""
import asyncio
import struct

import orjson
import pytest

from raw_websocket import (BINARY_OPCODE, CONTINUATION_OPCODE, TEXT_OPCODE, answer_to_upgrade,
                            close_frame_answering, header_of, masked_frame, read_frame,
                            upgrade_request, upgraded_socket)

pytestmark = pytest.mark.asyncio(loop_scope="session")

INVALID_TEXT = 1007
UNSUPPORTED_DATA = 1003


def data_transfer(unique_id: str, vendor_id: bytes) -> bytes:
    return b'[2,"%s","DataTransfer",{"vendorId":"%s"}]' % (unique_id.encode(), vendor_id)


@pytest.mark.parametrize("vendor_id", [
    b"\x80",  # a continuation byte with nothing to continue
    b"\xff",  # a byte UTF-8 never has
    b"\xc0\xaf",  # "/" written in two bytes (overlong)
    b"\xed\xa0\x80",  # a UTF-16 surrogate, which UTF-8 may not encode
    b"\xe2\x82",  # a three-byte character cut short
], ids=["continuation", "ff", "overlong", "surrogate", "cut-short"])
async def test_text_that_is_not_utf8_closes_with_1007(system, vendor_id):
    reader, writer = await upgraded_socket(system.edge_port)
    payload = await close_frame_answering(
        reader, writer, masked_frame(TEXT_OPCODE, data_transfer("u-1", vendor_id)))
    assert payload[:2] == struct.pack("!H", INVALID_TEXT)


async def test_fragments_whose_text_is_not_utf8_close_with_1007(system):
    message = data_transfer("u-2", b"\xe2\x28\xa1")  # \xe2 needs two continuation bytes
    reader, writer = await upgraded_socket(system.edge_port, "ocpp2.0.1")
    payload = await close_frame_answering(
        reader, writer, masked_frame(TEXT_OPCODE, message[:30], fin=False)
        + masked_frame(CONTINUATION_OPCODE, message[30:]))
    assert payload[:2] == struct.pack("!H", INVALID_TEXT)


async def test_a_character_split_between_fragments_is_text_like_any_other(system):
    message = data_transfer("u-3", "caf\u00e9".encode())
    split = message.index(b"\xc3") + 1  # between the two bytes of the e-acute
    reader, writer = await upgraded_socket(system.edge_port)
    writer.write(masked_frame(TEXT_OPCODE, message[:split], fin=False)
                 + masked_frame(CONTINUATION_OPCODE, message[split:]))
    opcode, answer = await read_frame(reader)
    writer.close()
    assert opcode == TEXT_OPCODE
    assert orjson.loads(answer)[:2] == [3, "u-3"]


@pytest.mark.parametrize("subprotocol, code", [
    ("ocpp1.6", "FormationViolation"), ("ocpp2.0.1", "RpcFrameworkError")])
async def test_utf8_text_that_is_not_json_stays_a_callerror(system, subprotocol, code):
    reader, writer = await upgraded_socket(system.edge_port, subprotocol)
    writer.write(masked_frame(TEXT_OPCODE, "caf\u00e9 is not JSON".encode()))
    writer.write(masked_frame(TEXT_OPCODE, b'[2,"after","Heartbeat",{}]'))
    answers = [await read_frame(reader), await read_frame(reader)]
    writer.close()
    assert [opcode for opcode, _ in answers] == [TEXT_OPCODE, TEXT_OPCODE]
    assert orjson.loads(answers[0][1])[:3] == [4, "-1", code]
    assert orjson.loads(answers[1][1])[:2] == [3, "after"]  # and the socket stays open


async def test_a_binary_message_closes_with_1003(system):
    reader, writer = await upgraded_socket(system.edge_port)
    payload = await close_frame_answering(
        reader, writer, masked_frame(BINARY_OPCODE, b'[2,"b-1","Heartbeat",{}]'))
    assert payload[:2] == struct.pack("!H", UNSUPPORTED_DATA)


async def test_a_binary_message_in_fragments_closes_with_1003(system):
    reader, writer = await upgraded_socket(system.edge_port)
    payload = await close_frame_answering(
        reader, writer, masked_frame(BINARY_OPCODE, b'[2,"b-2",', fin=False)
        + masked_frame(CONTINUATION_OPCODE, b'"Heartbeat",{}]'))
    assert payload[:2] == struct.pack("!H", UNSUPPORTED_DATA)


@pytest.mark.parametrize("version", ["8", "7", "12", "14", None],
                         ids=["8", "7", "12", "14", "none"])
async def test_an_upgrade_to_another_websocket_version_gets_426_naming_13(system, version):
    answer = await answer_to_upgrade(
        system.edge_port, upgrade_request(system.edge_port, "VERSION-1", version=version))
    assert answer.startswith(b"HTTP/1.1 426 "), answer[:200]
    assert header_of(answer, "Sec-WebSocket-Version") == "13"
    assert header_of(answer, "Upgrade") == "websocket"


def padded_request(port: int, total: int) -> bytes:
    """An upgrade request whose head (CRLF CRLF included) is ``total`` bytes."""
    plain = upgrade_request(port, "PADDED-1")
    line = "X-Padding: {}\r\n"
    padding = total - len(plain) - len(line.format(""))
    return upgrade_request(port, "PADDED-1", extra=line.format("p" * padding))


@pytest.mark.parametrize("size", [9_000, 20_000, 200_000])
async def test_a_request_head_too_large_gets_431(system, size):
    answer = await answer_to_upgrade(system.edge_port, padded_request(system.edge_port, size))
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


async def test_many_header_lines_too_large_together_get_431(system):
    extra = "".join(f"X-Line-{n}: {'v' * 90}\r\n" for n in range(100))
    answer = await answer_to_upgrade(
        system.edge_port, upgrade_request(system.edge_port, "LINES-1", extra=extra))
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


async def test_a_request_head_just_within_the_limit_is_upgraded(system):
    answer = await answer_to_upgrade(system.edge_port, padded_request(system.edge_port, 8_000))
    assert answer.startswith(b"HTTP/1.1 101 "), answer[:200]


async def test_a_request_head_never_finished_is_cut_off(system):
    reader, writer = await asyncio.open_connection("127.0.0.1", system.edge_port)
    writer.write(upgrade_request(system.edge_port, "SLOW-1")[:-2])  # the blank line never comes
    await writer.drain()
    try:  # the handshake timeout (10 s) closes the socket without an answer
        assert await asyncio.wait_for(reader.read(), 30) == b""
    finally:
        writer.close()
