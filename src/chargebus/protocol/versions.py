"""The OCPP versions chargebus speaks and the actions each defines.

The actions of a version are the message schemas the OCA publishes for it, as shipped
in the ``ocpp`` package; a name there is an action the version knows.
"""
import enum
import functools
from importlib import resources


class OcppVersion(enum.StrEnum):
    """A version, named by its WebSocket subprotocol."""

    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"
    V21 = "ocpp2.1"

    @property
    def schema_package(self) -> str:
        return _SCHEMA_PACKAGES[self]

    @property
    def is_2x(self) -> bool:
        return self is not OcppVersion.V16


_SCHEMA_PACKAGES = {
    OcppVersion.V16: "v16",
    OcppVersion.V201: "v201",
    OcppVersion.V21: "v21",
}


@functools.cache
def known_actions(version: OcppVersion) -> frozenset[str]:
    """Every action the version defines, in either direction."""
    schemas = resources.files("ocpp") / version.schema_package / "schemas"
    names = {entry.name.removesuffix(".json") for entry in schemas.iterdir()
             if entry.name.endswith(".json")}
    # 1.6 names requests plainly; 2.x adds "Request", except for 2.1's SEND-only
    # messages (NotifyPeriodicEventStream), which have no response and no suffix.
    return frozenset(name.removesuffix("Request") for name in names
                     if not name.endswith("Response"))
