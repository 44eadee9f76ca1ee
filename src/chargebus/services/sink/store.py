"""Meter samples, station events and sessions in ClickHouse, embedded (chdb) or on a
server.

The store owns the schema (chargebus.meter.clickhouse.migrations, run when it opens), writes
columnar batches, finds which messages of a redelivered batch are already stored, and
answers read-only SQL from outside within its limits (chargebus.meter.clickhouse.querylimits).
"""
import threading
from collections.abc import Generator

from chargebus.meter.clickhouse import payloads
from chargebus.meter.clickhouse.callreader import CallReader
from chargebus.meter.clickhouse.engines import ChdbEngine, Engine, EngineUnavailable, ServerEngine
from chargebus.meter.clickhouse.migrations import (COMMANDS, SAMPLE_COLUMNS, SAMPLES, SESSIONS,
                                                   STATION_EVENTS, Capabilities, migrate)
from chargebus.meter.clickhouse.payloads import CallsUnreadable
from chargebus.meter.clickhouse.querylimits import (QueryLimits, QueryOverLimit, QueryRefused,
                                                    QueryUserUnsafe)
from chargebus.meter.rules import CallLayout
from chargebus.meter.stationevents import EVENT_COLUMNS
from chargebus.runtime.config import Settings

# Stations per lookup of a redelivered batch's stored messages: the station ids are
# listed in the query, and ClickHouse parses at most 256 KiB of it (max_query_size);
# 1,000 ids of at most 48 characters (chargebus.state.identifiers) take about 50 KB.
LOOKUP_STATIONS = 1000


SESSION_COLUMNS = ("station", "transaction_id", "evse_id", "id_token", "started_at",
                   "stopped_at", "energy_wh", "stop_reason", "closed_by_rule", "version")

COMMAND_COLUMNS = ("id", "sender", "station", "action", "payload", "outcome", "answer",
                   "requested_at", "answered_at", "latency_ms", "edge", "version")


class MeterStore:
    def __init__(self, engine: Engine, limits: QueryLimits | None = None):
        self.engine = engine
        self.limits = limits or QueryLimits.defaults()
        migrate(engine)
        self._capabilities = Capabilities(engine.version)
        self._call_reader: CallReader | None = None  # a server's: chdb, when first needed
        # The sink inserts from two threads at once (one batch while the next is read);
        # a process holds one chdb, so only one of them may make the reader.
        self._call_reader_made = threading.Lock()

    @classmethod
    def open(cls, settings: Settings) -> "MeterStore":
        """The server at settings.clickhouse_url, or else chdb in settings.chdb_path;
        EngineUnavailable says why neither can be used."""
        engine = (ServerEngine(settings.clickhouse_url, settings.clickhouse_query_user,
                               settings.clickhouse_query_password)
                  if settings.clickhouse_url else ChdbEngine(settings.chdb_path))
        return cls(engine, QueryLimits.of(settings))

    def insert_samples(self, columns: dict[str, list]) -> None:
        """One list per name of chargebus.meter.SampleColumns.NAMES; timestamp_ms in
        Unix milliseconds."""
        ordered = dict(zip(SAMPLE_COLUMNS, (
            columns["station_id"], columns["evse_id"], columns["connector_id"],
            columns["transaction_id"], columns["timestamp_ms"], columns["measurand"],
            columns["phase"], columns["location"], columns["context"], columns["unit"],
            columns["value"], columns["raw_value"], columns["site"], columns["stream_seq"])))
        self.engine.insert(SAMPLES, ordered, times=("ts",))

    def insert_calls(self, layout: CallLayout, columns: dict[str, list]) -> None:
        """One list per name of chargebus.meter.CallColumns.NAMES, all of one layout;
        raises CallsUnreadable where ClickHouse would read a call otherwise than the
        sink, and then inserts none of them."""
        if isinstance(self.engine, ChdbEngine):
            statement = payloads.insert_select(layout, SAMPLES, "Python(rows)",
                                               self._capabilities.time)
            with payloads.unreadable_refused():
                self.engine.execute_with_rows(statement, columns)
        else:
            with self._call_reader_made:
                if self._call_reader is None:
                    self._call_reader = CallReader(self._capabilities.time)
            rows = self._call_reader.row_binary(layout, columns)
            assert isinstance(self.engine, ServerEngine)  # the other of the two
            self.engine.insert_row_binary(SAMPLES, SAMPLE_COLUMNS, rows)

    def insert_events(self, columns: dict[str, list]) -> None:
        """One list per name of EVENT_COLUMNS (chargebus.meter.stationevents.EventColumns);
        ts in Unix milliseconds."""
        self.engine.insert(STATION_EVENTS, {name: columns[name] for name in EVENT_COLUMNS},
                           times=("ts",))

    def insert_commands(self, columns: dict[str, list]) -> None:
        """One list per name of COMMAND_COLUMNS; the times in Unix milliseconds."""
        self.engine.insert(COMMANDS, {name: columns[name] for name in COMMAND_COLUMNS},
                           times=("requested_at", "answered_at"))

    def insert_sessions(self, columns: dict[str, list]) -> None:
        """One list per name of SESSION_COLUMNS; the times in Unix milliseconds."""
        self.engine.insert(SESSIONS, {name: columns[name] for name in SESSION_COLUMNS},
                           times=("started_at", "stopped_at"))

    def stored_sequences(self, stations: list[str], first_ms: int, last_ms: int,
                         sequences: list[int]) -> set[int]:
        """Which of these message sequences already have samples, ``stations`` being
        the stations of their samples, taken from ``first_ms`` to ``last_ms``."""
        return self._stored_sequences(SAMPLES, stations, first_ms, last_ms, sequences)

    def stored_event_sequences(self, stations: list[str], first_ms: int, last_ms: int,
                               sequences: list[int]) -> set[int]:
        """The same for station events, received from ``first_ms`` to ``last_ms``."""
        return self._stored_sequences(STATION_EVENTS, stations, first_ms, last_ms, sequences)

    def _stored_sequences(self, table: str, stations: list[str], first_ms: int, last_ms: int,
                          sequences: list[int]) -> set[int]:
        """The lookup goes by the table's key (station, time), so it stays cheap however
        big the table is; a batch of many stations takes a query per LOOKUP_STATIONS of
        them."""
        wanted = set(sequences)
        if not wanted:
            return set()
        # The sequences as a range, not a list: a batch may hold 20,000 of them.
        where = (f"ts >= toDateTime({first_ms // 1000}, 'UTC') "
                 f"AND ts <= toDateTime({last_ms // 1000 + 1}, 'UTC') "
                 f"AND stream_seq >= {min(wanted)} AND stream_seq <= {max(wanted)}")
        names = sorted(set(stations))
        stored: set[int] = set()
        for start in range(0, len(names), LOOKUP_STATIONS):
            listed = ", ".join(payloads.string_literal(station)
                               for station in names[start:start + LOOKUP_STATIONS])
            _, rows = self.engine.query(f"SELECT DISTINCT stream_seq FROM {table} "
                                        f"WHERE station IN ({listed}) AND {where}")
            stored.update(int(row[0]) for row in rows)
        return stored & wanted

    def query_rows(self, sql: str) -> Generator[bytes, None, None]:
        """A query from outside, read-only and within the limits: its rows as JSON
        objects, one a line, in pieces of whole lines (Engine.query_rows)."""
        return self.engine.query_rows(sql, self.limits)

    def close(self) -> None:
        if self._call_reader is not None:
            self._call_reader.close()
        self.engine.close()


__all__ = ["CallsUnreadable", "EngineUnavailable", "MeterStore", "QueryOverLimit",
           "QueryRefused", "QueryUserUnsafe", "SESSION_COLUMNS", "COMMAND_COLUMNS"]
