"""The contract of chargebus.bus._natspy, the one module that touches nats-py internals:
each internal it uses is run here against nats-py itself and a real nats-server, so that a
nats-py that changes one fails here. chargebus' reading of NATS headers and ack subjects
agrees with nats-py's own."""
import asyncio
from urllib.parse import urlsplit

import nats
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import TimeoutError as NatsTimeout

from chargebus.bus._natspy import parse_header_block
from chargebus.bus.client import BusClient, BusMsg
from chargebus.bus.consumers import delivery

# How long a message through a real server may take at most. Generous: a machine busy
# with something else (another suite, an apt install) once took over 5 s.
WAIT_SECONDS = 30.0

_LINE_PIECES = st.sampled_from([b"Nats-Msg-Id", b"Chargebus-Station", b":", b": ", b" ", b"\t",
                                b"\x1c", b"\x0b", b"\xc3\xa9", b"\xff", b"value", b"a b",
                                b"\r\n", b"\r", b"\n", b"", b"=", b"CP-1"])


@given(st.lists(st.one_of(_LINE_PIECES, st.binary(max_size=8)), max_size=30))
def test_header_block_is_read_as_nats_py_reads_it(pieces):
    raw = b"".join(pieces)
    assert parse_header_block(raw) == Client._parse_header_lines(raw)


def test_the_client_uses_it():
    assert BusClient._parse_header_lines is parse_header_block


def test_headers_arrive_through_a_real_server(system):
    async def round_trip():
        client = await system.connect()
        plain = await nats.connect(system.nats_url, **system.identity())
        try:
            subscription = await client.subscribe("headers.test")
            await client.flush()
            sent = {"Chargebus-Station": "CP-1", "Chargebus-Answer": '[3,"1",{}]',
                    "Odd": "caf\u00e9"}
            # Core NATS delivers at most once: one publish lost on the way (seen once in
            # CI, not reproduced) would fail a test about headers, not about delivery, so
            # it is sent again each second until one arrives.
            deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
            while True:
                await plain.publish("headers.test", b"x", headers=sent)
                try:
                    msg = await subscription.next_msg(timeout=1.0)
                    return msg.headers, sent
                except NatsTimeout:
                    if asyncio.get_running_loop().time() > deadline:
                        raise
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


_NAMES = st.sampled_from(["Nats-Msg-Id", "Chargebus-Station", "Chargebus-Version", "A", ""])


def _nats_py_headers(raw: bytes):
    client = Client()
    step = client._process_headers(raw)
    try:
        step.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("nats-py's header reading suspended")


@given(st.lists(st.one_of(_LINE_PIECES, st.binary(max_size=8),
                          _NAMES.map(str.encode)), max_size=30),
       _NAMES, st.sampled_from([b"NATS/1.0\r\n", b"NATS/1.0 404 No Messages\r\n"]))
def test_one_header_is_read_as_nats_py_reads_the_block(pieces, name, first_line):
    raw = first_line + b"".join(pieces)
    expected = _nats_py_headers(raw)
    msg = BusMsg(BusClient(), "s", "r", b"x", raw)
    assert msg.header(name) == (expected or {}).get(name)
    assert msg.headers == expected


def test_status_messages_and_stream_messages_are_told_apart():
    client = BusClient()
    assert BusMsg(client, "s", "r", b"", b"NATS/1.0 404 No Messages\r\n\r\n").status == "404"
    assert BusMsg(client, "s", "r", b"", b"NATS/1.0 100 Idle Heartbeat\r\n"
                      b"Nats-Last-Consumer: 5\r\n\r\n").status == "100"
    assert BusMsg(client, "s", "r", b"{}", b"NATS/1.0\r\nA: b\r\n\r\n").status is None
    assert BusMsg(client, "s", "r", b"", None).status is None


def test_direct_subscription_acks_and_naks_through_a_real_server(system):
    """Messages reach the handler as BusMsg with the headers sent; acknowledge() and
    nak() put on the wire what nats-py's Msg.ack() and Msg.nak() do."""
    async def run():
        client = await system.connect()
        plain = await nats.connect(system.nats_url, **system.identity())
        watcher = await nats.connect(system.nats_url, **system.identity())
        try:
            received: list[BusMsg] = []
            subscription = await client.subscribe_direct("direct.test", received.append)
            await client.flush()
            # Twice in fresh-clone CI runs a message did not arrive within 30 s (once
            # none, once the last of three), never here. A plain subscriber beside ours
            # tells next time whether the server delivered it, and a probe first makes
            # sure the server has our subscription.
            watched = await watcher.subscribe("direct.test")
            await watcher.flush()
            await plain.publish("direct.test", b"probe")
            await plain.flush()
            await _until(lambda: received, lambda: "the probe did not arrive")
            received.clear()
            counted = dict(client.stats)
            sent = {"Chargebus-Version": "2.0.1", "Nats-Msg-Id": "CP/1/abc"}
            for index in range(3):
                await plain.publish("direct.test", b"%d" % index, headers=sent,
                                    reply=f"direct.reply.{index}")
            await plain.flush()
            await _until(lambda: len(received) == 3, lambda: (
                f"handled {[msg.data for msg in received]}; the client read "
                f"{client.stats['in_msgs']} messages (the probe included), "
                f"{subscription._pending_queue.qsize()} wait in nats-py's queue; connected: "
                f"{client.is_connected}, reconnects: {client.stats['reconnects']}; a plain "
                f"subscriber got {watched._pending_queue.qsize()} (the probe included)"))
            assert [msg.data for msg in received] == [b"0", b"1", b"2"]
            # Counted as nats-py counts what it reads.
            assert client.stats["in_msgs"] - counted["in_msgs"] == 3
            assert client.stats["in_bytes"] - counted["in_bytes"] == sum(
                len(msg.data) for msg in received)
            assert received[0].headers == sent
            assert received[1].header("Chargebus-Version") == "2.0.1"
            assert received[2].header("Missing") is None

            replies = await plain.subscribe("direct.reply.*")
            await plain.flush()
            sent_before = client.stats["out_msgs"]
            await client.acknowledge(received[:2])
            await client.still_working(received[2:])
            await received[2].nak(delay=2.5)
            await client.flush()
            ours = [await replies.next_msg(timeout=WAIT_SECONDS) for _ in range(4)]
            assert client.stats["out_msgs"] - sent_before == 4
            await Msg(_client=plain, subject="x", reply="direct.reply.9", data=b"").ack()
            await Msg(_client=plain, subject="x", reply="direct.reply.9",
                      data=b"").in_progress()
            await Msg(_client=plain, subject="x", reply="direct.reply.9", data=b"").nak(
                delay=2.5)
            theirs = [await replies.next_msg(timeout=WAIT_SECONDS) for _ in range(3)]
            assert [msg.subject for msg in ours] == [
                "direct.reply.0", "direct.reply.1", "direct.reply.2", "direct.reply.2"]
            assert [_command(msg.data) for msg in ours] == [
                _command(theirs[0].data), _command(theirs[0].data), _command(theirs[1].data),
                _command(theirs[2].data)]
            assert _command(theirs[2].data) == (b"-NAK", {"delay": 2_500_000_000})

            await subscription.unsubscribe()
            await plain.publish("direct.test", b"late")
            await plain.flush()
            await asyncio.sleep(0.2)
            assert len(received) == 3
        finally:
            await client.close()
            await plain.close()
            await watcher.close()

    asyncio.run(run())


async def _until(condition, describe=lambda: "", timeout: float = WAIT_SECONDS):
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out {describe()}"
        await asyncio.sleep(0.01)


def _command(ack: bytes):
    """An ack body as JetStream reads it: the verb and its JSON arguments, if any."""
    verb, _, arguments = ack.partition(b" ")
    return verb, orjson.loads(arguments) if arguments else None


def test_requests_get_their_own_replies_through_a_real_server(system):
    """Requests made at once each get their own reply, headers included; a subject no
    one serves is NoRespondersError, a responder that stays silent a TimeoutError, and
    neither leaves anything waiting behind."""
    async def run():
        client = await system.connect()
        responder = await nats.connect(system.nats_url, **system.identity())
        try:
            async def answer(msg):
                if msg.data != b"silence":
                    await msg.respond(msg.data[::-1])

            async def answer_with_header(msg):
                await responder.publish(msg.reply, b"", headers={"Chargebus-Fault": "x"})

            await responder.subscribe("request.echo", cb=answer)
            await responder.subscribe("request.fault", cb=answer_with_header)
            await responder.flush()
            asked = [b"%d-abc" % index for index in range(200)]
            replies = await asyncio.gather(*(client.request("request.echo", payload,
                                                            timeout=WAIT_SECONDS)
                                             for payload in asked))
            assert [reply.data for reply in replies] == [payload[::-1] for payload in asked]

            fault = await client.request("request.fault", b"", timeout=WAIT_SECONDS)
            assert fault.header("Chargebus-Fault") == "x"
            assert fault.headers == {"Chargebus-Fault": "x"}

            with pytest.raises(nats.errors.NoRespondersError):
                await client.request("request.nobody", b"", timeout=WAIT_SECONDS)
            with pytest.raises(nats.errors.TimeoutError):
                await client.request("request.echo", b"silence", timeout=0.2)
            assert client._awaiting == {}

            # JetStream's requests go the same way.
            js = client.jetstream()
            await js.add_stream(name="REQUESTTEST", subjects=["request.stored"])
            ack = await js.publish("request.stored", b"kept")
            assert (await js.get_msg("REQUESTTEST", ack.seq)).data == b"kept"
            await js.delete_stream("REQUESTTEST")
        finally:
            await client.close()
            await responder.close()

    asyncio.run(run())


class LateHandler(BusClient):
    """Lets a message come between subscribe_direct's SUB and its handler taking over,
    the window in which nats-py keeps it in the subscription's own queue."""

    async def subscribe(self, subject: str, **options) -> Subscription:
        subscription = await super().subscribe(subject, **options)
        await self.publish(subject, b"early", headers={"Chargebus-Version": "1.6"})
        await self.flush()
        await _until(lambda: subscription._pending_queue.qsize() == 1,
                     lambda: "the early message did not wait in nats-py's queue")
        return subscription


def test_a_message_before_the_handler_takes_over_is_handed_to_it(system):
    async def run():
        client = LateHandler()
        await client.connect(system.nats_url, **system.identity())
        try:
            received: list[BusMsg] = []
            subscription = await client.subscribe_direct("direct.early", received.append)
            early = [(msg.subject, msg.data, msg.headers) for msg in received]
            await client.publish("direct.early", b"late")
            await client.flush()
            await _until(lambda: len(received) == 2)
            return early, [msg.data for msg in received], subscription._pending_queue.qsize()
        finally:
            await client.close()

    early, data, still_queued = asyncio.run(run())
    assert early == [("direct.early", b"early", {"Chargebus-Version": "1.6"})]
    assert data == [b"early", b"late"]
    assert still_queued == 0


class Relay:
    """A TCP relay to nats-server that can be cut and restored, leaving a client that
    connects through it reconnecting meanwhile."""

    def __init__(self, nats_url: str) -> None:
        self._target = urlsplit(nats_url)
        self._server: asyncio.Server | None = None
        self._links: list[asyncio.StreamWriter] = []
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        self._server.close()
        for writer in self._links:
            writer.transport.abort()
        self._links.clear()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream = await asyncio.open_connection(self._target.hostname,
                                                                  self._target.port)
        self._links += [writer, upstream]
        await asyncio.gather(_pipe(reader, upstream), _pipe(upstream_reader, writer),
                             return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()


def test_replies_while_reconnecting_are_held_as_publish_holds_them(system):
    """Cut off from nats-server, acknowledge() keeps what fits nats-py's pending buffer
    and sends it once reconnected, and refuses what does not fit with publish()'s error."""
    pending_size = 256

    async def run():
        relay = Relay(system.nats_url)
        await relay.start()
        client = BusClient()
        await client.connect(f"nats://127.0.0.1:{relay.port}", pending_size=pending_size,
                             reconnect_time_wait=0.1, max_reconnect_attempts=-1,
                             **system.identity())
        watcher = await nats.connect(system.nats_url, **system.identity())
        try:
            acks = await watcher.subscribe("held.reply.*")
            await watcher.flush()
            relay.cut()
            await _until(lambda: not client.is_connected)
            many = [BusMsg(client, "s", f"held.reply.{index}", b"", None)
                    for index in range(pending_size)]
            with pytest.raises(nats.errors.OutboundBufferLimitError):
                await client.acknowledge(many)
            with pytest.raises(nats.errors.OutboundBufferLimitError):
                await client.publish("held.reply.x", b"x" * (pending_size + 1))
            await client.acknowledge(many[:2])
            await relay.start()
            held = [await acks.next_msg(timeout=WAIT_SECONDS) for _ in range(2)]
            return [(msg.subject, msg.data) for msg in held]
        finally:
            await client.close()
            await watcher.close()
            relay.cut()

    assert asyncio.run(run()) == [("held.reply.0", b""), ("held.reply.1", b"")]
