"""A ClickHouse server (Debian's 18.16, which has no JSONExtract) gets from the sink
the rows chdb makes of the calls' JSON (chargebus.clickhouse.callreader), as RowBinary:
the same rows the sink makes in Python, compared bit for bit."""
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickhouse_server import ClickHouseServer
from conftest import free_port
from meter_calls import calls_of_one_layout, compare_rows
from chargebus.clickhouse.engines import ServerEngine
from chargebus.meterstore import MeterStore


@pytest.fixture(scope="module")
def server_store(tmp_path_factory):
    server = ClickHouseServer(tmp_path_factory.mktemp("clickhouse"), free_port(), free_port())
    server.start()
    store = MeterStore(ServerEngine(server.url))
    yield store
    store.close()
    server.stop()


# 18.16 keeps times as DateTime: seconds from 1970 to 2106.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=calls_of_one_layout(st.dates(date(1970, 1, 2), date(2105, 12, 31))))
def test_a_server_gets_the_rows_the_sink_makes(server_store, batch):
    compare_rows(server_store, batch, "toUnixTimestamp(ts)", "value")
