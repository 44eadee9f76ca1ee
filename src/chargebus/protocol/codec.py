"""OCPP-J frames for a given version, over the compiled envelope codec of chargebus_core."""
from chargebus_core.frame import (CALL, CALLERROR, CALLRESULT, Frame, FrameError, decode,
                                  encode_call_error, encode_call_result)

from chargebus.protocol.errors import UNREADABLE_UNIQUE_ID, Fault, error_code
from chargebus.protocol.versions import OcppVersion

__all__ = ["CALL", "CALLERROR", "CALLRESULT", "BrokenFrame", "Frame", "call_error",
           "call_result", "decode_frame"]

MAX_ERROR_DESCRIPTION = 255  # OCPP 2.x: ErrorDescription is at most 255 characters


class BrokenFrame(Exception):
    """A frame that is no OCPP-J message; answer it with call_error()."""

    def __init__(self, unique_id: str, fault: Fault, description: str):
        super().__init__(description)
        self.unique_id = unique_id
        self.fault = fault
        self.description = description


def decode_frame(data: bytes | str) -> Frame:
    try:
        return decode(data)
    except FrameError as error:
        raise BrokenFrame(error.unique_id or UNREADABLE_UNIQUE_ID, Fault(error.kind),
                          error.description) from None


def call_result(unique_id: str, payload: dict) -> bytes:
    return encode_call_result(unique_id, payload)


def call_error(version: OcppVersion, unique_id: str, fault: Fault, description: str,
               details: dict | None = None) -> bytes:
    return encode_call_error(unique_id, error_code(version, fault),
                             description[:MAX_ERROR_DESCRIPTION], details or {})
