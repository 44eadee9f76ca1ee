"""OCPP 2.0.1 and 2.1 calls that carry meter values, as the sink reads them (msgspec)."""
from typing import ClassVar

import msgspec

from chargebus.meter.rules import (DEFAULT_CONTEXT, DEFAULT_LOCATION, DEFAULT_MEASURAND,
                                    DEFAULT_UNIT, CallLayout, Placement)


class UnitOfMeasure(msgspec.Struct, frozen=True):
    unit: str = DEFAULT_UNIT
    multiplier: int = 0


class SignedMeterValue(msgspec.Struct, frozen=True):
    signedMeterData: str = ""


class SampledValue2x(msgspec.Struct, frozen=True):
    value: float
    measurand: str = DEFAULT_MEASURAND
    phase: str = ""
    location: str = DEFAULT_LOCATION
    context: str = DEFAULT_CONTEXT
    unitOfMeasure: UnitOfMeasure | None = None
    signedMeterValue: SignedMeterValue | None = None


class MeterValue2x(msgspec.Struct, frozen=True):
    timestamp: str
    sampledValue: list[SampledValue2x]


class MeterValues2x(msgspec.Struct, frozen=True):
    LAYOUT: ClassVar[CallLayout] = CallLayout("meterValue", "2.x")

    evseId: int
    meter_value: list[MeterValue2x] = msgspec.field(name="meterValue")

    def placement(self) -> Placement:
        return Placement(self.evseId, 0, "")


class Evse(msgspec.Struct, frozen=True):
    id: int
    connectorId: int = 0


class TransactionInfo(msgspec.Struct, frozen=True):
    transactionId: str


class TransactionEvent2x(msgspec.Struct, frozen=True):
    LAYOUT: ClassVar[CallLayout] = CallLayout("meterValue", "2.x")

    transactionInfo: TransactionInfo
    evse: Evse | None = None
    meter_value: list[MeterValue2x] = msgspec.field(default_factory=list, name="meterValue")

    def placement(self) -> Placement:
        evse = self.evse
        return Placement(None if evse is None else evse.id,
                         0 if evse is None else evse.connectorId,
                         self.transactionInfo.transactionId)
