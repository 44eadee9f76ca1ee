"""The head of a station's upgrade request, read before picows reads it, so that one too
large is answered with 431 Request Header Fields Too Large.

picows reads at most 16 KiB of request head (a constant of its own, not a setting) and,
past that, closes the socket without an answer: a station still sending its headers got
a TCP reset. This protocol takes the socket first, answers 431 beyond
MAX_REQUEST_HEAD_BYTES, and once the head is complete hands the socket, and every byte
that came, to picows' protocol. It is the socket's protocol for the head alone.
"""
import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

# Request line and header fields, the blank line included. An OCPP upgrade is some
# 300 bytes, with Basic credentials; 8 KiB is what nginx and Apache allow a header field.
MAX_REQUEST_HEAD_BYTES = 8 * 1024
HEAD_END = b"\r\n\r\n"
# What a refused station still sends is read and dropped for this long before the
# socket closes: closing with data unread resets the connection, and a reset can reach
# the station before it has read the 431.
LINGER_SECONDS = 2.0
REFUSED_REASON = "request_head_too_large"


def _too_large() -> bytes:
    body = f"the request line and headers take more than {MAX_REQUEST_HEAD_BYTES} bytes\n"
    return (f"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n{body}").encode()


TOO_LARGE = _too_large()


class RequestHead(asyncio.Protocol):
    __slots__ = ("_websocket_protocol", "_refused", "_timeout", "_transport", "_head",
                 "_timer", "_refusing")

    def __init__(self, websocket_protocol: Callable[[], asyncio.BufferedProtocol],
                 timeout: float, refused: Callable[[str], None]):
        self._websocket_protocol = websocket_protocol
        self._refused = refused
        self._timeout = timeout
        self._transport: asyncio.Transport | None = None
        self._head = bytearray()
        self._timer: asyncio.TimerHandle | None = None
        self._refusing = False

    # The loop hands a stream protocol a Transport (typeshed says BaseTransport).
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._transport = transport
        # picows' handshake timeout starts when it gets the socket: this one covers the
        # head until then, as picows' would have.
        self._timer = asyncio.get_running_loop().call_later(self._timeout, transport.close)

    def data_received(self, data: bytes) -> None:
        if self._refusing:
            return
        searched_from = max(0, len(self._head) - len(HEAD_END) + 1)
        self._head += data
        end = self._head.find(HEAD_END, searched_from)
        head_size = len(self._head) if end < 0 else end + len(HEAD_END)
        if head_size > MAX_REQUEST_HEAD_BYTES:
            self._refuse()
        elif end >= 0:
            self._hand_over()

    def eof_received(self) -> bool:
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _hand_over(self) -> None:
        assert self._timer is not None and self._transport is not None  # connection_made
        self._timer.cancel()
        transport, received = self._transport, memoryview(self._head)
        protocol = self._websocket_protocol()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        while received and not transport.is_closing():
            buffer = memoryview(protocol.get_buffer(len(received)))
            size = min(len(buffer), len(received))
            buffer[:size] = received[:size]
            protocol.buffer_updated(size)
            received = received[size:]

    def _refuse(self) -> None:
        self._refusing = True
        self._head = bytearray()
        self._refused(REFUSED_REASON)
        log.info("refused a connection: 431 a request head over %d bytes",
                 MAX_REQUEST_HEAD_BYTES)
        transport = self._transport
        assert self._timer is not None and transport is not None  # connection_made
        transport.write(TOO_LARGE)
        if transport.can_write_eof():
            transport.write_eof()
        self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.close)
