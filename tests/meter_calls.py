"""Meter calls drawn at random (hypothesis), and the check that ClickHouse reading their
JSON (chargebus.meter.clickhouse.payloads) stores the rows the sink makes in Python
(chargebus.meter.SampleColumns): tests/test_meter_payloads*.py."""
import itertools
import struct

import orjson
import pytest
from hypothesis import assume, event
from hypothesis import strategies as st

from chargebus.meter.calls import strict_meter_call
from chargebus.meter.columns import CallColumns, SampleColumns
from chargebus.ocpp import OcppVersion
from chargebus.services.sink.store import CallsUnreadable, MeterStore
from chargebus.state.identifiers import MAX_STATION_ID_LENGTH

MEASURANDS = ["Energy.Active.Import.Register", "Power.Active.Import", "Voltage",
              "Current.Import", "SoC"]
UNITS = ["Wh", "kWh", "W", "kW", "varh", "kvarh", "var", "kvar", "VA", "kVA", "A", "V",
         "Percent", "Celsius"]
ODD_TEXT = st.text(max_size=12)  # quotes, backslashes, control and non-ASCII characters

decimal_text = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.from_regex(r"\A *[+-]?[0-9]{1,25}(\.[0-9]{0,25})?([eE][+-]?[0-9]{1,3})? *\Z"),
    st.from_regex(r"\A[+-]?\.[0-9]{1,20}\Z"),
)
no_number_text = st.one_of(
    st.sampled_from(["", "abc", "1_000", "inf", "-Infinity", "nan", "0x10", "1e", ". ",
                     "\t12", "12\n", "OCMF|{\"RD\":[{\"RV\":1.2}]}|{\"SD\":\"30\"}"]),
    ODD_TEXT,
)


def timestamps(days):
    return st.builds(
        lambda day, hour, minute, second, fraction, offset: (
            f"{day}T{hour:02d}:{minute:02d}:{second:02d}{fraction}{offset}"),
        days.map(str),
        st.integers(0, 23), st.integers(0, 59), st.integers(0, 59),
        st.one_of(st.just(""), st.from_regex(r"\A\.[0-9]{1,9}\Z")),
        st.sampled_from(["Z", "+00:00", "-00:00", "+05:30", "-08:00", "+14:00", "-12:00"]),
    )


# Times Python reads and ClickHouse reads otherwise or not at all: the sink reads them.
OTHER_TIMES = ["2026-01-02 03:04:05Z", "2026-01-02T03:04:05", "2026-01-02",
               "2026-01-02T03:04:05,5Z", "20260102T030405Z", "2026-01-02T03:04:05+0100"]


def optional(**fields):
    """A dict where each field may be left out."""
    return st.fixed_dictionaries({}, optional=fields)


sampled_16 = st.tuples(
    st.one_of(decimal_text, no_number_text),
    optional(measurand=st.sampled_from(MEASURANDS) | ODD_TEXT,
             phase=st.sampled_from(["L1", "L2-N", "N"]), location=st.sampled_from(["Inlet"]),
             context=st.sampled_from(["Transaction.Begin", "Trigger"]),
             unit=st.sampled_from(UNITS) | ODD_TEXT,
             format=st.sampled_from(["Raw", "SignedData"])),
).map(lambda parts: {"value": parts[0]} | parts[1])

number_2x = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(-(2 ** 63), 2 ** 64 - 1),
    st.just(-0.0),
)
sampled_2x = st.tuples(
    number_2x,
    optional(measurand=st.sampled_from(MEASURANDS) | ODD_TEXT,
             phase=st.sampled_from(["L1", "L3-N"]), location=st.sampled_from(["EV"]),
             context=st.sampled_from(["Sample.Clock"]),
             unitOfMeasure=optional(unit=st.sampled_from(UNITS) | ODD_TEXT,
                                    multiplier=st.integers(-3, 3) | st.integers(-400, 400)),
             signedMeterValue=optional(signedMeterData=ODD_TEXT,
                                       encodingMethod=st.just("OCMF"))),
).map(lambda parts: {"value": parts[0]} | parts[1])


def meter_values(sampled, days):
    return st.lists(st.fixed_dictionaries({
        "timestamp": timestamps(days),
        "sampledValue": st.lists(sampled, min_size=1, max_size=4)}),
        min_size=1, max_size=3)


def calls_of_one_layout(days):
    return st.one_of(
        st.lists(st.tuples(st.just((OcppVersion.V16, "MeterValues")), st.fixed_dictionaries(
            {"connectorId": st.integers(0, 9), "meterValue": meter_values(sampled_16, days)},
            optional={"transactionId": st.integers(-(2 ** 31), 2 ** 31 - 1)})),
            min_size=1, max_size=4),
        st.lists(st.tuples(st.just((OcppVersion.V16, "StopTransaction")), st.fixed_dictionaries(
            {"transactionId": st.integers(0, 2 ** 31 - 1), "meterStop": st.just(0)},
            optional={"transactionData": meter_values(sampled_16, days)})),
            min_size=1, max_size=4),
        st.lists(st.one_of(
            st.tuples(st.sampled_from([(OcppVersion.V201, "MeterValues"),
                                       (OcppVersion.V21, "MeterValues")]),
                      st.fixed_dictionaries({"evseId": st.integers(0, 9),
                                             "meterValue": meter_values(sampled_2x, days)})),
            st.tuples(st.sampled_from([(OcppVersion.V201, "TransactionEvent"),
                                       (OcppVersion.V21, "TransactionEvent")]),
                      st.fixed_dictionaries(
                {"transactionInfo": st.fixed_dictionaries({"transactionId": ODD_TEXT}),
                 "eventType": st.just("Updated")},
                optional={"evse": st.fixed_dictionaries(
                              {"id": st.integers(1, 9)},
                              optional={"connectorId": st.integers(1, 3)}),
                          "meterValue": meter_values(sampled_2x, days)}))),
            min_size=1, max_size=4),
    )

ROW = ("evse_id, connector_id, transaction_id, {time}, measurand, phase, location, "
        "context, unit, {value}, raw_value, site, stream_seq")


def bits(row: tuple) -> tuple:
    """The value as its bits, so that NaN equals NaN and -0.0 differs from 0.0 (18.16
    cannot reinterpret a Float64; chdb's JSON answers would lose them)."""
    value = row[9]
    return row[:9] + (value if isinstance(value, int) else struct.pack("<d", value),) + row[10:]


_EXAMPLES = itertools.count()


def compare_rows(store: MeterStore, batch, time: str, value: str) -> None:
    example = next(_EXAMPLES)
    in_python, in_clickhouse = f"py-{example}", f"ch-{example}"
    samples, columns = SampleColumns(), CallColumns()
    layouts = set()
    for sequence, ((version, action), payload) in enumerate(batch):
        text = orjson.dumps(payload)
        call = strict_meter_call(version, action, text)
        assume(call is not None)  # what only a lenient reading takes, the sink reads itself
        where = call.placement()
        where = where._replace(evse_id=7 if where.evse_id is None else where.evse_id)
        layouts.add(call.LAYOUT)
        try:
            samples.add(in_python, call, where, "site-1", sequence)
        except ValueError:  # a time that is no time, or not one in UTC: a dead letter
            with pytest.raises(ValueError):
                columns.add(in_clickhouse, call, where, "site-1", sequence, text)
            event("a time out of range: both refuse it")
            return
        assert columns.add(in_clickhouse, call, where, "site-1", sequence, text)
    if not len(samples):
        event("no samples")
        return
    assert len(layouts) == 1
    event("rows compared")
    store.insert_samples(samples.lists)
    try:
        store.insert_calls(layouts.pop(), columns.lists)
    except CallsUnreadable:
        pytest.fail(f"ClickHouse could not read what the sink reads: {batch}")
    row = ROW.format(time=time, value=value)
    rows = [[bits(row) for row in store.engine.query(
        f"SELECT {row} FROM meter_samples WHERE station = '{station}' ORDER BY stream_seq")[1]]
        for station in (in_python, in_clickhouse)]
    rows = [sorted(found) for found in rows]
    assert rows[1] == rows[0]
    assert len(rows[0]) == len(samples)


def one_sample_call(value: int) -> tuple:
    """A 1.6 MeterValues of one sample, as the sink reads it, and its JSON."""
    text = orjson.dumps({"connectorId": 1, "meterValue": [{
        "timestamp": "2026-11-22T10:00:00Z", "sampledValue": [{"value": str(value)}]}]})
    return strict_meter_call(OcppVersion.V16, "MeterValues", text), text


def check_lookup_of_a_big_redelivered_batch(store: MeterStore) -> None:
    """A batch of 20,000 messages from as many stations, with ids of the longest kind,
    delivered again after half of it was stored: the lookup finds that half. Listed in
    one query, the stations would be more than ClickHouse parses (256 KiB)."""
    call, _ = one_sample_call(1)
    prefix = "redelivered-"
    stations = [prefix + f"{index:0{MAX_STATION_ID_LENGTH - len(prefix)}d}"
                for index in range(20_000)]
    sequences = [1_000_000 + index for index in range(len(stations))]
    stored = SampleColumns()
    for station, sequence in list(zip(stations, sequences))[::2]:
        stored.add(station, call, call.placement(), "site-1", sequence)
    store.insert_samples(stored.lists)
    timestamp_ms = 1795341600000  # 2026-11-22T10:00:00Z
    assert store.stored_sequences(stations, timestamp_ms, timestamp_ms, sequences) == set(
        sequences[::2])
