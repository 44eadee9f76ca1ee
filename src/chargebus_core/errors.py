"""The exceptions of chargebus_core, shared by the compiled and the pure build.

Kept out of the compiled modules so that both builds raise the very same classes.
"""

# What went wrong, independent of OCPP version; chargebus.protocol.errors names each
# kind the way the negotiated version spells its CALLERROR code.
RPC_FRAMEWORK = "rpc_framework"  # not a JSON array, or its unique id cannot be read
MESSAGE_TYPE = "message_type"  # a message type the version does not have
FORMAT = "format"  # elements of the wrong shape; a property the schema does not allow
NOT_IMPLEMENTED = "not_implemented"  # an action the version does not define
TYPE_CONSTRAINT = "type_constraint"
OCCURRENCE_CONSTRAINT = "occurrence_constraint"
PROPERTY_CONSTRAINT = "property_constraint"

# Schema keyword that failed -> kind, after the OCPP-J error code definitions:
# missing fields and array sizes violate occurrence constraints; a wrong JSON type, a
# string over its length (CiString20Type is a type) and a malformed date-time violate
# data type constraints; enum and range limits make a value invalid (property); a
# property the message does not have breaks the PDU structure (format).
KIND_OF_KEYWORD = {
    "required": OCCURRENCE_CONSTRAINT,
    "minItems": OCCURRENCE_CONSTRAINT,
    "maxItems": OCCURRENCE_CONSTRAINT,
    "type": TYPE_CONSTRAINT,
    "maxLength": TYPE_CONSTRAINT,
    "format": TYPE_CONSTRAINT,
    "enum": PROPERTY_CONSTRAINT,
    "minimum": PROPERTY_CONSTRAINT,
    "maximum": PROPERTY_CONSTRAINT,
    "multipleOf": PROPERTY_CONSTRAINT,
    "additionalProperties": FORMAT,
}


class FrameError(Exception):
    """A frame chargebus cannot take. ``unique_id`` is None where it could not be read."""

    def __init__(self, kind, unique_id, description):
        Exception.__init__(self, description)
        self.kind = kind
        self.unique_id = unique_id
        self.description = description


class SchemaViolation(Exception):
    """A payload that breaks its schema: the keyword that failed, and where."""

    def __init__(self, keyword, path, message):
        Exception.__init__(self, message)
        self.keyword = keyword
        self.path = path  # property names and array indexes, outermost first
        self.message = message

    @property
    def kind(self):
        return KIND_OF_KEYWORD[self.keyword]

    @property
    def location(self):
        """The path as text: meterValue[0].sampledValue[2].value"""
        text = ""
        for step in self.path:
            if type(step) is int:
                text += f"[{step}]"
            else:
                text += f".{step}" if text else step
        return text

    def __str__(self):
        return f"{self.location or 'payload'} {self.message}"
