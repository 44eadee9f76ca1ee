"""OCPP-J frames: decoding and validating what stations send, encoding and validating
what chargebus sends.

This is the single source of two builds: imported as is, it is the pure-Python twin;
``frame_c.py`` is a link to it that Cython compiles with the C types of ``frame_c.pxd``.
Each build uses the schema validators and scanners of its own kind (``schemas_<v>_c``,
``scanners_<v>_c`` or ``_py``). Write only code whose meaning is the same in both builds.

The compiled build first reads a CALL or SEND with the scanner of its version, which
validates the frame in place and keeps the payload as the station sent it (what the
edge forwards); ``Frame.payload`` parses that text when first asked. Whatever the
scanner is not sure of, it leaves to orjson and the validators, which decide and word
the error. The pure-Python build goes there at once: a scanner in Python costs more
than it saves (both builds of the scanners are tested all the same).
"""
from importlib import import_module

from orjson import JSONDecodeError, dumps, loads

from chargebus_core.errors import (FORMAT, MESSAGE_TYPE, NOT_IMPLEMENTED, RPC_FRAMEWORK,
                                   FrameError, SchemaViolation)

__all__ = (
    "CALL", "CALLRESULT", "CALLERROR", "CALLRESULTERROR", "SEND", "MAX_UNIQUE_ID_LENGTH",
    "DIALECTS", "Dialect", "Frame", "decode", "validate_response", "encode_call",
    "encode_call_result", "encode_call_error",
)

CALL = 2
CALLRESULT = 3
CALLERROR = 4
CALLRESULTERROR = 5
SEND = 6
# decode() compares message types with these numbers written out: Cython compiles a
# comparison with a literal to a C test, one with a module constant to a Python call.

MAX_UNIQUE_ID_LENGTH = 36

_BUILD = "c" if __name__.endswith("_c") else "py"
_SCANS = _BUILD == "c"


class Dialect:
    """One OCPP version as the wire sees it: its message types and the validators and
    scanner of its actions."""

    def __init__(self, name, version, has_send):
        schemas = import_module(f"chargebus_core.schemas_{version}_{_BUILD}")
        self.name = name
        self.requests = schemas.REQUESTS
        self.responses = schemas.RESPONSES
        self.validate_request = schemas.validate_request
        self.scan_call = import_module(f"chargebus_core.scanners_{version}_{_BUILD}").scan_call
        self.has_send = has_send  # OCPP 2.1: CALLRESULTERROR and SEND

    def __repr__(self):
        return f"Dialect({self.name!r})"


DIALECTS = {
    "ocpp1.6": Dialect("ocpp1.6", "v16", False),
    "ocpp2.0.1": Dialect("ocpp2.0.1", "v201", False),
    "ocpp2.1": Dialect("ocpp2.1", "v21", True),
}


class Frame:
    """One decoded OCPP-J message.

    ``action`` is set for CALL and SEND, ``payload`` for CALL, CALLRESULT and SEND;
    the ``error_*`` fields for CALLERROR and CALLRESULTERROR. Made by decode() only.
    """

    @property
    def payload(self):
        """The payload as Python objects, parsed from ``payload_json`` when first asked."""
        if self._payload is None and self._payload_json is not None:
            self._payload = loads(self._payload_json)
        return self._payload

    @property
    def payload_json(self):
        """The payload as JSON text: as the station sent it when the scanner read the
        frame, else written from ``payload``."""
        if self._payload_json is None and self._payload is not None:
            self._payload_json = dumps(self._payload)
        return self._payload_json

    def __repr__(self):
        return (f"Frame({self.message_type}, {self.unique_id!r}, {self.action!r}, "
                f"{self.payload!r}, {self.error_code!r})")


def _frame(message_type, unique_id, action, payload, payload_json, error_code,
           error_description, error_details):
    # Frame.__new__ skips the argument parsing a constructor call would cost.
    frame: Frame = Frame.__new__(Frame)
    frame.message_type = message_type
    frame.unique_id = unique_id
    frame.action = action
    frame._payload = payload
    frame._payload_json = payload_json
    frame.error_code = error_code
    frame.error_description = error_description
    frame.error_details = error_details
    return frame


def decode(data, dialect):
    """Decode one WebSocket text message (bytes or str) of a station speaking
    ``dialect`` into a Frame, or raise FrameError. The payload of a CALL or SEND is
    validated against its schema; that of a CALLRESULT needs the action of the call it
    answers: validate_response()."""
    if _SCANS and (type(data) is bytes or type(data) is str):
        # surrogatepass: a lone surrogate becomes bytes the scanner leaves to orjson.
        scanned = dialect.scan_call(
            data if type(data) is bytes else data.encode("utf-8", "surrogatepass"),
            dialect.has_send)
        if scanned is not None:
            return _frame(scanned[0], scanned[1], scanned[2], None, scanned[3],
                          None, None, None)
    try:
        message = loads(data)
    except JSONDecodeError:
        raise FrameError(RPC_FRAMEWORK, None, "frame is not valid JSON")
    if type(message) is not list:
        raise FrameError(RPC_FRAMEWORK, None, "frame is not a JSON array")
    if len(message) < 3:
        raise FrameError(RPC_FRAMEWORK, None, "frame has fewer than 3 elements")
    unique_id = _read_unique_id(message[1])
    message_type = message[0]
    if type(message_type) is not int:
        raise FrameError(RPC_FRAMEWORK, unique_id, "message type is not an integer")

    if message_type == 2 or (message_type == 6 and dialect.has_send):  # CALL, SEND
        _expect_length(message, 4, unique_id)
        action = message[2]
        if type(action) is not str:
            raise FrameError(FORMAT, unique_id, "action is not a string")
        payload = message[3]
        if type(payload) is not dict:
            raise FrameError(FORMAT, unique_id, "payload is not a JSON object")
        try:
            unknown = dialect.validate_request(action, payload)
        except SchemaViolation as violation:
            raise FrameError(violation.kind, unique_id, f"{action}: {violation}")
        if unknown:
            raise FrameError(NOT_IMPLEMENTED, unique_id,
                             f"{action} is not an action of {dialect.name}")
        return _frame(message_type, unique_id, action, payload, None, None, None, None)

    if message_type == 3:  # CALLRESULT
        _expect_length(message, 3, unique_id)
        payload = message[2]
        if type(payload) is not dict:
            raise FrameError(FORMAT, unique_id, "payload is not a JSON object")
        return _frame(message_type, unique_id, None, payload, None, None, None, None)

    # CALLERROR, and 2.1's CALLRESULTERROR
    if message_type == 4 or (message_type == 5 and dialect.has_send):
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
        return _frame(message_type, unique_id, None, None, None,
                      error_code, error_description, error_details)

    raise FrameError(MESSAGE_TYPE, unique_id,
                     f"message type {message_type} is not part of {dialect.name}")


def validate_response(dialect, action, payload):
    """Check the payload of a CALLRESULT that answers a call of ``action``."""
    _validate(dialect.responses, dialect, action, payload, "response")


def _validate(validators, dialect, action, payload, what):
    validator = validators.get(action)
    if validator is None:
        raise FrameError(NOT_IMPLEMENTED, None, f"{action} is not an action of {dialect.name}")
    if type(payload) is not dict:
        raise FrameError(FORMAT, None, f"{action} {what}: payload is not a JSON object")
    try:
        validator(payload)
    except SchemaViolation as violation:
        raise FrameError(violation.kind, None, f"{action} {what}: {violation}")


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


def encode_call(dialect, unique_id, action, payload):
    """A CALL frame; FrameError if the payload breaks the action's request schema."""
    _validate(dialect.requests, dialect, action, payload, "request")
    return dumps([CALL, unique_id, action, payload])


def encode_call_result(dialect, unique_id, action, payload):
    """A CALLRESULT frame; FrameError if the payload breaks the action's response schema."""
    _validate(dialect.responses, dialect, action, payload, "response")
    return dumps([CALLRESULT, unique_id, payload])


def encode_call_error(unique_id, error_code, description, details):
    return dumps([CALLERROR, unique_id, error_code, description, details])
