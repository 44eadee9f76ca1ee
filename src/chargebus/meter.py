"""Meter samples: one row per sampled value, from any OCPP call that carries them."""
import math
from typing import NamedTuple

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


class Placement(NamedTuple):
    """Where a call's samples were taken, as far as its payload tells."""

    evse_id: int | None
    connector_id: int
    transaction_id: str


def placement(version: OcppVersion, action: str, payload: dict) -> Placement:
    if version is OcppVersion.V16:
        transaction_id = payload.get("transactionId")
        return Placement(payload.get("connectorId"), 0,
                         "" if transaction_id is None else str(transaction_id))
    if action == "TransactionEvent":
        evse = payload.get("evse") or {}
        return Placement(evse.get("id"), evse.get("connectorId", 0),
                         payload["transactionInfo"]["transactionId"])
    return Placement(payload.get("evseId"), 0, "")


def meter_values(version: OcppVersion, action: str, payload: dict) -> list:
    if version is OcppVersion.V16 and action == "StopTransaction":
        return payload.get("transactionData") or []
    return payload.get("meterValue") or []


def samples(station_id: str, version: OcppVersion, action: str, payload: dict,
            where: Placement) -> list[Sample]:
    """The samples of a call; ``where`` comes from placement(), completed by the caller
    where the payload leaves the EVSE out (1.6 StopTransaction, later TransactionEvents)."""
    columns = SampleColumns()
    columns.add(station_id, version, action, payload, where, "", 0)
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

    def add(self, station_id: str, version: OcppVersion, action: str, payload: dict,
            where: Placement, site: str, stream_seq: int) -> int:
        """Appends the call's samples and returns how many; a payload that cannot be
        read raises (chargebus.consumers.UNUSABLE) and leaves the lists as they were."""
        before = len(self)
        try:
            count = self._add_samples(version, action, payload)
        except BaseException:
            for column in self.lists.values():
                del column[before:]
            raise
        for column, value in zip(self._per_call, (
                station_id, where.evse_id or 0, where.connector_id, where.transaction_id,
                site, stream_seq)):
            column.extend([value] * count)
        return count

    def _add_samples(self, version: OcppVersion, action: str, payload: dict) -> int:
        (times, measurands, phases, locations, contexts, units, values,
         raw_values) = self._per_sample
        read_value = _value_16 if version is OcppVersion.V16 else _value_2x
        normal_units = _NORMAL_UNITS
        count = 0
        for meter_value in meter_values(version, action, payload):
            timestamp_ms = self._milliseconds(meter_value["timestamp"])
            for sampled in meter_value["sampledValue"]:
                value, unit, raw = read_value(sampled)
                if unit in normal_units:
                    factor, unit = normal_units[unit]
                    value *= factor
                get = sampled.get
                times.append(timestamp_ms)
                measurands.append(get("measurand", DEFAULT_MEASURAND))
                phases.append(get("phase", ""))
                locations.append(get("location", DEFAULT_LOCATION))
                contexts.append(get("context", DEFAULT_CONTEXT))
                units.append(unit)
                values.append(value)
                raw_values.append(raw)
                count += 1
        return count

    def _milliseconds(self, timestamp: str) -> int:
        """Stations sampling on the clock send the same few timestamps; each is read once."""
        milliseconds = self._timestamps.get(timestamp)
        if milliseconds is None:
            milliseconds = int(parse_timestamp(timestamp).timestamp() * 1000)
            self._timestamps[timestamp] = milliseconds
        return milliseconds


# Kilo-units become their base unit, so that a measurand has one unit in the table.
_NORMAL_UNITS = {"kWh": (1000.0, "Wh"), "kW": (1000.0, "W"), "kvarh": (1000.0, "varh"),
                 "kvar": (1000.0, "var"), "kVA": (1000.0, "VA")}


def _value_16(sampled: dict) -> tuple[float, str, str]:
    """1.6: the value is text; with format SignedData it is the signed blob."""
    text = sampled["value"]
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    signed = sampled.get("format") == "SignedData" or math.isnan(value)
    return value, sampled.get("unit", DEFAULT_UNIT), text if signed else ""


def _value_2x(sampled: dict) -> tuple[float, str, str]:
    """2.x: a number, times 10 to the multiplier; signed meter data rides beside it."""
    unit_of_measure = sampled.get("unitOfMeasure") or {}
    multiplier = unit_of_measure.get("multiplier", 0)
    signed = sampled.get("signedMeterValue") or {}
    return (float(sampled["value"]) * 10.0 ** multiplier,
            unit_of_measure.get("unit", DEFAULT_UNIT), signed.get("signedMeterData", ""))
