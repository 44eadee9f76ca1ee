"""A ClickHouse server (Debian's 18.16, which has no JSONExtract) gets from the sink
the rows chdb makes of the calls' JSON (chargebus.meter.clickhouse.callreader), as RowBinary:
the same rows the sink makes in Python, compared bit for bit."""
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickhouse_server import ClickHouseServer
from conftest import free_port
from meter_calls import (calls_of_one_layout, check_lookup_of_a_big_redelivered_batch,
                         compare_rows, one_sample_call)
from chargebus.meter.clickhouse.engines import ServerEngine
from chargebus.meter.columns import CallColumns
from chargebus.services.sink.store import MeterStore


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory):
    server = ClickHouseServer(tmp_path_factory.mktemp("clickhouse"), free_port(), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server_store(clickhouse):
    """A store of its own for each test: its chdb reader is made on the first insert,
    and a process holds one chdb at a time."""
    store = MeterStore(ServerEngine(clickhouse.url))
    yield store
    store.close()


# 18.16 keeps times as DateTime: seconds from 1970 to 2106.
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(batch=calls_of_one_layout(st.dates(date(1970, 1, 2), date(2105, 12, 31))))
def test_a_server_gets_the_rows_the_sink_makes(server_store, batch):
    compare_rows(server_store, batch, "toUnixTimestamp(ts)", "value")


def test_the_first_inserts_from_two_threads_at_once_both_land(server_store):
    """The sink inserts one batch while a thread inserts the one before: the two first
    inserts of a store, at once, share the chdb reader that the first of them makes."""
    call, text = one_sample_call(5)
    batches = []
    for thread in range(2):
        columns = CallColumns()
        assert columns.add(f"two-threads-{thread}", call, call.placement(), "site-1", thread,
                           text)
        batches.append(columns)
    both_ready = threading.Barrier(2)

    def insert(columns: CallColumns) -> None:
        both_ready.wait()
        server_store.insert_calls(call.LAYOUT, columns.lists)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(insert, batches))  # re-raises what an insert raised
    _, rows = server_store.engine.query(
        "SELECT station, value FROM meter_samples WHERE station LIKE 'two-threads-%' "
        "ORDER BY station")
    assert [tuple(row) for row in rows] == [("two-threads-0", 5.0), ("two-threads-1", 5.0)]


def test_a_big_redelivered_batch_is_looked_up(server_store):
    check_lookup_of_a_big_redelivered_batch(server_store)
