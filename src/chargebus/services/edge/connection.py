"""One station's WebSocket: frames in, answers out, calls handled in the order sent.

Frame lifetime: picows hands a WSFrame that is valid only inside on_ws_frame, so its
payload is copied out and decoded there, before anything is awaited.
"""
import asyncio
import logging
import time

from cryptography import x509
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from chargebus.bus.events import CallContext
from chargebus.ocpp import Fault, OcppError, OcppVersion
from chargebus.ocpp.clock import ocpp_timestamp
from chargebus.ocpp.closeframes import answer_close, send_close
from chargebus.ocpp.codec import (CALL, SEND, BrokenFrame, Frame, InvalidOutgoing, call_error,
                                  call_result, decode_frame, dialect_of)
from chargebus.security.authority import facts_of
from chargebus.services.edge.callrate import CallRate
from chargebus.services.edge.context import EdgeContext
from chargebus.services.edge.outbound import OutboundCalls
from chargebus.services.edge.recent import RecentAnswers
from chargebus.state.records import CertificateFacts

log = logging.getLogger(__name__)

# OCPP allows one outstanding call per direction; a station that sends more without
# waiting has them queued up to this many, then its socket is not read until the queue
# drains (TCP holds the rest: nothing is dropped).
MAX_QUEUED_CALLS = 16
CLOSE_GRACE_SECONDS = 2.0


class StationConnection(WSListener):
    # An edge holds tens of thousands of these, most of them idle: slots, and what only
    # some stations need (CSMS calls, fragments) made when first needed.
    __slots__ = ("station_id", "version", "connection_id", "heard_at", "pinged_at",
                 "recent", "_dialect", "_edge", "_metrics", "_transport", "_calls",
                 "_handling", "_fragments", "_queue_full", "_bus_busy", "_reading",
                 "_outbound", "_bucket_full_at", "_throttled", "certificate")

    def __init__(self, station_id: str, version: OcppVersion, edge: EdgeContext):
        self.station_id = station_id
        self.version = version
        self.connection_id = edge.new_connection_id()
        self.heard_at = time.monotonic()  # the last frame from the station
        self.pinged_at: float | None = None  # a ping awaiting its pong (edge.liveness)
        self._dialect = dialect_of(version)
        self._edge = edge
        self._metrics = edge.metrics
        self._transport: WSTransport | None = None
        # A list, not a deque: it holds a handful (reading stops at MAX_QUEUED_CALLS),
        # and an empty deque costs 760 bytes a station where an empty list costs 56.
        self._calls: list[tuple[Frame, int]] = []
        self._handling: asyncio.Task[None] | None = None
        self._fragments: bytearray | None = None
        self._queue_full = False  # this station sent more calls than it may
        self._bus_busy = False  # the edge's publish window is full
        self._throttled = False  # this station calls faster than its rate (edge.call_rate)
        self._bucket_full_at = 0.0
        self._reading = True
        self.recent = RecentAnswers()
        self._outbound: OutboundCalls | None = None
        # Profile 3: the client certificate it connected with, for its presence record.
        self.certificate: CertificateFacts | None = None

    @property
    def outbound(self) -> OutboundCalls:
        """The CSMS-to-station calls of this connection."""
        if self._outbound is None:
            self._outbound = OutboundCalls(self._edge.nc, self.station_id, self.version,
                                           self._edge.node_id, self._dialect, self._send,
                                           self._metrics.command_outcome)
        return self._outbound

    # -- picows listener ---------------------------------------------------------------

    def peer_certificate(self) -> dict | None:
        """The client certificate TLS verified, if the listener asks for one."""
        if self._transport is None:
            return None
        return self._transport.underlying_transport.get_extra_info("peercert")

    def peer_certificate_facts(self) -> CertificateFacts | None:
        """What identifies the verified client certificate, and when it ends."""
        if self._transport is None:
            return None
        tls = self._transport.underlying_transport.get_extra_info("ssl_object")
        der = tls.getpeercert(binary_form=True) if tls is not None else None
        return facts_of(x509.load_der_x509_certificate(der)) if der else None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._transport = transport
        self._edge.connected(self)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self._outbound is not None:
            self._outbound.close(f"{self.station_id} disconnected")
        self._edge.disconnected(self)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        self.heard_at = time.monotonic()
        self.pinged_at = None  # any frame shows the station is there, a pong or not
        kind = frame.msg_type
        if kind is WSMsgType.CLOSE:
            answer_close(transport, frame)
            transport.disconnect()
            return
        if kind is WSMsgType.PING or kind is WSMsgType.PONG or transport.is_close_frame_sent:
            return
        if kind is WSMsgType.BINARY:
            # OCPP-J sends its messages in text frames only; the fragments that may
            # follow are dropped unread, the close frame being sent.
            self._fragments = None
            self._close(WSCloseCode.UNSUPPORTED_DATA, "OCPP-J messages are text, not binary")
            return
        message = self._assemble(kind, frame)
        if message is not None:
            self._take(message)

    def _assemble(self, kind: WSMsgType, frame: WSFrame) -> bytes | None:
        """A whole message, once its last fragment is in; picows limits each frame to
        the maximum size, this limits the message its fragments make."""
        if kind is WSMsgType.CONTINUATION:
            if self._fragments is None:
                self._close(WSCloseCode.PROTOCOL_ERROR, "continuation frame without a start")
                return None
            self._fragments += frame.get_payload_as_memoryview()
            if len(self._fragments) > self._edge.max_message_size:
                self._fragments = None
                self._close(WSCloseCode.MESSAGE_TOO_BIG,
                            f"message longer than {self._edge.max_message_size} bytes")
                return None
            if not frame.fin:
                return None
            message, self._fragments = bytes(self._fragments), None
            return message
        if not frame.fin:
            self._fragments = bytearray(frame.get_payload_as_memoryview())
            return None
        return frame.get_payload_as_bytes()

    # -- station-to-CSMS calls ---------------------------------------------------------

    def _take(self, message: bytes) -> None:
        try:
            decoded = decode_frame(message, self._dialect)
        except BrokenFrame as broken:
            self._metrics.frame_in(self.version, "(broken)")
            # Checked only here: the codec decodes nothing but valid UTF-8 (its scanners
            # take ASCII alone, orjson refuses the rest), so only a broken frame can be
            # text that is not text, which RFC 6455 (8.1) fails with 1007, not OCPP-J.
            if not _is_utf8(message):
                self._close(WSCloseCode.INVALID_TEXT, "a text message that is not UTF-8")
                return
            self._send_error(broken.unique_id, broken.fault, broken.description)
            return
        message_type = decoded.message_type
        if message_type == CALL:
            self._count_call()
            # A CALL names its action (decode() refuses one that does not).
            self._metrics.frame_in(self.version, decoded.action)  # type: ignore[arg-type]
            self._calls.append((decoded, hash(message)))
            if self._handling is None:
                self._handling = asyncio.create_task(self._handle_calls())
            elif len(self._calls) >= MAX_QUEUED_CALLS:
                self._queue_full = True
                self._apply_reading()
        elif message_type == SEND:
            # OCPP 2.1 SEND carries data that needs no answer, and gets none.
            self._count_call()
            self._metrics.frame_in(self.version, decoded.action)  # type: ignore[arg-type]
            log.warning("%s sent %s, which chargebus does not take yet",
                        self.station_id, decoded.action)
        else:  # CALLRESULT, CALLERROR or 2.1's CALLRESULTERROR: the answer to our call
            self._metrics.frame_in(self.version, "(answer)")
            if self._outbound is None or not self._outbound.answered(decoded):
                log.warning("%s answered call %s, which no one awaits (late or unknown)",
                            self.station_id, decoded.unique_id)

    def _count_call(self) -> None:
        rate = self._edge.call_rate
        if rate is None:
            return
        now = self.heard_at  # on_ws_frame just read the clock
        self._bucket_full_at = rate.after_call(self._bucket_full_at, now)
        if not self._throttled:
            wait = rate.wait(self._bucket_full_at, now)
            if wait:
                self._throttled = True
                self._apply_reading()
                asyncio.get_running_loop().call_later(wait, self._end_throttle, rate, now)

    def _end_throttle(self, rate: CallRate, since: float) -> None:
        now = time.monotonic()
        # Calls picows had read before the pause took tokens too: wait for those.
        wait = rate.wait(self._bucket_full_at, now)
        if wait:
            asyncio.get_running_loop().call_later(wait, self._end_throttle, rate, since)
            return
        self._metrics.throttled.inc(now - since)
        self._throttled = False
        self._apply_reading()

    async def _handle_calls(self) -> None:
        try:
            while self._calls:
                call, fingerprint = self._calls.pop(0)
                if self._queue_full and len(self._calls) < MAX_QUEUED_CALLS // 2:
                    self._queue_full = False
                    self._apply_reading()
                await self._handle(call, fingerprint)
        finally:
            self._handling = None

    async def _handle(self, call: Frame, fingerprint: int) -> None:
        assert call.action is not None and call.payload_json is not None  # a CALL has both
        repeated = self.recent.answer_to(call.unique_id, fingerprint)
        if repeated is not None:
            log.info("%s repeated call %s (%s): sending the stored answer",
                     self.station_id, call.unique_id, call.action)
            self._send(repeated)
            return
        context = CallContext(self.station_id, self.version, call.action, call.unique_id,
                              self._edge.node_id, ocpp_timestamp())
        try:
            response = await self._edge.dispatcher.answer(context, call.payload_json)
        except OcppError as error:
            self._send_error(call.unique_id, error.fault, error.description, error.details)
            return
        except Exception:
            log.exception("%s: %s %s failed", self.station_id, call.action, call.unique_id)
            self._send_error(call.unique_id, Fault.INTERNAL, "the CSMS failed to handle this call")
            return
        try:
            answer = call_result(self._dialect, call.unique_id, call.action, response)
        except InvalidOutgoing as invalid:
            log.error("%s: refusing to send an invalid answer to %s: %s",
                      self.station_id, call.action, invalid)
            self._send_error(call.unique_id, Fault.INTERNAL,
                             "the CSMS could not produce a valid answer")
            return
        self.recent.remember(call.unique_id, fingerprint, answer)
        self._metrics.frame_out(self.version, call.action)
        self._send(answer)

    # -- sending and closing -----------------------------------------------------------

    def _send_error(self, unique_id: str, fault: Fault, description: str,
                    details: dict | None = None) -> None:
        self._metrics.call_error(self.version, fault)
        self._send(call_error(self.version, unique_id, fault, description, details))

    def _send(self, message: bytes) -> None:
        if self._transport is not None and not self._transport.is_disconnected:
            self._transport.send(WSMsgType.TEXT, message)

    def pause_reading(self) -> None:
        self._bus_busy = True
        self._apply_reading()

    def resume_reading(self) -> None:
        self._bus_busy = False
        self._apply_reading()

    def _apply_reading(self) -> None:
        wanted = not (self._queue_full or self._bus_busy or self._throttled)
        if (self._transport is None or self._transport.is_disconnected
                or wanted == self._reading):
            return
        self._reading = wanted
        if wanted:
            self._transport.underlying_transport.resume_reading()
        else:
            self._transport.underlying_transport.pause_reading()

    def _close(self, code: WSCloseCode, reason: str) -> None:
        """Send the close frame and let the station answer it (on_ws_frame disconnects
        then); cutting TCP at once could reset the socket before the station reads
        why. A station that does not answer is cut off after CLOSE_GRACE_SECONDS."""
        transport = self._transport
        if transport is None or transport.is_disconnected or transport.is_close_frame_sent:
            return
        send_close(transport, code, reason)
        asyncio.get_running_loop().call_later(CLOSE_GRACE_SECONDS, transport.disconnect)

    def replace(self, reason: str, code: WSCloseCode = WSCloseCode.POLICY_VIOLATION) -> None:
        """Another connection of this station took over: close this one now."""
        if self._outbound is not None:
            self._outbound.close(reason)
        self._close(code, reason)

    def ping(self, now: float) -> None:
        if self._transport is not None and not self._transport.is_disconnected:
            self._transport.send_ping()
            self.pinged_at = now

    def hang_up(self, code: WSCloseCode, reason: str) -> None:
        """Close at once, without waiting for the station's close frame: it is mute."""
        transport = self._transport
        if transport is None or transport.is_disconnected:
            return
        if not transport.is_close_frame_sent:
            send_close(transport, code, reason)
        transport.disconnect()

    async def close(self, code: WSCloseCode, reason: str) -> None:
        """Close the socket once the calls under way are answered."""
        if self._handling is not None:
            await asyncio.wait([self._handling])
        self._close(code, reason)
        if self._transport is not None:
            await self._transport.wait_disconnected()


def _is_utf8(message: bytes) -> bool:
    try:
        message.decode("utf-8")  # strict: no surrogates, no overlong forms
    except UnicodeDecodeError:
        return False
    return True
