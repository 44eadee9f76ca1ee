"""The ClickHouse schema, as numbered migrations run on start.

Each migration is written for what the server can do (``Capabilities``): chdb and
current servers get DateTime64 and LowCardinality; Debian's clickhouse-server 18.16
gets DateTime (seconds) and String. Every step may run twice (several sinks starting
against one server, or a sink that died half-way): tables are created if missing and
columns added only where absent, and the applied version is recorded last.
"""
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chargebus.meter.clickhouse.engines import DATETIME64_SINCE, Engine

log = logging.getLogger(__name__)

SAMPLES = "meter_samples"
SESSIONS = "sessions"
ENERGY_15M = "energy_15m"
ENERGY_1D = "energy_1d"
POWER_15M = "power_15m"
LAST_SAMPLE = "station_last_sample"
COMMANDS = "commands"
STATION_EVENTS = "station_events"
MIGRATIONS_TABLE = "chargebus_migrations"

# The samples table's columns, in the order inserts name them.
SAMPLE_COLUMNS = ("station", "evse_id", "connector_id", "transaction_id", "ts", "measurand",
                  "phase", "location", "context", "unit", "value", "raw_value", "site",
                  "stream_seq")

ENERGY_MEASURAND = "Energy.Active.Import.Register"
POWER_MEASURAND = "Power.Active.Import"


@dataclass(frozen=True)
class Capabilities:
    version: tuple[int, ...]

    @property
    def datetime64(self) -> bool:
        return self.version >= DATETIME64_SINCE

    @property
    def time(self) -> str:
        """The type of a sample's time: milliseconds where the server has them."""
        return "DateTime64(3, 'UTC')" if self.datetime64 else "DateTime('UTC')"

    @property
    def label(self) -> str:
        """A column of few distinct strings (18.16 has LowCardinality only as an
        experiment behind a setting)."""
        return "LowCardinality(String)" if self.version >= (19, 9) else "String"


def _samples_and_sessions(c: Capabilities) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {SAMPLES} (
            station String, evse_id UInt32, connector_id UInt32, transaction_id String,
            ts {c.time}, measurand {c.label}, phase {c.label}, location {c.label},
            context {c.label}, unit {c.label}, value Float64, stream_seq UInt64
        ) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY (station, ts, measurand)""",
        # One row per finished transaction; a later event makes a newer version of the
        # row and ReplacingMergeTree keeps the newest (FINAL in queries that must be exact).
        f"""CREATE TABLE IF NOT EXISTS {SESSIONS} (
            station String, transaction_id String, evse_id UInt32, id_token String,
            started_at {c.time}, stopped_at {c.time}, energy_wh Float64,
            stop_reason {c.label}, closed_by_rule String, version UInt64
        ) ENGINE = ReplacingMergeTree(version) ORDER BY (station, transaction_id)""",
    ]


@dataclass(frozen=True)
class AddColumn:
    """A column added where it is missing (18.16 has no ADD COLUMN IF NOT EXISTS)."""

    table: str
    column: str
    kind: str


def _site_and_raw_value(c: Capabilities) -> list[AddColumn]:
    return [AddColumn(SAMPLES, "site", "String"), AddColumn(SAMPLES, "raw_value", "String")]


def _fifteen_minutes(c: Capabilities) -> list[str]:
    slot = "toStartOfFifteenMinutes(ts)"
    return [
        f"""CREATE TABLE IF NOT EXISTS {ENERGY_15M} (
            station String, site String, evse_id UInt32, slot DateTime('UTC'),
            first AggregateFunction(min, Float64), last AggregateFunction(max, Float64)
        ) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(slot)
        ORDER BY (site, station, evse_id, slot)""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {ENERGY_15M}_mv TO {ENERGY_15M} AS
        SELECT station, site, evse_id, {slot} AS slot,
               minState(value) AS first, maxState(value) AS last
        FROM {SAMPLES} WHERE measurand = '{ENERGY_MEASURAND}' AND unit = 'Wh'
        GROUP BY station, site, evse_id, slot""",
        f"""CREATE TABLE IF NOT EXISTS {POWER_15M} (
            station String, site String, slot DateTime('UTC'),
            average AggregateFunction(avg, Float64), peak AggregateFunction(max, Float64)
        ) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(slot)
        ORDER BY (site, station, slot)""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {POWER_15M}_mv TO {POWER_15M} AS
        SELECT station, site, {slot} AS slot, avgState(value) AS average,
               maxState(value) AS peak
        FROM {SAMPLES} WHERE measurand = '{POWER_MEASURAND}' AND unit = 'W' AND phase = ''
        GROUP BY station, site, slot""",
        f"""CREATE TABLE IF NOT EXISTS {LAST_SAMPLE} (
            station String, site String, last AggregateFunction(max, {c.time})
        ) ENGINE = AggregatingMergeTree ORDER BY (station, site)""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {LAST_SAMPLE}_mv TO {LAST_SAMPLE} AS
        SELECT station, site, maxState(ts) AS last FROM {SAMPLES} GROUP BY station, site""",
    ]


def _daily_energy(c: Capabilities) -> list[str]:
    """A year of a network's energy by day reads 365 rows per EVSE instead of 35,040.
    Samples stored before the view existed are added after it; min and max do not mind
    seeing a sample twice."""
    select = f"""SELECT station, site, evse_id, toDate(ts, 'UTC') AS day,
               minState(value) AS first, maxState(value) AS last
        FROM {SAMPLES} WHERE measurand = '{ENERGY_MEASURAND}' AND unit = 'Wh'
        GROUP BY station, site, evse_id, day"""
    return [
        f"""CREATE TABLE IF NOT EXISTS {ENERGY_1D} (
            station String, site String, evse_id UInt32, day Date,
            first AggregateFunction(min, Float64), last AggregateFunction(max, Float64)
        ) ENGINE = AggregatingMergeTree PARTITION BY toYear(day)
        ORDER BY (site, station, evse_id, day)""",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {ENERGY_1D}_mv TO {ENERGY_1D} AS {select}",
        f"INSERT INTO {ENERGY_1D} {select}",
    ]


def _commands(c: Capabilities) -> list[str]:
    """The audit trail of CSMS-to-station calls (chargebus.operations.audit); a record
    delivered twice has the same id, and ReplacingMergeTree keeps one."""
    return [
        f"""CREATE TABLE IF NOT EXISTS {COMMANDS} (
            id String, sender String, station String, action {c.label}, payload String,
            outcome {c.label}, answer String, requested_at {c.time}, answered_at {c.time},
            latency_ms Float64, edge String, version {c.label}
        ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(requested_at)
        ORDER BY (station, requested_at, id)""",
    ]


def _station_events(c: Capabilities) -> list[str]:
    """A row per station notification that is not meter data (several for a call that
    reports several events or monitors: ``item`` tells them apart). ``ts`` is when
    chargebus received the call, so that a station with a wrong clock still sorts right;
    ``severity`` is UInt8, not Nullable: the sink inserts through chdb's Python() table
    function, which reads a list's type from its first value and stores a None after a
    number as 0 (chargebus.meter.stationevents.NO_SEVERITY says what stands for none)."""
    return [
        f"""CREATE TABLE IF NOT EXISTS {STATION_EVENTS} (
            station String, ts {c.time}, version {c.label}, action {c.label},
            event_type {c.label}, component String, variable String, severity UInt8,
            trigger {c.label}, tech_code String, firmware_status {c.label}, status {c.label},
            model String, payload String, stream_seq UInt64, item UInt32
        ) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY (station, ts, action)""",
    ]


MIGRATIONS: list[tuple[int, str, Callable[[Capabilities], Sequence[str | AddColumn]]]] = [
    (1, "samples and sessions", _samples_and_sessions),
    (2, "site and raw value of samples", _site_and_raw_value),
    (3, "15-minute energy and power, last sample per station", _fifteen_minutes),
    (4, "energy per day", _daily_energy),
    (5, "the audit trail of CSMS-to-station calls", _commands),
    (6, "station events", _station_events),
]


def migrate(engine: Engine) -> int:
    """Bring the schema to the last migration; the version it is at afterwards."""
    capabilities = Capabilities(engine.version)
    engine.execute(f"""CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
        version UInt32, name String, applied_at DateTime('UTC')
    ) ENGINE = MergeTree ORDER BY version""")
    _, rows = engine.query(f"SELECT max(version) FROM {MIGRATIONS_TABLE}")
    current = int(rows[0][0] or 0) if rows else 0
    for number, name, statements in MIGRATIONS:
        if number <= current:
            continue
        log.info("ClickHouse migration %d: %s", number, name)
        for statement in statements(capabilities):
            if isinstance(statement, AddColumn):
                if not _has_column(engine, statement.table, statement.column):
                    engine.execute(f"ALTER TABLE {statement.table} ADD COLUMN "
                                   f"{statement.column} {statement.kind}")
            else:
                engine.execute(statement)
        engine.execute(f"INSERT INTO {MIGRATIONS_TABLE} (version, name, applied_at) "
                       f"SELECT {number}, '{name}', now()")
        current = number
    return current


def _has_column(engine: Engine, table: str, column: str) -> bool:
    _, rows = engine.query(f"SELECT count() FROM system.columns WHERE database = currentDatabase()"
                           f" AND table = '{table}' AND name = '{column}'")
    return int(rows[0][0]) > 0
