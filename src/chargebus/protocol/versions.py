"""The OCPP versions chargebus speaks and the actions each defines."""
import enum
import functools

from chargebus_core.frame import DIALECTS


class OcppVersion(enum.StrEnum):
    """A version, named by its WebSocket subprotocol."""

    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"
    V21 = "ocpp2.1"

    @property
    def is_2x(self) -> bool:
        return self is not OcppVersion.V16


@functools.cache
def known_actions(version: OcppVersion) -> frozenset[str]:
    """Every action the version defines, in either direction: the OCA schemas the
    validators were generated from (2.1's SEND-only messages included)."""
    return frozenset(DIALECTS[version.value].requests)
