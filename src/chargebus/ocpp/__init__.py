"""OCPP versions, their actions and their CALLERROR codes."""
from chargebus.ocpp.errors import Fault, OcppError, error_code
from chargebus.ocpp.versions import (OcppVersion, calls_from_stations, calls_to_stations,
                                     known_actions, max_id_token_length)

__all__ = ["Fault", "OcppError", "OcppVersion", "calls_from_stations", "calls_to_stations",
           "error_code", "known_actions", "max_id_token_length"]
