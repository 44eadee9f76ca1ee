"""What RFC 6455 asks of a server, and OCPP-J of its frames, on the edge's own sockets:
text that is not UTF-8 closes with 1007, a binary message with 1003."""
import struct

import orjson
import pytest

from raw_websocket import (BINARY_OPCODE, CONTINUATION_OPCODE, TEXT_OPCODE,
                           close_frame_answering, masked_frame, read_frame, upgraded_socket)

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
