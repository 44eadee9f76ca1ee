"""The one module that reaches into nats-py's internals; the rest of chargebus builds on
its public class and functions (tests/test__sourcecode.py fails on a private nats-py name
anywhere else). pyproject.toml holds nats-py below its next minor version, and
tests/test_bus.py is this module's contract: it runs every internal used here against a
real nats-server, so a nats-py that changes one fails there rather than in production.

What it leans on, and why (each was most of a hot path's cost, benchmarks/README.md):
- ``Client._parse_header_lines``, replaced: nats-py checks each character of each
  header name with a generator; parse_header_block does it with one regular expression.
- ``Client._process_headers``, called (read_headers): nats-py's reading of a whole
  header block, status lines included, for a message whose headers are asked for late.
- ``Client._process_msg``, overridden, with ``Client._subs``, ``Client.stats``,
  ``Subscription._id`` and ``Subscription._pending_queue``: a direct subscription's
  messages go straight to a function in the read loop, without a header dict, a Msg, a
  queue entry and a task each.
- ``Client._request_new_style``, overridden: every request's reply comes through one
  direct subscription, with a counter for its token and a timer for its timeout.
- ``Client._send_command``, ``_flush_pending``, ``_flush_queue``, ``_max_pending_size``
  and ``_pending_data_size``: many replies (acks) in one write, with publish()'s checks
  made once.
"""
import asyncio
import itertools
import re
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from nats import errors
from nats.aio.client import Client
from nats.aio.subscription import Subscription

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


class Delivered(Protocol):
    """What a direct subscription hands its handler: the subject it came on and the
    subject to reply to."""

    subject: str
    reply: str


M = TypeVar("M", bound=Delivered)


class MessageType(Protocol[M]):
    """Makes a direct subscription's message from the client, subject, reply, data, raw
    header block and, where nats-py has read them already, the headers."""

    def __call__(self, client: "NatsPyClient[M]", subject: str, reply: str, data: bytes,
                 raw_headers: bytes | None, headers: dict[str, str] | None = None) -> M: ...


class NatsPyClient(Client, Generic[M]):
    """nats-py's client with a cheaper reading of message headers, subscriptions whose
    messages go straight to a function (as ``message_type``, which a subclass sets),
    requests whose replies come the same way, and replies to many messages in one write."""

    message_type: MessageType[M]

    _parse_header_lines = staticmethod(parse_header_block)

    def __init__(self) -> None:
        super().__init__()
        self._direct: dict[int, Callable[[M], None]] = {}
        self._reply_prefix = ""  # set at the first request
        self._reply_tokens = itertools.count(1)
        self._awaiting: dict[str, asyncio.Future[M]] = {}  # reply token -> its request

    async def subscribe_direct(self, subject: str, handler: Callable[[M], None]) -> Subscription:
        """Subscribe ``handler``, called in the read loop with each message as a
        ``message_type``.

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
            handler(self.message_type(self, msg.subject, msg.reply, msg.data, None, msg.headers))
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
        handler(self.message_type(self, subject.decode(), reply.decode(), data, headers))

    # A message_type where nats-py's request() says Msg: it offers what a reply is read for.
    async def _request_new_style(  # type: ignore[override]
            self, subject: str, payload: bytes, timeout: float = 1,
                                 headers: dict[str, str] | None = None) -> M:
        """Every request (a station's call to the workers, each JetStream publish and KV
        write) as nats-py makes it, with its reply as a ``message_type`` through a direct
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
        reply: asyncio.Future[M] = loop.create_future()
        self._awaiting[token] = reply
        expiry = loop.call_later(timeout, _expire, reply)
        try:
            await self.publish(subject, payload, reply=self._reply_prefix + token,
                               headers=headers)
            return await reply
        finally:
            expiry.cancel()
            self._awaiting.pop(token, None)

    def _take_reply(self, msg: M) -> None:
        reply = self._awaiting.pop(msg.subject[len(self._reply_prefix):], None)
        if reply is not None and not reply.done():
            reply.set_result(msg)

    async def reply_to_all(self, msgs: Sequence[Delivered], payload: bytes) -> None:
        """Send ``payload`` to each message's reply subject in one write: the PUBs that
        publish() sends one at a time, with its checks made once for all."""
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
