"""Time of each analytics query over a large samples table, on chdb or a server.

    .venv/bin/python benchmarks/analytics_queries.py [--samples 100000000] [--clickhouse-url URL]

Fills a fresh database (chdb in a temporary folder, or database `bench` on the server)
through the real schema and its materialized views, generated inside ClickHouse from
numbers(): 1,000 stations on 50 sites, a reading every 15 minutes from 2025-01-01 on
(100 million samples reach into September), four measurands per reading (energy
register, power, current, voltage). Then runs each
query of chargebus.meter.analytics (as `chargebus analytics` would) several times and prints
the best time. Stops by itself; the temporary chdb folder is removed at the end.
"""
import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from chargebus.meter import analytics
from chargebus.meter.clickhouse.engines import ChdbEngine, ServerEngine, with_database
from chargebus.meter.clickhouse.migrations import SAMPLES, migrate

STATIONS = 1000
SITES = 50
MEASURANDS = ("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Voltage")
UNITS = ("Wh", "W", "A", "V")
YEAR_START = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
RUNS = 3


def fill(engine, samples: int, chunk: int) -> float:
    """Readings every 15 minutes per station over the year, 4 samples each; the energy
    register of a station grows by its number's worth of Wh per reading."""
    readings = samples // len(MEASURANDS)
    measurands = "['" + "','".join(MEASURANDS) + "']"
    units = "['" + "','".join(UNITS) + "']"
    started = time.perf_counter()
    for first in range(0, readings, chunk):
        count = min(chunk, readings - first)
        # reading r: station r % STATIONS, time YEAR_START + (r // STATIONS) * 900 s
        engine.execute(f"""
            INSERT INTO {SAMPLES} (station, site, evse_id, connector_id, transaction_id, ts,
                                   measurand, phase, location, context, unit, value, raw_value,
                                   stream_seq)
            SELECT concat('ST-', toString(r % {STATIONS})), concat('SITE-', toString(r % {SITES})),
                   1, 0, '', toDateTime({YEAR_START} + intDiv(r, {STATIONS}) * 900, 'UTC'),
                   {measurands}[m + 1], '', 'Outlet', 'Sample.Periodic', {units}[m + 1],
                   if(m = 0, toFloat64(intDiv(r, {STATIONS}) * (r % {STATIONS} + 1)),
                      if(m = 1, 7000 + (r % 97) * 10, if(m = 2, 16.0, 230.0))),
                   '', r
            FROM (SELECT number + {first} AS r FROM numbers({count}))
            ARRAY JOIN [0, 1, 2, 3] AS m""")
    return time.perf_counter() - started


QUERIES = {
    "energy by station per day (a month)": lambda: analytics.energy_sql(
        "station", datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC)),
    "energy by site per day (the year)": lambda: analytics.energy_sql(
        "site", datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
    "peak per site (the year)": lambda: analytics.peak_sql(
        datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
    "silent for 60 minutes": lambda: analytics.silent_sql(60, datetime.now(UTC)),
    "series of one station (a week)": lambda: analytics.series_sql(
        "ST-42", "Voltage", datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 8, tzinfo=UTC)),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000_000)
    parser.add_argument("--chunk", type=int, default=5_000_000, help="readings per INSERT")
    parser.add_argument("--clickhouse-url", help="clickhouse://host:port (database bench is made)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if arguments.clickhouse_url:
            setup = ServerEngine(with_database(arguments.clickhouse_url, "default"))
            setup.execute("DROP DATABASE IF EXISTS bench")
            setup.execute("CREATE DATABASE bench")
            setup.close()
            engine = ServerEngine(with_database(arguments.clickhouse_url, "bench"))
        else:
            engine = ChdbEngine(Path(folder) / "chdb")
        migrate(engine)
        seconds = fill(engine, arguments.samples, arguments.chunk)
        _, rows = engine.query(f"SELECT count() FROM {SAMPLES}")
        name = arguments.clickhouse_url or "chdb"
        print(f"{name} {'.'.join(map(str, engine.version))}: {int(rows[0][0]):,} samples "
              f"generated in {seconds:.0f} s")
        for title, sql in QUERIES.items():
            best = min(_timed(engine, sql()) for _ in range(RUNS))
            print(f"  {title:40s} {best * 1000:8.0f} ms")
        engine.close()
    return 0


def _timed(engine, sql: str) -> float:
    started = time.perf_counter()
    engine.query(sql)
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
