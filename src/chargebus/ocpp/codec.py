"""OCPP-J frames of a given version, over the compiled codec of chargebus_core."""
from chargebus.ocpp.errors import UNREADABLE_UNIQUE_ID, Fault, error_code
from chargebus.ocpp.versions import OcppVersion
from chargebus_core.frame import (CALL, CALLERROR, CALLRESULT, CALLRESULTERROR, DIALECTS, SEND,
                                  Dialect, Frame, FrameError, decode, encode_call,
                                  encode_call_error, encode_call_result, validate_response)

__all__ = ["CALL", "CALLERROR", "CALLRESULT", "CALLRESULTERROR", "SEND", "BrokenFrame",
           "Dialect", "Frame", "InvalidOutgoing", "call", "call_error", "call_result",
           "check_result", "decode_frame", "dialect_of"]

MAX_ERROR_DESCRIPTION = 255  # OCPP 2.x: ErrorDescription is at most 255 characters


class BrokenFrame(Exception):
    """A frame that is no valid OCPP-J message of its version; answer it with call_error()."""

    def __init__(self, unique_id: str, fault: Fault, description: str):
        super().__init__(description)
        self.unique_id = unique_id
        self.fault = fault
        self.description = description


class InvalidOutgoing(Exception):
    """chargebus was about to send a message that breaks its schema: a bug, never sent."""


def dialect_of(version: OcppVersion) -> Dialect:
    return DIALECTS[version.value]


def decode_frame(data: bytes | str, dialect: Dialect) -> Frame:
    """A frame, its CALL payload validated; BrokenFrame tells what to answer instead."""
    try:
        return decode(data, dialect)
    except FrameError as error:
        raise BrokenFrame(error.unique_id or UNREADABLE_UNIQUE_ID, Fault(error.kind),
                          error.description) from None


def call(dialect: Dialect, unique_id: str, action: str, payload: dict) -> bytes:
    """A CSMS-to-station CALL; InvalidOutgoing if the payload breaks the request schema."""
    try:
        return encode_call(dialect, unique_id, action, payload)
    except FrameError as error:
        raise InvalidOutgoing(error.description) from None


def check_result(dialect: Dialect, action: str, payload: dict) -> None:
    """BrokenFrame if a station's CALLRESULT to ``action`` breaks the response schema."""
    try:
        validate_response(dialect, action, payload)
    except FrameError as error:
        raise BrokenFrame(UNREADABLE_UNIQUE_ID, Fault(error.kind), error.description) from None


def call_result(dialect: Dialect, unique_id: str, action: str, payload: dict) -> bytes:
    try:
        return encode_call_result(dialect, unique_id, action, payload)
    except FrameError as error:
        raise InvalidOutgoing(error.description) from None


def call_error(version: OcppVersion, unique_id: str, fault: Fault, description: str,
               details: dict | None = None) -> bytes:
    return encode_call_error(unique_id, error_code(version, fault),
                             description[:MAX_ERROR_DESCRIPTION], details or {})
