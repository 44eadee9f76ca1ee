"""The edge's listening sockets, accepting stations in batches.

libuv, under uvloop, accepts one connection per turn of the event loop (since libuv
PR 3696). In a reconnect storm every turn then carries one station, and so does every
write to NATS and every wakeup of nats-server and the workers behind it: 5,000 stations
took 2-6 times the CPU of every process, and twice the time, of batches of them. This
accepts what is waiting on each wakeup, as asyncio's own loop does, and hands each
socket to uvloop's transport (which costs 5 KiB less per station than aiofastnet's).
"""
import asyncio
import errno
import logging
import os
import socket
import ssl
from collections.abc import Callable

from chargebus.services.edge._picows import ListenerFactory, server_protocol
from chargebus.services.edge.requesthead import RequestHead

log = logging.getLogger(__name__)

# At most this many connections taken per wakeup, so that a flood of them cannot keep
# the stations already connected waiting for their turn.
ACCEPT_BATCH = 256
# Out of kernel resources: asyncio waits this long before it accepts again, and so do we.
RESOURCE_PAUSE_SECONDS = 1.0
_RESOURCE_ERRORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
# At the process's file descriptor limit (EMFILE) a station left in the backlog waits
# until it times out, and reconnects into the same full backlog. The acceptor keeps one
# descriptor in reserve and, at the limit, lets it go for as long as it takes to accept
# a waiting station and turn it away, as libuv's own accept does: the station hears at
# once, and the backlog does not fill.
OUT_OF_FILES_REASON = "out_of_file_descriptors"
_OUT_OF_FILES_BODY = b"the edge is at its limit of open files: connect again later\n"
OUT_OF_FILES_ANSWER = (b"HTTP/1.1 503 Service Unavailable\r\n"
                       b"Content-Type: text/plain; charset=utf-8\r\n"
                       b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                       % (len(_OUT_OF_FILES_BODY), _OUT_OF_FILES_BODY))
# Reads of what a turned-away station sent, at most, before its socket closes: closing
# with data unread would reset the connection, and the reset can overtake the 503.
_TURN_AWAY_READS = 4


def websocket_server_protocol(listener_factory: ListenerFactory, *,
                              logger: logging.Logger | logging.LoggerAdapter,
                              handshake_timeout: float, max_frame_size: int,
                              read_buffer_size: int,
                              refused: Callable[[str], None]) -> Callable[[], RequestHead]:
    """picows' server-side protocol (made in the _picows seam) behind a reader of the
    request head (a head too large gets 431)."""
    def protocol() -> asyncio.BufferedProtocol:
        return server_protocol(listener_factory, logger=logger,
                               handshake_timeout=handshake_timeout,
                               max_frame_size=max_frame_size, read_buffer_size=read_buffer_size)

    def head_first() -> RequestHead:
        return RequestHead(protocol, handshake_timeout, refused)
    return head_first


class Acceptor:
    def __init__(self, protocol_factory: Callable[[], asyncio.BaseProtocol], *,
                 tls: ssl.SSLContext | None, tls_handshake_timeout: float,
                 refused: Callable[[str], None]) -> None:
        self._protocol_factory = protocol_factory
        self._tls = tls
        self._tls_handshake_timeout = tls_handshake_timeout
        self._refused = refused
        self._sockets: list[socket.socket] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handshakes: set[asyncio.Task] = set()
        self._reserve: int | None = None  # a file descriptor, for turning stations away
        self._turned_away = 0  # since the limit was last reached

    @property
    def sockets(self) -> list[socket.socket]:
        return list(self._sockets)

    async def listen(self, host: str, port: int, backlog: int) -> None:
        self._loop = asyncio.get_running_loop()
        addresses = await self._loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                 flags=socket.AI_PASSIVE)
        try:
            for family, kind, proto, _, address in dict.fromkeys(addresses):
                listening = socket.socket(family, kind, proto)
                self._sockets.append(listening)
                listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    # One socket per family, as asyncio does, rather than a dual-stack one.
                    listening.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                listening.bind(address)
                listening.listen(backlog)
                listening.setblocking(False)
        except OSError as error:
            self.close()
            raise OSError(error.errno, f"cannot listen for stations on {host or '*'} "
                                       f"port {port}: {error.strerror}") from error
        self._take_reserve()
        for listening in self._sockets:
            self._loop.add_reader(listening.fileno(), self._accept_waiting, listening)

    def close(self) -> None:
        for listening in self._sockets:
            if self._loop is not None and listening.fileno() >= 0:
                self._loop.remove_reader(listening.fileno())
            listening.close()
        self._sockets.clear()
        if self._reserve is not None:
            os.close(self._reserve)
            self._reserve = None

    def _accept_waiting(self, listening: socket.socket) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                accepted, _ = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno == errno.EMFILE and self._reserve is not None:
                    if not self._turn_away_one(listening):
                        return
                    continue
                if error.errno in _RESOURCE_ERRORS:
                    assert self._loop is not None  # listen() set it
                    log.error("cannot accept stations for %g s: %s", RESOURCE_PAUSE_SECONDS, error)
                    self._loop.remove_reader(listening.fileno())
                    self._loop.call_later(RESOURCE_PAUSE_SECONDS, self._resume, listening)
                    return
                # ECONNABORTED and the like: that connection is gone, the next may not be.
                log.debug("accept failed: %s", error)
                continue
            if self._turned_away:
                log.warning("accepting stations again, after turning %d away at the limit "
                            "of open files", self._turned_away)
                self._turned_away = 0
            self._connect(accepted)

    def _resume(self, listening: socket.socket) -> None:
        assert self._loop is not None  # listen() set it
        if listening in self._sockets:
            if self._reserve is None:
                self._take_reserve()
            self._loop.add_reader(listening.fileno(), self._accept_waiting, listening)

    def _take_reserve(self) -> None:
        try:
            self._reserve = os.open(os.devnull, os.O_RDONLY)
        except OSError as error:
            self._reserve = None
            log.error("no file descriptor in reserve, stations wait at the limit: %s", error)

    def _turn_away_one(self, listening: socket.socket) -> bool:
        """Accept a waiting station on the reserve descriptor and answer it 503 (over
        TLS only close it: an answer would need a handshake); False when none waits."""
        assert self._reserve is not None  # the caller's condition
        os.close(self._reserve)
        try:
            accepted, _ = listening.accept()
        except OSError:  # none waits, or it went
            return False
        else:
            with accepted:
                self._turn_away(accepted)
            return True
        finally:
            self._take_reserve()

    def _turn_away(self, accepted: socket.socket) -> None:
        if not self._turned_away:
            log.error("at the limit of open files: turning stations away until some leave")
        self._turned_away += 1
        self._refused(OUT_OF_FILES_REASON)
        accepted.setblocking(False)
        try:
            for _ in range(_TURN_AWAY_READS):
                if not accepted.recv(65536):
                    break
        except (BlockingIOError, InterruptedError):
            pass  # all read
        except OSError:
            return  # the station went
        if self._tls is None:
            try:
                accepted.send(OUT_OF_FILES_ANSWER)
            except OSError:
                pass

    def _connect(self, accepted: socket.socket) -> None:
        assert self._loop is not None  # listen() set it
        handshake = self._loop.create_task(self._loop.connect_accepted_socket(
            self._protocol_factory, accepted, ssl=self._tls,
            ssl_handshake_timeout=self._tls_handshake_timeout if self._tls else None))
        self._handshakes.add(handshake)
        handshake.add_done_callback(self._connected)

    def _connected(self, handshake: asyncio.Task) -> None:
        self._handshakes.discard(handshake)
        if not handshake.cancelled() and handshake.exception() is not None:
            # A TLS handshake that failed, or a station gone before its transport was up.
            log.debug("connection not set up: %s", handshake.exception())
