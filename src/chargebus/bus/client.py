"""Connections to NATS: chargebus's nats-py client, its identity and TLS options."""
import asyncio
import functools
import itertools
import logging
import re
import ssl
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from nats import errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import (Header)


from chargebus.runtime.config import Settings
from chargebus.security import seeds

log = logging.getLogger(__name__)

_WHITESPACE = re.compile(r"\s")


def parse_header_block(raw: bytes) -> dict[str, str]:
    """``Name: value`` lines as nats-py reads them: names are ASCII without whitespace
    (others are skipped), values UTF-8 with bad bytes replaced, both stripped."""
    headers: dict[str, str] = {}
    for line in raw.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if not colon:
            continue
        try:
            key = name.strip().decode("ascii")
        except UnicodeDecodeError:
            continue
        if _WHITESPACE.search(key):
            continue
        headers[key] = value.strip().decode("utf-8", "replace")
    return headers


# Whitespace nats-py's parser strips around a header name or value (bytes.strip(),
# within a line).
_BLANKS = rb"[ \t\x0b\x0c]*"
_STATUS_LINE = b"NATS/1.0 "


class BusMsg:
    """A message of a direct subscription (BusClient.subscribe_direct): what nats-py's
    Msg offers a JetStream consumer (subject, reply, data, headers, nak; acks go out a
    batch at a time through BusClient.acknowledge), with the headers read only when
    asked for, all of them (``headers``) or one (``header()``)."""

    __slots__ = ("_client", "subject", "reply", "data", "_raw_headers", "_headers")

    def __init__(self, client: "BusClient", subject: str, reply: str, data: bytes,
                 raw_headers: bytes | None, headers: dict[str, str] | None = None):
        self._client = client
        self.subject = subject
        self.reply = reply
        self.data = data
        self._raw_headers = raw_headers
        self._headers = headers

    @property
    def headers(self) -> dict[str, str] | None:
        if self._headers is None and self._raw_headers:
            self._headers = self._client.read_headers(self._raw_headers)
        return self._headers

    def header(self, name: str) -> str | None:
        """One header's value, as ``headers.get(name)`` reads it."""
        raw = self._raw_headers
        if self._headers is not None or not raw or raw.startswith(_STATUS_LINE):
            return (self.headers or {}).get(name)
        crlf = raw.count(b"\r\n")
        if raw.count(b"\r") != crlf or raw.count(b"\n") != crlf:
            return (self.headers or {}).get(name)
        # Every line, the first after "NATS/1.0" too, starts after a CRLF; the last
        # line of that name wins, as in a dict.
        values = _header_pattern(name).findall(raw)
        if not values:
            return None
        return values[-1].rstrip(b" \t\x0b\x0c").decode("utf-8", "replace")

    @property
    def status(self) -> str | None:
        """JetStream's status code of a message without data (404, 408, 409, 100), or
        None for a message of the stream."""
        if self.data or not self._raw_headers or not self._raw_headers.startswith(_STATUS_LINE):
            return None
        return (self.headers or {}).get(Header.STATUS.value)

    async def nak(self, delay: float | None = None) -> None:
        """Deliver again, after ``delay`` seconds if given (as nats-py's Msg.nak)."""
        payload = b"-NAK"
        if delay:
            payload += b" " + orjson.dumps({"delay": int(delay * 10**9)})
        await self._client.publish(self.reply, payload)


@functools.lru_cache(maxsize=64)
def _header_pattern(name: str) -> re.Pattern:
    return re.compile(rb"\r\n" + _BLANKS + re.escape(name.encode("ascii")) + _BLANKS + rb":"
                      + _BLANKS + rb"([^\r\n]*)")


class BusClient(Client):
    """nats-py's client with a cheaper reading of message headers, and subscriptions
    whose messages go straight to a function.

    Every recorded call carries seven headers, and nats-py 2.16 checks each character
    of each header name with a generator, which was most of a meter sink's time
    (benchmarks/README.md). This does the same check with one regular expression
    (tests/test_bus.py holds it to nats-py's own parser).
    """

    _parse_header_lines = staticmethod(parse_header_block)

    def __init__(self) -> None:
        super().__init__()
        self._direct: dict[int, Callable[[BusMsg], None]] = {}
        self._reply_prefix = ""  # set at the first request
        self._reply_tokens = itertools.count(1)
        self._awaiting: dict[str, asyncio.Future] = {}  # reply token -> its request

    async def subscribe_direct(self, subject: str,
                               handler: Callable[[BusMsg], None]) -> Subscription:
        """Subscribe ``handler``, called in the read loop with each message as a BusMsg.

        For a JetStream consumer's pull inbox: nats-py builds a header dict, a Msg and
        a queue entry per message and runs the callback as a task; here a message costs
        one small object until its headers are asked for. The handler must not block.
        """
        subscription = await self.subscribe(subject, pending_msgs_limit=0,
                                            pending_bytes_limit=0)
        self._direct[subscription._id] = handler
        # Whatever came between the SUB and now waits in nats-py's queue.
        while not subscription._pending_queue.empty():
            msg = subscription._pending_queue.get_nowait()
            handler(BusMsg(self, msg.subject, msg.reply, msg.data, None, msg.headers))
        return subscription

    async def _process_msg(self, sid: int, subject: bytes, reply: bytes, data: bytes,
                           headers: bytes | None) -> None:
        handler = self._direct.get(sid)
        if handler is None:
            # nats-py passes None for a message without headers, although it says bytes.
            return await super()._process_msg(sid, subject, reply, data, headers)  # type: ignore[arg-type]
        if sid not in self._subs:  # unsubscribed
            del self._direct[sid]
            return
        self.stats["in_msgs"] += 1
        self.stats["in_bytes"] += len(data)
        handler(BusMsg(self, subject.decode(), reply.decode(), data, headers))

    # A BusMsg where nats-py's request() says Msg: it offers what a reply is read for.
    async def _request_new_style(  # type: ignore[override]
            self, subject: str, payload: bytes, timeout: float = 1,
                                 headers: dict[str, str] | None = None) -> BusMsg:
        """Every request (a station's call to the workers, each JetStream publish and KV
        write) as nats-py makes it, with its reply as a BusMsg through a direct
        subscription, a counter for the reply token (nats-py reads the system's random
        source for each) and a timer rather than asyncio.wait_for: Msg objects, a task
        hop per reply and wait_for's extra future were most of a request's cost."""
        if self.is_draining_pubs:
            raise errors.ConnectionDrainingError
        if not self._reply_prefix:
            # Set before the subscription is made, so that requests meanwhile share it.
            self._reply_prefix = self.new_inbox() + "."
            await self.subscribe_direct(self._reply_prefix + "*", self._take_reply)
        token = str(next(self._reply_tokens))
        loop = asyncio.get_running_loop()
        reply = loop.create_future()
        self._awaiting[token] = reply
        expiry = loop.call_later(timeout, _expire, reply)
        try:
            await self.publish(subject, payload, reply=self._reply_prefix + token,
                               headers=headers)
            return await reply
        finally:
            expiry.cancel()
            self._awaiting.pop(token, None)

    def _take_reply(self, msg: BusMsg) -> None:
        reply = self._awaiting.pop(msg.subject[len(self._reply_prefix):], None)
        if reply is not None and not reply.done():
            reply.set_result(msg)

    async def acknowledge(self, msgs: Sequence[BusMsg]) -> None:
        """Acknowledge JetStream messages in one write: the PUBs with an empty payload
        that nats-py's Msg.ack sends one at a time through publish() (its checks per call
        were a tenth of a meter sink's time)."""
        await self._reply_to_all(msgs, b"")

    async def still_working(self, msgs: Sequence[BusMsg]) -> None:
        """Tell JetStream, in one write, that these messages are still being handled, so
        that their ack wait starts again and they are not delivered to another consumer
        meanwhile."""
        await self._reply_to_all(msgs, Msg.Ack.Progress)

    async def _reply_to_all(self, msgs: Sequence[BusMsg], payload: bytes) -> None:
        if not msgs:
            return
        if self.is_closed:
            raise errors.ConnectionClosedError
        if self.is_draining_pubs:
            raise errors.ConnectionDrainingError
        tail = b" %d\r\n%b\r\n" % (len(payload), payload)
        commands = b"".join([b"PUB %b%b" % (msg.reply.encode(), tail) for msg in msgs])
        if not self.is_connected and (
                self._max_pending_size <= 0
                or len(commands) + self._pending_data_size > self._max_pending_size):
            raise errors.OutboundBufferLimitError
        self.stats["out_msgs"] += len(msgs)
        await self._send_command(commands)
        if self._flush_queue is not None and self._flush_queue.empty():
            await self._flush_pending()

    def read_headers(self, raw: bytes) -> dict[str, str] | None:
        """A raw header block as nats-py's Msg.headers has it (status lines included).
        nats-py reads headers in a coroutine that never suspends; it is run to its end
        here."""
        step = self._process_headers(raw)
        try:
            step.send(None)
        except StopIteration as done:
            return done.value
        step.close()
        raise RuntimeError("nats-py's header reading suspended")


def _expire(reply: asyncio.Future) -> None:
    if not reply.done():
        reply.set_exception(errors.TimeoutError())


async def connect(settings: Settings, name: str, **options: Any) -> BusClient:
    """A NATS connection under the settings' identity and TLS that, unless told
    otherwise, keeps reconnecting for as long as the process lives."""
    options = ({"max_reconnect_attempts": -1, "reconnect_time_wait": 0.5}
               | identity_options(settings.nats_credentials) | tls_options(settings) | options)
    return await connect_url(settings.nats_url, name=name, **options)


def refused_identity(error: Exception) -> bool:
    """Whether nats-server turned the connection away for its identity (or its lack of
    one): nats-py raises AuthorizationError, or, on a first connect, an Error naming it."""
    return (isinstance(error, errors.AuthorizationError)
            or "authorization violation" in str(error).lower())


def identity_options(seed_file: Path | None) -> dict:
    """nats-py's options to sign in with this seed, replies coming to its own inbox
    (the only one its permissions let it read); none without a seed."""
    if seed_file is None:
        return {}
    return {"nkeys_seed": str(seed_file), "inbox_prefix": seeds.inbox_prefix(seed_file)}


def tls_options(settings: Settings) -> dict:
    if settings.nats_tls_ca is None:
        return {}
    context = ssl.create_default_context(cafile=settings.nats_tls_ca)
    if settings.nats_tls_certificate is not None:
        context.load_cert_chain(settings.nats_tls_certificate, settings.nats_tls_key)
    return {"tls": context}


async def connect_url(url: str, **options: Any) -> BusClient:
    client = BusClient()
    await client.connect(url, **options)
    return client
