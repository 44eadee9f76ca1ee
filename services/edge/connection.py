"""One station's WebSocket: frames in, answers out, calls handled in the order sent.

Frame lifetime: picows hands a WSFrame that is valid only inside on_ws_frame, so its
payload is copied out and decoded there, before anything is awaited.
"""
import asyncio
import logging
from collections import deque

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from chargebus.clock import ocpp_timestamp
from chargebus.events import CallContext
from chargebus.protocol import Fault, OcppError, OcppVersion
from chargebus.protocol.codec import (CALL, CALLERROR, CALLRESULT, SEND, BrokenFrame, Frame,
                                      InvalidOutgoing, call_error, call_result, decode_frame,
                                      dialect_of)

log = logging.getLogger(__name__)


class StationConnection(WSListener):
    def __init__(self, station_id: str, version: OcppVersion, edge):
        self.station_id = station_id
        self.version = version
        self._dialect = dialect_of(version)
        self._edge = edge
        self._transport: WSTransport | None = None
        self._calls: deque[Frame] = deque()
        self._handling: asyncio.Task | None = None
        self._fragments: bytearray | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._transport = transport
        self._edge.connected(self)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._edge.disconnected(self)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            return
        if kind is WSMsgType.PING or kind is WSMsgType.PONG:
            return
        message = self._assemble(kind, frame)
        if message is not None:
            self._take(message)

    def _assemble(self, kind: WSMsgType, frame: WSFrame) -> bytes | None:
        """A whole message, once its last fragment is in."""
        if kind is WSMsgType.CONTINUATION:
            if self._fragments is None:
                self._close(WSCloseCode.PROTOCOL_ERROR, "continuation frame without a start")
                return None
            self._fragments += frame.get_payload_as_memoryview()
            if not frame.fin:
                return None
            message, self._fragments = bytes(self._fragments), None
            return message
        if not frame.fin:
            self._fragments = bytearray(frame.get_payload_as_memoryview())
            return None
        return frame.get_payload_as_bytes()

    def _take(self, message: bytes) -> None:
        try:
            decoded = decode_frame(message, self._dialect)
        except BrokenFrame as broken:
            self._send_error(broken.unique_id, broken.fault, broken.description)
            return
        if decoded.message_type == CALL:
            self._calls.append(decoded)
            if self._handling is None:
                self._handling = asyncio.create_task(self._handle_calls())
        elif decoded.message_type == CALLRESULT or decoded.message_type == CALLERROR:
            # chargebus has sent this station no call yet, so nothing awaits an answer;
            # OCPP allows no reply to a reply.
            log.warning("%s answered call %s that chargebus never made",
                        self.station_id, decoded.unique_id)
        elif decoded.message_type == SEND:
            # OCPP 2.1 SEND carries data that needs no answer, and gets none.
            log.warning("%s sent %s, which chargebus does not take yet",
                        self.station_id, decoded.action)
        else:  # a CALLRESULTERROR, to a call chargebus never made
            log.warning("%s reported an error on call %s that chargebus never made",
                        self.station_id, decoded.unique_id)

    async def _handle_calls(self) -> None:
        try:
            while self._calls:
                await self._handle(self._calls.popleft())
        finally:
            self._handling = None

    async def _handle(self, call: Frame) -> None:
        context = CallContext(self.station_id, self.version, call.action, call.unique_id,
                              self._edge.node_id, ocpp_timestamp())
        try:
            response = await self._edge.dispatcher.answer(context, call.payload)
        except OcppError as error:
            self._send_error(call.unique_id, error.fault, error.description, error.details)
        except Exception:
            log.exception("%s: %s %s failed", self.station_id, call.action, call.unique_id)
            self._send_error(call.unique_id, Fault.INTERNAL, "the CSMS failed to handle this call")
        else:
            try:
                self._send(call_result(self._dialect, call.unique_id, call.action, response))
            except InvalidOutgoing as invalid:
                log.error("%s: refusing to send an invalid answer to %s: %s",
                          self.station_id, call.action, invalid)
                self._send_error(call.unique_id, Fault.INTERNAL,
                                 "the CSMS could not produce a valid answer")

    def _send_error(self, unique_id: str, fault: Fault, description: str,
                    details: dict | None = None) -> None:
        self._send(call_error(self.version, unique_id, fault, description, details))

    def _send(self, message: bytes) -> None:
        if self._transport is not None and not self._transport.is_disconnected:
            self._transport.send(WSMsgType.TEXT, message)

    def _close(self, code: WSCloseCode, reason: str) -> None:
        if self._transport is not None:
            self._transport.send_close(code, reason.encode())
            self._transport.disconnect()

    async def close(self, code: WSCloseCode, reason: str) -> None:
        """Close the socket once the calls under way are answered."""
        if self._handling is not None:
            await asyncio.wait([self._handling])
        self._close(code, reason)
        if self._transport is not None:
            await self._transport.wait_disconnected()
