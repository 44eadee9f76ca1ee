"""Samples that ClickHouse reads itself out of the JSON the stations sent.

The sink hands over a row per call (chargebus.meter.CallColumns: the station, where the
samples were taken, the JSON) and one SELECT per layout makes a row per sampled value,
with the rules of chargebus.meter: the specification's defaults, one unit per measurand,
a 1.6 value numeric where it reads as a decimal number. The constants come from there,
and tests/test_meter_payloads.py holds both to the same rows. chdb inserts the SELECT's
rows itself; for a server, chargebus.meter.clickhouse.callreader runs the SELECT in chdb and
the server takes its rows as RowBinary.

Where ClickHouse reads a call otherwise than the sink did (another number of sampled
values, a time or value it cannot read), the whole insert stops with UNREADABLE in its
message, and the sink makes those calls' rows itself. That happens with JSON that
names a member twice: RFC 8259 leaves open which one counts, msgspec takes the last and
ClickHouse the first.
"""
from collections.abc import Iterator
from contextlib import contextmanager

from chargebus.meter.clickhouse.migrations import SAMPLE_COLUMNS
from chargebus.meter.rules import (CallLayout, DECIMAL, DEFAULT_CONTEXT, DEFAULT_LOCATION,
                                   DEFAULT_MEASURAND, DEFAULT_UNIT, NORMAL_UNITS)

UNREADABLE = "chargebus: ClickHouse cannot read a sample of these calls"

_TEXT = "Nullable(String)"
_SAMPLED_VALUE = {
    "1.6": f"Tuple(value {_TEXT}, measurand {_TEXT}, phase {_TEXT}, location {_TEXT}, "
           f"context {_TEXT}, unit {_TEXT}, format {_TEXT})",
    "2.x": f"Tuple(value Nullable(Float64), measurand {_TEXT}, phase {_TEXT}, "
           f"location {_TEXT}, context {_TEXT}, "
           f"unitOfMeasure Tuple(unit {_TEXT}, multiplier Nullable(Int64)), "
           f"signedMeterValue Tuple(signedMeterData {_TEXT}))",
}


def string_literal(text: str) -> str:
    """``text`` as a ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _normal(unit: str, value: str) -> tuple[str, str]:
    """The value in its measurand's unit, and that unit (kWh -> Wh, ...)."""
    factors = ", ".join(f"{unit} = {string_literal(name)}, {factor!r}"
                        for name, (factor, _) in NORMAL_UNITS.items())
    units = ", ".join(f"{unit} = {string_literal(name)}, {string_literal(base)}"
                      for name, (_, base) in NORMAL_UNITS.items())
    return f"{value} * multiIf({factors}, 1.0)", f"multiIf({units}, {unit})"


def _value_16() -> tuple[str, str, str]:
    """1.6: the value text; a number where it is decimal, kept as sent where it is not
    or where it is signed data."""
    text = "assumeNotNull(sampled.value)"
    numeric = f"match({text}, {string_literal('^' + DECIMAL + '$')})"
    unit = f"ifNull(sampled.unit, {string_literal(DEFAULT_UNIT)})"
    number = f"if({numeric}, toFloat64(trimBoth({text})), nan)"
    value, normal_unit = _normal(unit, number)
    raw = f"if(ifNull(sampled.format, '') = 'SignedData' OR NOT {numeric}, {text}, '')"
    return value, normal_unit, raw


def _value_2x() -> tuple[str, str, str]:
    """2.x: a number times 10 to the multiplier (the power rounded once, as
    chargebus.meter.power_of_ten has it); signed meter data rides beside it."""
    multiplier = "ifNull(sampled.unitOfMeasure.multiplier, 0)"
    power = f"if({multiplier} = 0, 1.0, toFloat64(concat('1e', toString({multiplier}))))"
    unit = f"ifNull(sampled.unitOfMeasure.unit, {string_literal(DEFAULT_UNIT)})"
    value, normal_unit = _normal(unit, f"assumeNotNull(sampled.value) * {power}")
    return value, normal_unit, "ifNull(sampled.signedMeterValue.signedMeterData, '')"


class CallsUnreadable(Exception):
    """ClickHouse could not read a sample of these calls; nothing of them was inserted."""


@contextmanager
def unreadable_refused() -> Iterator[None]:
    """ClickHouse's error from the statements here, where it stopped at UNREADABLE,
    as CallsUnreadable."""
    try:
        yield
    except Exception as error:
        if UNREADABLE in str(error):
            raise CallsUnreadable(UNREADABLE) from None
        raise


def select_samples(layout: CallLayout, calls: str, time_type: str) -> str:
    """The samples of the calls in the table expression ``calls`` (columns as
    chargebus.meter.CallColumns.NAMES), as the samples table's columns (SAMPLE_COLUMNS)
    of exactly its types, the time as ``time_type`` (a server without DateTime64 keeps
    seconds)."""
    value, unit, raw = (_value_16 if layout.values == "1.6" else _value_2x)()
    meter_values = (f"JSONExtract(payload, {string_literal(layout.key)}, "
                    f"'Array(Tuple(timestamp String, sampledValue Array("
                    f"{_SAMPLED_VALUE[layout.values]})))')")
    time = "parseDateTime64BestEffortOrNull(meter_value.timestamp, 3, 'UTC')"
    return f"""SELECT station_id, toUInt32(evse_id), toUInt32(connector_id), transaction_id,
               CAST(assumeNotNull({time}) AS {time_type}),
               ifNull(sampled.measurand, {string_literal(DEFAULT_MEASURAND)}),
               ifNull(sampled.phase, ''),
               ifNull(sampled.location, {string_literal(DEFAULT_LOCATION)}),
               ifNull(sampled.context, {string_literal(DEFAULT_CONTEXT)}),
               {unit}, {value}, {raw}, site, toUInt64(stream_seq)
        FROM (SELECT station_id, evse_id, connector_id, transaction_id, site, stream_seq,
                     {meter_values} AS meter_values
              FROM {calls}
              WHERE throwIf(length(arrayFlatten(arrayMap(m -> m.sampledValue, meter_values)))
                            != sample_count, {string_literal(UNREADABLE)}) = 0)
        ARRAY JOIN meter_values AS meter_value
        ARRAY JOIN meter_value.sampledValue AS sampled
        WHERE throwIf(isNull({time}) OR isNull(sampled.value), {string_literal(UNREADABLE)}) = 0"""


def insert_select(layout: CallLayout, samples_table: str, calls: str, time_type: str) -> str:
    """The statement that inserts the samples of the calls in ``calls``."""
    return (f"INSERT INTO {samples_table} ({', '.join(SAMPLE_COLUMNS)}) "
            f"{select_samples(layout, calls, time_type)}")
