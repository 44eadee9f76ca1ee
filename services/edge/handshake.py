"""The upgrade request read ahead of picows, so that its password can be checked off
the event loop and still be answered with an HTTP status before the upgrade.

picows asks its listener factory for the answer synchronously, while it parses the
request (picows 2.3 has no hook that answers later). So this protocol takes the
socket first: it reads the request, parses it with picows' own parser (the check sees
the request picows would), pauses reading while the check runs, then either writes the
refusal and closes, or hands the socket to a picows protocol made for the verdict and
feeds it the bytes it read; picows then upgrades as it always does. A request picows
cannot parse is handed over unchecked for picows to refuse. Once handed over, nothing
of this stays in the way of the station's frames.
"""
import asyncio
import logging
from collections.abc import Awaitable, Callable

from picows import WSUpgradeRequest
from picows.picows import _parse_http_request

log = logging.getLogger(__name__)

HEADER_END = b"\r\n\r\n"
MAX_REQUEST_BYTES = 16 * 1024  # picows' own limit: past it, it disconnects


class CheckedHandshake(asyncio.Protocol):
    def __init__(self, check: Callable[[WSUpgradeRequest, str], Awaitable[object]],
                 answer: Callable[[object], bytes | asyncio.BufferedProtocol],
                 unchecked: object, timeout: float):
        """``check(request, peer address)`` gives the verdict; ``answer(verdict)`` the
        refusal to write, or the picows protocol to hand the socket to. ``unchecked``
        is the verdict where no check was made: a request picows refuses itself, or a
        check that raised."""
        self._check = check
        self._answer = answer
        self._unchecked = unchecked
        self._timeout = timeout
        self._transport: asyncio.Transport | None = None
        self._received = bytearray()
        self._timer: asyncio.TimerHandle | None = None
        self._checking: asyncio.Task | None = None
        self._handed_over = False

    def connection_made(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._timer = asyncio.get_running_loop().call_later(self._timeout, self._too_slow)

    def data_received(self, data: bytes) -> None:
        self._received += data
        if self._checking is not None:
            return
        end = self._received.find(HEADER_END)
        if end < 0 or end >= MAX_REQUEST_BYTES:
            if len(self._received) >= MAX_REQUEST_BYTES:
                self._hand_over(self._unchecked)
            return
        try:
            request = _parse_http_request(bytes(self._received[:end]))
        except RuntimeError:
            self._hand_over(self._unchecked)
            return
        self._timer.cancel()  # the station has sent its part; the check's time is ours
        self._transport.pause_reading()
        peer = self._transport.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else str(peer or "")
        self._checking = asyncio.ensure_future(self._check(request, address))
        self._checking.add_done_callback(self._checked)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._handed_over:
            if self._timer is not None:
                self._timer.cancel()
            if self._checking is not None:
                self._checking.cancel()  # a check still waiting for a thread never runs

    def _checked(self, checking: asyncio.Task) -> None:
        if checking.cancelled() or self._transport.is_closing():
            return
        if checking.exception() is not None:
            log.error("the credentials check failed", exc_info=checking.exception())
            self._hand_over(self._unchecked)
            return
        self._hand_over(checking.result())

    def _hand_over(self, verdict: object) -> None:
        self._timer.cancel()
        self._handed_over = True
        websocket = self._answer(verdict)
        if isinstance(websocket, bytes):  # a refusal: picows would only write it
            self._transport.write(websocket)
            self._transport.close()
            return
        self._transport.set_protocol(websocket)
        websocket.connection_made(self._transport)
        _feed(websocket, self._received, self._transport)
        self._received = bytearray()
        self._transport.resume_reading()

    def _too_slow(self) -> None:
        log.debug("closed a connection that sent no upgrade request within %g s",
                  self._timeout)
        self._transport.close()


def _feed(protocol: asyncio.BufferedProtocol, data: bytearray,
          transport: asyncio.Transport) -> None:
    """Bytes into a buffered protocol, as the transport would have put them there (and
    no more once the protocol closed the transport: a refused request's tail)."""
    view = memoryview(data)
    while view and not transport.is_closing():
        buffer = protocol.get_buffer(len(view))
        size = min(len(buffer), len(view))
        if size == 0:
            break
        buffer[:size] = view[:size]
        protocol.buffer_updated(size)
        view = view[size:]
