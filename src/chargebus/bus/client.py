"""Connections to NATS: chargebus's nats-py client, its identity and TLS options."""
import functools
import logging
import re
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from nats import errors
from nats.aio.msg import Msg
from nats.js.api import (Header)


from chargebus.bus._natspy import NatsPyClient
from chargebus.runtime.config import Settings
from chargebus.security import seeds

log = logging.getLogger(__name__)

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

    def __init__(self, client: "NatsPyClient[BusMsg]", subject: str, reply: str, data: bytes,
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


class BusClient(NatsPyClient[BusMsg]):
    """nats-py's client whose direct subscriptions and requests hand over BusMsg, and
    that acknowledges JetStream messages a batch at a time.

    Every recorded call carries seven headers, and nats-py 2.16 checks each character
    of each header name with a generator, which was most of a meter sink's time
    (benchmarks/README.md); the seam (_natspy) reads them with one regular expression
    (tests/test_bus.py holds it to nats-py's own parser).
    """

    message_type = BusMsg

    async def acknowledge(self, msgs: Sequence[BusMsg]) -> None:
        """Acknowledge JetStream messages in one write: the PUBs with an empty payload
        that nats-py's Msg.ack sends one at a time through publish() (its checks per call
        were a tenth of a meter sink's time)."""
        await self.reply_to_all(msgs, b"")

    async def still_working(self, msgs: Sequence[BusMsg]) -> None:
        """Tell JetStream, in one write, that these messages are still being handled, so
        that their ack wait starts again and they are not delivered to another consumer
        meanwhile."""
        await self.reply_to_all(msgs, Msg.Ack.Progress)


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
