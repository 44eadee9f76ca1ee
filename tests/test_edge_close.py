"""The close frames the edge sends, read as bytes off a socket of our own: RFC 6455
section 7.4 lets none carry a code below 1000, 1004-1006 or 1015, or above 4999, and
section 5.5 no reason over 123 bytes (Node's `ws` fails the connection otherwise)."""
import struct

import pytest

from chargebus.ocpp.closeframes import MAX_REASON_BYTES, reason_bytes
from raw_websocket import CLOSE_OPCODE, close_frame_answering, masked_frame, upgraded_socket


def valid_on_the_wire(code: int) -> bool:
    """RFC 6455 section 7.4: the codes an endpoint may send (1012-1014 registered
    with IANA since), 3000-4999 for libraries, frameworks and applications."""
    return (1000 <= code <= 1014 and code not in (1004, 1005, 1006)) or 3000 <= code <= 4999


def assert_valid_close_payload(payload: bytes) -> None:
    assert len(payload) != 1, payload  # a code is two bytes or absent
    if payload:
        code = struct.unpack("!H", payload[:2])[0]
        assert valid_on_the_wire(code), f"close code {code} may not be sent"
        assert len(payload) - 2 <= 123
        payload[2:].decode("utf-8")


async def test_an_empty_close_is_answered_with_a_close_valid_on_the_wire(system):
    reader, writer = await upgraded_socket(system.edge_port)
    payload = await close_frame_answering(reader, writer, masked_frame(CLOSE_OPCODE, b""))
    assert_valid_close_payload(payload)
    assert payload in (b"", struct.pack("!H", 1000))  # nothing went wrong: a normal close


@pytest.mark.parametrize("code", [1000, 1001, 1008, 1011, 3000, 4000, 4999])
async def test_a_stations_valid_close_code_is_echoed(system, code):
    reader, writer = await upgraded_socket(system.edge_port, "ocpp2.0.1")
    payload = await close_frame_answering(
        reader, writer, masked_frame(CLOSE_OPCODE, struct.pack("!H", code) + b"bye"))
    assert payload[:2] == struct.pack("!H", code)
    assert_valid_close_payload(payload)


@pytest.mark.parametrize("code", [0, 999, 1005, 1006, 1015, 2999, 5000, 65535])
async def test_a_close_code_no_one_may_send_is_answered_as_a_protocol_error(system, code):
    reader, writer = await upgraded_socket(system.edge_port)
    payload = await close_frame_answering(
        reader, writer, masked_frame(CLOSE_OPCODE, struct.pack("!H", code)))
    assert payload[:2] == struct.pack("!H", 1002)
    assert_valid_close_payload(payload)


async def test_the_edges_own_closes_are_valid_on_the_wire(system):
    reader, writer = await upgraded_socket(system.edge_port)
    continuation_without_start = masked_frame(0x0, b"[2,")
    payload = await close_frame_answering(reader, writer, continuation_without_start)
    assert payload[:2] == struct.pack("!H", 1002)
    assert_valid_close_payload(payload)


@pytest.mark.parametrize("reason, kept", [
    ("edge shutting down", "edge shutting down"),
    ("x" * 200, "x" * 123),
    ("\u00e9" * 100, "\u00e9" * 61),  # two bytes each: the 62nd would be cut in half
    ("a" + "\u20ac" * 50, "a" + "\u20ac" * 40),
], ids=["short", "ascii", "two-byte", "three-byte"])
def test_a_reason_too_long_for_a_close_frame_is_cut_at_a_whole_character(reason, kept):
    cut = reason_bytes(reason)
    assert len(cut) <= MAX_REASON_BYTES == 123
    assert cut.decode("utf-8") == kept
