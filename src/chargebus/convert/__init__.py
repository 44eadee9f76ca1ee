"""Each OCPP version's payloads to and from chargebus.model.

One module per version with the same functions (``v16``, ``v201``); OCPP 2.1 uses
``v201``: the messages chargebus reads and writes differ between them only by optional
fields, and every payload is validated against its own version's schema first.
"""
from types import ModuleType

from chargebus.convert import v16, v201
from chargebus.protocol import OcppVersion

_BY_VERSION = {OcppVersion.V16: v16, OcppVersion.V201: v201, OcppVersion.V21: v201}


def converter(version: OcppVersion) -> ModuleType:
    return _BY_VERSION[version]
