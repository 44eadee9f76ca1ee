"""OCPP-J frame envelope: decoding station frames and encoding chargebus frames.

This is the single source of two builds: imported as is, it is the pure-Python twin;
``frame_c.py`` is a link to it that Cython compiles with the C types of ``frame_c.pxd``.
Write only code whose meaning is the same in both builds.

A decoded frame is checked for its envelope only (array shape, element types, unique
id); schema validation of the payload is a separate step.
"""
from orjson import JSONDecodeError, dumps, loads

__all__ = (
    "CALL", "CALLRESULT", "CALLERROR", "CALLRESULTERROR", "SEND", "MAX_UNIQUE_ID_LENGTH",
    "RPC_FRAMEWORK", "MESSAGE_TYPE", "FORMAT", "FrameError", "Frame", "decode",
    "encode_call", "encode_call_result", "encode_call_error",
)

CALL = 2
CALLRESULT = 3
CALLERROR = 4
CALLRESULTERROR = 5
SEND = 6

MAX_UNIQUE_ID_LENGTH = 36

# What went wrong, independent of OCPP version; chargebus.protocol.errors maps each
# kind to the CALLERROR code name of the negotiated version.
RPC_FRAMEWORK = "rpc_framework"  # not a JSON array, or its unique id cannot be read
MESSAGE_TYPE = "message_type"  # a message type number that OCPP-J does not define
FORMAT = "format"  # a known message type whose elements are of the wrong shape


class FrameError(Exception):
    """A frame that cannot be taken as OCPP-J. ``unique_id`` is None when unreadable."""

    def __init__(self, kind, unique_id, description):
        Exception.__init__(self, description)
        self.kind = kind
        self.unique_id = unique_id
        self.description = description


class Frame:
    """One decoded OCPP-J message.

    ``action`` is set for CALL and SEND, ``payload`` for CALL, CALLRESULT and SEND;
    the ``error_*`` fields for CALLERROR and CALLRESULTERROR.
    """

    def __init__(self, message_type, unique_id, action, payload,
                 error_code, error_description, error_details):
        self.message_type = message_type
        self.unique_id = unique_id
        self.action = action
        self.payload = payload
        self.error_code = error_code
        self.error_description = error_description
        self.error_details = error_details

    def __repr__(self):
        return (f"Frame({self.message_type}, {self.unique_id!r}, {self.action!r}, "
                f"{self.payload!r}, {self.error_code!r})")


def decode(data):
    """Decode one WebSocket text message (bytes or str) into a Frame, or raise FrameError."""
    try:
        message = loads(data)
    except JSONDecodeError:
        raise FrameError(RPC_FRAMEWORK, None, "frame is not valid JSON")
    if type(message) is not list:
        raise FrameError(RPC_FRAMEWORK, None, "frame is not a JSON array")
    length = len(message)
    if length < 3:
        raise FrameError(RPC_FRAMEWORK, None, "frame has fewer than 3 elements")
    unique_id = _read_unique_id(message[1])
    message_type = message[0]
    if type(message_type) is not int:
        raise FrameError(RPC_FRAMEWORK, unique_id, "message type is not an integer")

    if message_type == CALL or message_type == SEND:
        _expect_length(message, 4, unique_id)
        action = message[2]
        if type(action) is not str:
            raise FrameError(FORMAT, unique_id, "action is not a string")
        payload = message[3]
        if type(payload) is not dict:
            raise FrameError(FORMAT, unique_id, "payload is not a JSON object")
        return Frame(message_type, unique_id, action, payload, None, None, None)

    if message_type == CALLRESULT:
        _expect_length(message, 3, unique_id)
        payload = message[2]
        if type(payload) is not dict:
            raise FrameError(FORMAT, unique_id, "payload is not a JSON object")
        return Frame(message_type, unique_id, None, payload, None, None, None)

    if message_type == CALLERROR or message_type == CALLRESULTERROR:
        _expect_length(message, 5, unique_id)
        error_code = message[2]
        error_description = message[3]
        error_details = message[4]
        if type(error_code) is not str:
            raise FrameError(FORMAT, unique_id, "error code is not a string")
        if type(error_description) is not str:
            raise FrameError(FORMAT, unique_id, "error description is not a string")
        if type(error_details) is not dict:
            raise FrameError(FORMAT, unique_id, "error details is not a JSON object")
        return Frame(message_type, unique_id, None, None,
                     error_code, error_description, error_details)

    raise FrameError(MESSAGE_TYPE, unique_id, f"message type {message_type} is not defined")


def _read_unique_id(candidate):
    if type(candidate) is not str:
        raise FrameError(RPC_FRAMEWORK, None, "unique id is not a string")
    if len(candidate) > MAX_UNIQUE_ID_LENGTH:
        raise FrameError(RPC_FRAMEWORK, None,
                         f"unique id is longer than {MAX_UNIQUE_ID_LENGTH} characters")
    return candidate


def _expect_length(message, expected, unique_id):
    if len(message) != expected:
        raise FrameError(FORMAT, unique_id,
                         f"message type {message[0]} takes {expected} elements, not {len(message)}")


def encode_call(unique_id, action, payload):
    return dumps([CALL, unique_id, action, payload])


def encode_call_result(unique_id, payload):
    return dumps([CALLRESULT, unique_id, payload])


def encode_call_error(unique_id, error_code, description, details):
    return dumps([CALLERROR, unique_id, error_code, description, details])
