"""Meter samples in ClickHouse. Embedded: chdb, owned by exactly one process.

The ClickHouse server path (clickhouse-driver) joins here as a second MeterStore with
the same columns; the sink and the queries do not change.
"""
import logging
import re
from pathlib import Path

from chargebus.meter import Sample

log = logging.getLogger(__name__)

SAMPLE_TABLE = "meter_samples"

# One list per column, in Sample order, then the JetStream sequence of the message
# the sample came in (for deduplication of redelivered batches).
COLUMNS = Sample._fields + ("stream_seq",)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {SAMPLE_TABLE} (
    station String,
    evse_id UInt32,
    connector_id UInt32,
    transaction_id String,
    ts DateTime64(3, 'UTC'),
    measurand LowCardinality(String),
    phase LowCardinality(String),
    location LowCardinality(String),
    context LowCardinality(String),
    unit LowCardinality(String),
    value Float64,
    stream_seq UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (station, ts, measurand)
"""

SESSION_TABLE = "sessions"
# One row per finished transaction; a late event makes a newer version of the row, and
# ReplacingMergeTree keeps the newest (query with FINAL for exact answers).
SESSION_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {SESSION_TABLE} (
    station String,
    transaction_id String,
    evse_id UInt32,
    id_token String,
    started_at DateTime64(3, 'UTC'),
    stopped_at DateTime64(3, 'UTC'),
    energy_wh Float64,
    stop_reason LowCardinality(String),
    closed_by_rule String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (station, transaction_id)
"""
SESSION_COLUMNS = ("station", "transaction_id", "evse_id", "id_token", "started_at",
                   "stopped_at", "energy_wh", "stop_reason", "closed_by_rule", "version")

_READ_ONLY = re.compile(r"\s*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXPLAIN)\b", re.IGNORECASE)


class QueryRefused(ValueError):
    pass


class ChdbMeterStore:
    def __init__(self, path: Path):
        import chdb.session  # about 400 MB resident: only the sink loads it

        path.mkdir(parents=True, exist_ok=True)
        try:
            self._session = chdb.session.Session(str(path))
        except Exception as error:
            raise SystemExit(
                f"cannot open the chdb folder {path}: {error}\n"
                "Only one process may own it; is another chargebus sink running on it?"
            ) from None
        self._session.query(SCHEMA)
        self._session.query(SESSION_SCHEMA)

    def insert(self, columns: dict[str, list]) -> None:
        rows = columns  # noqa: F841  chdb's Python() reads this local by name
        self._session.query(
            f"INSERT INTO {SAMPLE_TABLE} SELECT station_id, evse_id, connector_id, "
            "transaction_id, fromUnixTimestamp64Milli(timestamp_ms, 'UTC'), measurand, phase, "
            "location, context, unit, value, stream_seq FROM Python(rows)")

    def insert_sessions(self, columns: dict[str, list]) -> None:
        """Rows of SESSION_COLUMNS; the times as RFC 3339 text."""
        sessions = columns  # noqa: F841  chdb's Python() reads this local by name
        self._session.query(
            f"INSERT INTO {SESSION_TABLE} SELECT station, transaction_id, evse_id, id_token, "
            "parseDateTime64BestEffort(started_at, 3, 'UTC'), "
            "parseDateTime64BestEffort(stopped_at, 3, 'UTC'), energy_wh, stop_reason, "
            "closed_by_rule, version FROM Python(sessions)")

    def query_json(self, sql: str) -> bytes:
        """A read-only query's result in ClickHouse's JSON format."""
        if not _READ_ONLY.match(sql) or ";" in sql.strip().rstrip(";"):
            raise QueryRefused("only one read-only statement (SELECT, WITH, SHOW, DESCRIBE, "
                               "EXPLAIN) is answered")
        return self._session.query(sql, "JSON").bytes()

    def close(self) -> None:
        self._session.close()
