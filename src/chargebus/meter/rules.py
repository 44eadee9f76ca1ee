"""Meter samples: one row per sampled value, from any OCPP call that carries them.

The rules that turn a sampled value into a row (the specification's defaults, one unit
per measurand, what counts as a number) are here, and chargebus.meter.clickhouse.payloads
applies the same rules in SQL where ClickHouse reads the calls itself; a test holds the
two to the same rows.
"""
import re
from typing import NamedTuple


DEFAULT_MEASURAND = "Energy.Active.Import.Register"
DEFAULT_UNIT = "Wh"
DEFAULT_CONTEXT = "Sample.Periodic"
DEFAULT_LOCATION = "Outlet"

class Sample(NamedTuple):
    station_id: str
    evse_id: int  # OCPP 1.6 connectorId: 1.6 connectors are 2.x EVSEs
    connector_id: int  # 2.x connector within the EVSE; 0 where not reported
    transaction_id: str  # "" outside a transaction
    timestamp_ms: int  # Unix time in milliseconds, UTC
    measurand: str
    phase: str
    location: str
    context: str
    unit: str  # one unit per measurand: Wh, W, varh, var, VA, A, V, ...
    value: float  # in that unit; NaN where the reported value is not a number
    raw_value: str  # what the station sent, where it sent signed data or no number


# A 1.6 value is "a Raw (decimal) number or SignedData": numeric where it reads as a
# decimal number (spaces around it allowed), kept as sent otherwise. Python's float()
# takes more ("1_000", "inf"), which no meter means as a number.
DECIMAL = r" *[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)? *"
is_decimal = re.compile(DECIMAL).fullmatch

# An RFC 3339 time as OCPP writes it; ClickHouse reads these exactly as Python does
# (others, e.g. without a "T" or with a comma, the sink reads itself).
RFC3339 = (r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?"
           r"(Z|[+-][0-9]{2}:[0-9]{2})")
is_rfc3339 = re.compile(RFC3339).fullmatch


class CallLayout(NamedTuple):
    """Where a call's meter values are in its JSON, and which version's sampled values."""

    key: str  # "meterValue", or 1.6 StopTransaction's "transactionData"
    values: str  # "1.6" (value text, unit) or "2.x" (value number, unitOfMeasure)


class Placement(NamedTuple):
    """Where a call's samples were taken, as far as its payload tells."""

    evse_id: int | None
    connector_id: int
    transaction_id: str


def power_of_ten(exponent: int) -> float:
    """10 to a 2.x multiplier, rounded once as the decimal literal is (10.0 ** n is not
    always, and raises where it overflows): ClickHouse computes it the same way."""
    power = _POWERS_OF_TEN.get(exponent)
    if power is None:
        power = float(f"1e{exponent}")
    return power


_POWERS_OF_TEN = {exponent: float(f"1e{exponent}") for exponent in range(-12, 13)}


# Kilo-units become their base unit, so that a measurand has one unit in the table.
NORMAL_UNITS = {"kWh": (1000.0, "Wh"), "kW": (1000.0, "W"), "kvarh": (1000.0, "varh"),
                "kvar": (1000.0, "var"), "kVA": (1000.0, "VA")}
