"""Meter samples: one row per sampled value, from any OCPP call that carries them.

The rules that turn a sampled value into a row (the specification's defaults, one unit
per measurand, what counts as a number) are here, and chargebus.clickhouse.payloads
applies the same rules in SQL where ClickHouse reads the calls itself; a test holds the
two to the same rows.
"""
import math
import re
from datetime import UTC, datetime, timedelta
from typing import ClassVar, NamedTuple

import msgspec
import orjson

from chargebus.clock import parse_timestamp
from chargebus.protocol import OcppVersion

DEFAULT_MEASURAND = "Energy.Active.Import.Register"
DEFAULT_UNIT = "Wh"
DEFAULT_CONTEXT = "Sample.Periodic"
DEFAULT_LOCATION = "Outlet"

# The actions whose payloads carry meter values, per version.
METER_ACTIONS = {
    OcppVersion.V16: ("MeterValues", "StopTransaction"),
    OcppVersion.V201: ("MeterValues", "TransactionEvent"),
    OcppVersion.V21: ("MeterValues", "TransactionEvent"),
}


def meter_action_names() -> list[str]:
    """Every action that carries meter values, in any version: one consumer each."""
    return sorted({action for actions in METER_ACTIONS.values() for action in actions})


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
_DECIMAL = re.compile(DECIMAL).fullmatch

# An RFC 3339 time as OCPP writes it; ClickHouse reads these exactly as Python does
# (others, e.g. without a "T" or with a comma, the sink reads itself).
RFC3339 = (r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?"
           r"(Z|[+-][0-9]{2}:[0-9]{2})")
_RFC3339 = re.compile(RFC3339).fullmatch

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


class CallLayout(NamedTuple):
    """Where a call's meter values are in its JSON, and which version's sampled values."""

    key: str  # "meterValue", or 1.6 StopTransaction's "transactionData"
    values: str  # "1.6" (value text, unit) or "2.x" (value number, unitOfMeasure)


class Placement(NamedTuple):
    """Where a call's samples were taken, as far as its payload tells."""

    evse_id: int | None
    connector_id: int
    transaction_id: str


# What the sink reads of each call that carries meter values, decoded by msgspec straight
# from the JSON the station sent: no dict per sampled value, the defaults of the
# specification filled in, every other field skipped. The edge validated the payload
# against its schema; what does not fit these types raises msgspec.ValidationError, a
# ValueError (chargebus.consumers.UNUSABLE).
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
    meter_value: list[MeterValue16] = msgspec.field(default_factory=list,
                                                    name="transactionData")

    def placement(self) -> Placement:
        return Placement(None, 0, str(self.transactionId))  # the start named the connector


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


MeterCall = MeterValues16 | StopTransaction16 | MeterValues2x | TransactionEvent2x

_CALL_TYPES = {
    (OcppVersion.V16, "MeterValues"): MeterValues16,
    (OcppVersion.V16, "StopTransaction"): StopTransaction16,
    (OcppVersion.V201, "MeterValues"): MeterValues2x,
    (OcppVersion.V201, "TransactionEvent"): TransactionEvent2x,
    (OcppVersion.V21, "MeterValues"): MeterValues2x,
    (OcppVersion.V21, "TransactionEvent"): TransactionEvent2x,
}
_DECODERS = {key: msgspec.json.Decoder(call_type) for key, call_type in _CALL_TYPES.items()}


def meter_call(version: OcppVersion, action: str, payload: bytes | dict) -> MeterCall:
    """The meter-relevant part of a call, from its JSON text or an already parsed dict."""
    if not isinstance(payload, dict):
        call = strict_meter_call(version, action, payload)
        if call is not None:
            return call
        # JSON Schema (draft 6, OCPP 2.x) takes 1.0 for an integer; msgspec's strict
        # decoding does not, its lenient conversion does.
        payload = orjson.loads(payload)
    call_type = _CALL_TYPES.get((version, action))
    if call_type is None:
        raise ValueError(f"{version.value} {action} carries no meter values")
    return msgspec.convert(payload, call_type, strict=False)


def strict_meter_call(version: OcppVersion, action: str, payload: bytes) -> MeterCall | None:
    """The call where its JSON has exactly the types of the specification; None where
    only a lenient reading takes it (meter_call does that)."""
    decoder = _DECODERS.get((version, action))
    if decoder is None:
        raise ValueError(f"{version.value} {action} carries no meter values")
    try:
        return decoder.decode(payload)
    except msgspec.ValidationError:
        return None


def placement(version: OcppVersion, action: str, payload: bytes | dict) -> Placement:
    return meter_call(version, action, payload).placement()


def samples(station_id: str, version: OcppVersion, action: str, payload: bytes | dict,
            where: Placement) -> list[Sample]:
    """The samples of a call; ``where`` comes from placement(), completed by the caller
    where the payload leaves the EVSE out (1.6 StopTransaction, later TransactionEvents)."""
    columns = SampleColumns()
    columns.add(station_id, meter_call(version, action, payload), where, "", 0)
    return [Sample(*row[:len(Sample._fields)]) for row in zip(*columns.lists.values())]


class SampleColumns:
    """Samples the way ClickHouse takes them: one list per column (SAMPLE_COLUMNS).

    The sink appends every call of a batch here and inserts the lists at once; building
    a tuple per sample first cost it more than the insert.
    """

    NAMES = Sample._fields + ("site", "stream_seq")

    def __init__(self) -> None:
        self.lists: dict[str, list] = {name: [] for name in self.NAMES}
        self._per_sample = [self.lists[name] for name in (
            "timestamp_ms", "measurand", "phase", "location", "context", "unit", "value",
            "raw_value")]
        self._per_call = [self.lists[name] for name in (
            "station_id", "evse_id", "connector_id", "transaction_id", "site", "stream_seq")]
        self._timestamps: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.lists["station_id"])

    def add(self, station_id: str, call: MeterCall, where: Placement, site: str,
            stream_seq: int) -> int:
        """Appends the call's samples and returns how many; a call that cannot be read
        raises (chargebus.consumers.UNUSABLE) and leaves the lists as they were."""
        before = len(self)
        try:
            if isinstance(call, (MeterValues16, StopTransaction16)):
                count = self._add_samples_16(call.meter_value)
            else:
                count = self._add_samples_2x(call.meter_value)
        except BaseException:
            for column in self.lists.values():
                del column[before:]
            raise
        for column, value in zip(self._per_call, (
                station_id, where.evse_id or 0, where.connector_id, where.transaction_id,
                site, stream_seq)):
            column.extend([value] * count)
        return count

    def _add_samples_16(self, meter_values: list[MeterValue16]) -> int:
        (times, measurands, phases, locations, contexts, units, values,
         raw_values) = self._per_sample
        normal_units = NORMAL_UNITS
        count = 0
        for meter_value in meter_values:
            timestamp_ms = self._milliseconds(meter_value.timestamp)
            for sampled in meter_value.sampledValue:
                text = sampled.value
                unit = sampled.unit
                if _DECIMAL(text):
                    value = float(text)
                    raw = text if sampled.format == "SignedData" else ""
                else:  # signed data, or what is no number, is kept as sent
                    value = math.nan
                    raw = text
                if unit in normal_units:
                    factor, unit = normal_units[unit]
                    value *= factor
                times.append(timestamp_ms)
                measurands.append(sampled.measurand)
                phases.append(sampled.phase)
                locations.append(sampled.location)
                contexts.append(sampled.context)
                units.append(unit)
                values.append(value)
                raw_values.append(raw)
                count += 1
        return count

    def _add_samples_2x(self, meter_values: list[MeterValue2x]) -> int:
        """2.x: a number, times 10 to the multiplier; signed meter data rides beside it."""
        (times, measurands, phases, locations, contexts, units, values,
         raw_values) = self._per_sample
        normal_units = NORMAL_UNITS
        count = 0
        for meter_value in meter_values:
            timestamp_ms = self._milliseconds(meter_value.timestamp)
            for sampled in meter_value.sampledValue:
                value = sampled.value
                unit_of_measure = sampled.unitOfMeasure
                if unit_of_measure is None:
                    unit = DEFAULT_UNIT
                else:
                    unit = unit_of_measure.unit
                    value *= power_of_ten(unit_of_measure.multiplier)
                if unit in normal_units:
                    factor, unit = normal_units[unit]
                    value *= factor
                signed = sampled.signedMeterValue
                times.append(timestamp_ms)
                measurands.append(sampled.measurand)
                phases.append(sampled.phase)
                locations.append(sampled.location)
                contexts.append(sampled.context)
                units.append(unit)
                values.append(value)
                raw_values.append("" if signed is None else signed.signedMeterData)
                count += 1
        return count

    def _milliseconds(self, timestamp: str) -> int:
        """Stations sampling on the clock send the same few timestamps; each is read once."""
        milliseconds = self._timestamps.get(timestamp)
        if milliseconds is None:
            milliseconds = (parse_timestamp(timestamp) - _EPOCH) // _MILLISECOND
            self._timestamps[timestamp] = milliseconds
        return milliseconds


def power_of_ten(exponent: int) -> float:
    """10 to a 2.x multiplier, rounded once as the decimal literal is (10.0 ** n is not
    always, and raises where it overflows): ClickHouse computes it the same way."""
    power = _POWERS_OF_TEN.get(exponent)
    if power is None:
        power = float(f"1e{exponent}")
    return power


_POWERS_OF_TEN = {exponent: float(f"1e{exponent}") for exponent in range(-12, 13)}


class CallColumns:
    """Calls of one layout the way ClickHouse reads their samples itself
    (chargebus.clickhouse.payloads): a row per call, with its JSON as the station sent it.

    Python then neither walks the sampled values nor hands ClickHouse a list entry per
    sample and column, which cost the sink's event loop and, holding the GIL, chdb's
    insert more than everything else of a meter message.
    """

    NAMES = ("station_id", "evse_id", "connector_id", "transaction_id", "site", "stream_seq",
             "payload", "sample_count")

    def __init__(self) -> None:
        self.lists: dict[str, list] = {name: [] for name in self.NAMES}
        self._columns = tuple(self.lists.values())
        # The type of each call, not the call: a batch's decoded calls kept alive made
        # Python's garbage collector cost more than decoding them.
        self._types: list[type[MeterCall]] = []
        self._readable_times: set[str] = set()

    def __len__(self) -> int:
        return len(self.lists["station_id"])

    def add(self, station_id: str, call: MeterCall, where: Placement, site: str,
            stream_seq: int, payload: bytes) -> bool:
        """Adds the call where ClickHouse makes the same rows of it as SampleColumns;
        False where it would not, because a time is not written as RFC 3339 (ClickHouse
        and Python read other forms differently). A time that is no time raises
        ValueError.

        The call's number of samples goes with it: ClickHouse refuses the insert where
        it finds another (chargebus.clickhouse.payloads)."""
        count = 0
        for meter_value in call.meter_value:
            timestamp = meter_value.timestamp
            if timestamp not in self._readable_times:
                parse_timestamp(timestamp)
                if not _RFC3339(timestamp):
                    return False
                self._readable_times.add(timestamp)
            count += len(meter_value.sampledValue)
        for column, value in zip(self._columns, (
                station_id, where.evse_id or 0, where.connector_id, where.transaction_id,
                site, stream_seq, payload.decode(), count)):
            column.append(value)
        self._types.append(type(call))
        return True

    def add_samples_to(self, samples: "SampleColumns") -> None:
        """The calls' samples, made here rather than by ClickHouse."""
        lists = self.lists
        for index, call_type in enumerate(self._types):
            call = msgspec.json.decode(lists["payload"][index], type=call_type)
            samples.add(lists["station_id"][index], call,
                        Placement(lists["evse_id"][index], lists["connector_id"][index],
                                  lists["transaction_id"][index]),
                        lists["site"][index], lists["stream_seq"][index])


# Kilo-units become their base unit, so that a measurand has one unit in the table.
NORMAL_UNITS = {"kWh": (1000.0, "Wh"), "kW": (1000.0, "W"), "kvarh": (1000.0, "varh"),
                "kvar": (1000.0, "var"), "kVA": (1000.0, "VA")}
