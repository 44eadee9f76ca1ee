"""OCPP 1.6 calls that carry meter values, as the sink reads them (msgspec)."""
from typing import ClassVar

import msgspec

from chargebus.meter.rules import (DEFAULT_CONTEXT, DEFAULT_LOCATION, DEFAULT_MEASURAND,
                                    DEFAULT_UNIT, CallLayout, Placement)

# What the sink reads of each call that carries meter values, decoded by msgspec straight
# from the JSON the station sent: no dict per sampled value, the defaults of the
# specification filled in, every other field skipped. The edge validated the payload
# against its schema; what does not fit these types raises msgspec.ValidationError, a
# ValueError (chargebus.bus.consumers.UNUSABLE).
class SampledValue16(msgspec.Struct, frozen=True):
    value: str  # text; with format SignedData the signed blob
    measurand: str = DEFAULT_MEASURAND
    phase: str = ""
    location: str = DEFAULT_LOCATION
    context: str = DEFAULT_CONTEXT
    unit: str = DEFAULT_UNIT
    format: str = "Raw"


class MeterValue16(msgspec.Struct, frozen=True):
    timestamp: str
    sampledValue: list[SampledValue16]


class MeterValues16(msgspec.Struct, frozen=True):
    LAYOUT: ClassVar[CallLayout] = CallLayout("meterValue", "1.6")

    connectorId: int
    meter_value: list[MeterValue16] = msgspec.field(name="meterValue")
    transactionId: int | None = None

    def placement(self) -> Placement:
        return Placement(self.connectorId, 0,
                         "" if self.transactionId is None else str(self.transactionId))


class StopTransaction16(msgspec.Struct, frozen=True):
    LAYOUT: ClassVar[CallLayout] = CallLayout("transactionData", "1.6")

    transactionId: int
    meterStop: int  # Wh: the energy register at the stop, a reading like the others
    timestamp: str
    meter_value: list[MeterValue16] = msgspec.field(default_factory=list,
                                                    name="transactionData")

    def placement(self) -> Placement:
        return Placement(None, 0, str(self.transactionId))  # the start named the connector


class StartTransaction16(msgspec.Struct, frozen=True):
    """Its meterStart is the energy register at the start (Wh); the transaction id is in
    chargebus's answer, not in the call."""

    connectorId: int
    meterStart: int
    timestamp: str
