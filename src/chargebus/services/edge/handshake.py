"""The upgrade request checked before picows reads it, so that its password can be
checked (by the workers, asked over NATS) and still be answered with an HTTP status
before the upgrade.

picows asks its listener factory for the answer synchronously, while it parses the
request (picows 2.3 has no hook that answers later). So, under profiles 1 and 2, the
socket's RequestHead (which refuses a head too large) hands the head to this protocol
instead of picows'. It parses the head with picows' own parser (the check sees the
request picows would), pauses reading while the check runs, then either writes the
refusal and closes, or hands the socket, and every byte that came, to the protocol
made for the verdict, which upgrades it. A head picows cannot parse is handed over
unchecked, for picows to refuse. Once handed over, nothing of this stays in the way of
the station's frames.
"""
import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from picows import WSUpgradeRequest

from chargebus.services.edge._picows import parse_request_head

log = logging.getLogger(__name__)

HEAD_END = b"\r\n\r\n"
READ_BYTES = 4096  # at least, per read: what a RequestHead hands over comes at once


Verdict = TypeVar("Verdict")


class CheckedHandshake(asyncio.BufferedProtocol, Generic[Verdict]):
    def __init__(self, check: Callable[[WSUpgradeRequest, str], Awaitable[Verdict]],
                 answer: Callable[[Verdict], bytes | asyncio.Protocol], unchecked: Verdict):
        """``check(request, peer address)`` gives the verdict; ``answer(verdict)`` the
        refusal to write, or the protocol to hand the socket to. ``unchecked`` is the
        verdict where no check was made: a head picows refuses itself, or a check that
        raised."""
        self._check = check
        self._answer = answer
        self._unchecked = unchecked
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._received = bytearray()
        self._checking: asyncio.Task | None = None
        self._handed_over = False

    # The loop hands a stream protocol a Transport (typeshed says BaseTransport).
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._transport = transport

    def get_buffer(self, size_hint: int) -> bytearray:
        self._buffer = bytearray(max(size_hint, READ_BYTES))
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self._received += memoryview(self._buffer)[:nbytes]
        if self._checking is not None:
            return
        end = self._received.find(HEAD_END)
        if end < 0:
            return  # a RequestHead hands over the whole head: more is on its way
        try:
            request = parse_request_head(bytes(self._received[:end]))
        except RuntimeError:
            self._hand_over(self._unchecked)
            return
        assert self._transport is not None  # connection_made
        self._transport.pause_reading()
        peer = self._transport.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else str(peer or "")
        self._checking = asyncio.ensure_future(self._check(request, address))
        self._checking.add_done_callback(self._checked)

    def eof_received(self) -> bool:
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._handed_over and self._checking is not None:
            self._checking.cancel()  # its answer would go nowhere

    def _checked(self, checking: asyncio.Task[Verdict]) -> None:
        assert self._transport is not None  # connection_made
        if checking.cancelled() or self._transport.is_closing():
            return
        if checking.exception() is not None:
            log.error("the credentials check failed", exc_info=checking.exception())
            self._hand_over(self._unchecked)
            return
        self._hand_over(checking.result())

    def _hand_over(self, verdict: Verdict) -> None:
        assert self._transport is not None  # connection_made
        self._handed_over = True
        protocol = self._answer(verdict)
        transport, received = self._transport, bytes(self._received)
        self._received = self._buffer = bytearray()
        if isinstance(protocol, bytes):  # a refusal: picows would only write it
            transport.write(protocol)
            transport.close()
            return
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(received)
        transport.resume_reading()
