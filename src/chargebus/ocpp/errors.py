"""CALLERROR codes, named the way each OCPP version spells them."""
import enum

from chargebus.ocpp.versions import OcppVersion


class Fault(enum.Enum):
    """What went wrong, independent of version; error_code() names it per version."""

    RPC_FRAMEWORK = "rpc_framework"
    MESSAGE_TYPE = "message_type"
    FORMAT = "format"
    PROTOCOL = "protocol"
    PROPERTY_CONSTRAINT = "property_constraint"
    OCCURRENCE_CONSTRAINT = "occurrence_constraint"
    TYPE_CONSTRAINT = "type_constraint"
    NOT_IMPLEMENTED = "not_implemented"
    NOT_SUPPORTED = "not_supported"
    INTERNAL = "internal"
    SECURITY = "security"
    GENERIC = "generic"


_SAME_IN_EVERY_VERSION = {
    Fault.PROTOCOL: "ProtocolError",
    Fault.PROPERTY_CONSTRAINT: "PropertyConstraintViolation",
    Fault.TYPE_CONSTRAINT: "TypeConstraintViolation",
    Fault.NOT_IMPLEMENTED: "NotImplemented",
    Fault.NOT_SUPPORTED: "NotSupported",
    Fault.INTERNAL: "InternalError",
    Fault.SECURITY: "SecurityError",
    Fault.GENERIC: "GenericError",
}

# OCPP-J 1.6 has neither RpcFrameworkError nor MessageTypeNotSupported: a frame that
# is no RPC message at all does "not conform the PDU structure", a FormationViolation.
_V16 = _SAME_IN_EVERY_VERSION | {
    Fault.RPC_FRAMEWORK: "FormationViolation",
    Fault.MESSAGE_TYPE: "FormationViolation",
    Fault.FORMAT: "FormationViolation",
    Fault.OCCURRENCE_CONSTRAINT: "OccurenceConstraintViolation",  # sic, as 1.6 spells it
}

_V2X = _SAME_IN_EVERY_VERSION | {
    Fault.RPC_FRAMEWORK: "RpcFrameworkError",
    Fault.MESSAGE_TYPE: "MessageTypeNotSupported",
    Fault.FORMAT: "FormatViolation",
    Fault.OCCURRENCE_CONSTRAINT: "OccurrenceConstraintViolation",
}

_CODES = {OcppVersion.V16: _V16, OcppVersion.V201: _V2X, OcppVersion.V21: _V2X}

# OCPP 2.x Part 4: a CALLERROR for a message whose id cannot be read carries "-1".
# OCPP-J 1.6 says nothing; chargebus answers the same way.
UNREADABLE_UNIQUE_ID = "-1"


def error_code(version: OcppVersion, fault: Fault) -> str:
    return _CODES[version][fault]


class OcppError(Exception):
    """Raised by a handler to answer a call with a CALLERROR."""

    def __init__(self, fault: Fault, description: str, details: dict | None = None):
        super().__init__(description)
        self.fault = fault
        self.description = description
        self.details = details or {}
