"""OCPP versions, their actions and their CALLERROR codes."""
from chargebus.protocol.errors import Fault, OcppError, error_code
from chargebus.protocol.versions import OcppVersion, known_actions

__all__ = ["Fault", "OcppError", "OcppVersion", "error_code", "known_actions"]
