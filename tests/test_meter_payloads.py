"""ClickHouse reading the calls' JSON itself (chargebus.meter.clickhouse.payloads) makes the
same rows as the sink does in Python (chargebus.meter.SampleColumns): both are fed the
same calls, drawn at random, and their rows compared bit for bit in real chdb.
(tests/test_meter_payloads_server.py does the same on a server: one process holds one
chdb folder at a time.)"""
import re

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meter_calls import (OTHER_TIMES, calls_of_one_layout,
                          check_lookup_of_a_big_redelivered_batch, compare_rows)
from chargebus.meter.calls import strict_meter_call
from chargebus.meter.clickhouse.engines import ChdbEngine
from chargebus.meter.columns import CallColumns, SampleColumns
from chargebus.meter.rules import RFC3339
from chargebus.ocpp import OcppVersion
from chargebus.services.sink.store import CallsUnreadable, MeterStore


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = MeterStore(ChdbEngine(tmp_path_factory.mktemp("chdb")))
    yield store
    store.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=calls_of_one_layout(st.dates()))
def test_clickhouse_makes_the_rows_the_sink_makes(store, batch):
    compare_rows(store, batch, "toUnixTimestamp64Milli(ts)", "reinterpretAsUInt64(value)")


@pytest.mark.parametrize("timestamp", OTHER_TIMES)
def test_times_clickhouse_would_read_otherwise_are_left_to_the_sink(timestamp):
    payload = orjson.dumps({"connectorId": 1, "meterValue": [
        {"timestamp": timestamp, "sampledValue": [{"value": "1"}]}]})
    call = strict_meter_call(OcppVersion.V16, "MeterValues", payload)
    assert not re.fullmatch(RFC3339, timestamp)
    assert not CallColumns().add("CP", call, call.placement(), "", 1, payload)
    samples = SampleColumns()
    assert samples.add("CP", call, call.placement(), "", 1) == 1


def test_calls_clickhouse_reads_otherwise_are_refused_whole(store):
    """JSON naming "meterValue" twice: msgspec takes the second (two samples), ClickHouse
    the first (one). ClickHouse inserts none of the batch's rows, and the sink makes
    them, from the second."""
    readable = b'{"connectorId": 1, "meterValue": [{"timestamp": "2026-01-01T00:00:00Z",' \
               b' "sampledValue": [{"value": "1"}]}]}'
    twice = b'{"connectorId": 1,' \
            b' "meterValue": [{"timestamp": "2026-01-01T00:00:00Z",' \
            b' "sampledValue": [{"value": "2"}]}],' \
            b' "meterValue": [{"timestamp": "2026-01-01T00:00:00Z",' \
            b' "sampledValue": [{"value": "3"}, {"value": "4"}]}]}'
    columns = CallColumns()
    for sequence, payload in enumerate((readable, twice)):
        call = strict_meter_call(OcppVersion.V16, "MeterValues", payload)
        assert columns.add("twice", call, call.placement(), "", sequence, payload)
    assert columns.lists["sample_count"] == [1, 2]
    with pytest.raises(CallsUnreadable):
        store.insert_calls(call.LAYOUT, columns.lists)
    assert store.engine.query(
        "SELECT count() FROM meter_samples WHERE station = 'twice'")[1] == [(0,)]
    samples = SampleColumns()
    columns.add_samples_to(samples)
    assert samples.lists["value"] == [1.0, 3.0, 4.0]
    assert samples.lists["stream_seq"] == [0, 1, 1]


def test_a_big_redelivered_batch_is_looked_up(store):
    check_lookup_of_a_big_redelivered_batch(store)
