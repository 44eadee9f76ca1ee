"""Each OCPP version's payloads to and from chargebus.domain.model.

One module per version with the same functions (``v16.convert``, ``v2x.convert``), and
one for the operator's operations (``v16.operations``, ``v2x.operations``);
OCPP 2.0.1 and 2.1 share ``v2x``: the messages chargebus reads and writes differ between
them only by optional fields, and every payload is validated against its own version's
schema first.
"""
from types import ModuleType

from chargebus.ocpp import OcppVersion
from chargebus.ocpp.v16 import convert as v16
from chargebus.ocpp.v16 import operations as v16_operations
from chargebus.ocpp.v2x import convert as v2x
from chargebus.ocpp.v2x import operations as v2x_operations

_BY_VERSION = {OcppVersion.V16: v16, OcppVersion.V201: v2x, OcppVersion.V21: v2x}
_OPERATIONS = {OcppVersion.V16: v16_operations, OcppVersion.V201: v2x_operations,
               OcppVersion.V21: v2x_operations}


def converter(version: OcppVersion) -> ModuleType:
    return _BY_VERSION[version]


def operations_of(version: OcppVersion) -> ModuleType:
    """The version's ``request(operation)`` and ``result(operation, payload)``."""
    return _OPERATIONS[version]
