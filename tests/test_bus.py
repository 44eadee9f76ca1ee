"""chargebus' reading of NATS headers and ack subjects agrees with nats-py's own."""
import asyncio

import nats
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client
from nats.aio.msg import Msg

from chargebus import bus
from chargebus.consumers import delivery

_LINE_PIECES = st.sampled_from([b"Nats-Msg-Id", b"Chargebus-Station", b":", b": ", b" ", b"\t",
                                b"\x1c", b"\x0b", b"\xc3\xa9", b"\xff", b"value", b"a b",
                                b"\r\n", b"\r", b"\n", b"", b"=", b"CP-1"])


@given(st.lists(st.one_of(_LINE_PIECES, st.binary(max_size=8)), max_size=30))
def test_header_block_is_read_as_nats_py_reads_it(pieces):
    raw = b"".join(pieces)
    assert bus.parse_header_block(raw) == Client._parse_header_lines(raw)


def test_the_client_uses_it():
    assert bus.BusClient._parse_header_lines is bus.parse_header_block


def test_headers_arrive_through_a_real_server(system):
    async def round_trip():
        client = await bus.connect_url(system.nats_url)
        plain = await nats.connect(system.nats_url)
        try:
            subscription = await client.subscribe("headers.test")
            await client.flush()
            sent = {"Chargebus-Station": "CP-1", "Chargebus-Answer": '[3,"1",{}]',
                    "Odd": "caf\u00e9"}
            await plain.publish("headers.test", b"x", headers=sent)
            msg = await subscription.next_msg(timeout=5)
            return msg.headers, sent
        finally:
            await client.close()
            await plain.close()

    received, sent = asyncio.run(round_trip())
    assert received == sent


@pytest.mark.parametrize("reply", [
    "$JS.ACK.OCPP.meter-sink-MeterValues.3.1234.17.1763740000000000000.5",
    "$JS.ACK._.ACCOUNTHASH.OCPP.meter-sink-MeterValues.3.1234.17.1763740000000000000.5.r4nd",
    "$JS.ACK.hub.ACCOUNTHASH.OCPP.meter-sink-MeterValues.1.99.17.1763740000000000000.0",
])
def test_delivery_reads_the_ack_subject_as_nats_py_does(reply):
    msg = Msg(_client=None, subject="cb.station.MeterValues.CP-1", reply=reply, data=b"{}")
    assert delivery(msg) == (msg.metadata.sequence.stream, msg.metadata.num_delivered)


def test_delivery_refuses_what_is_not_a_jetstream_message():
    with pytest.raises(ValueError):
        delivery(Msg(_client=None, subject="x", reply="_INBOX.abc", data=b""))
