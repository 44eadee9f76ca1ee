"""Analytics over the meter data and the station events (chargebus.meter.eventqueries),
the same SQL on chdb and on a ClickHouse server (18.16 included).

    rows = await Analytics.over_nats(nc).energy(by="site", since=..., until=...)

Each query returns a list of rows as dicts. Over NATS the process that owns ClickHouse
(the sink) runs the SQL, so this works while `chargebus run` holds the chdb folder.
"""
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from nats.aio.client import Client

from chargebus.bus import queryreplies
from chargebus.meter.clickhouse.migrations import (ENERGY_1D, ENERGY_15M, LAST_SAMPLE, POWER_15M,
                                                   SAMPLES, SESSIONS)
from chargebus.meter.eventqueries import events_sql, failed_updates_sql, faults_sql


def _text(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _time(moment: datetime) -> str:
    return f"toDateTime({int(moment.timestamp())}, 'UTC')"


def energy_sql(by: str, since: datetime, until: datetime) -> str:
    """Energy imported per station or site and day, in Wh: per EVSE and day, the last
    register reading minus the first. Whole days come from the daily aggregates, other
    spans from the 15-minute ones."""
    if by not in ("station", "site"):
        raise ValueError("energy is by station or by site")
    if _midnight(since) and _midnight(until):
        per_evse_and_day = f"""
            SELECT station, site, evse_id, day, maxMerge(last) - minMerge(first) AS energy
            FROM {ENERGY_1D} WHERE day >= toDate({_time(since)}, 'UTC')
                AND day < toDate({_time(until)}, 'UTC')
            GROUP BY station, site, evse_id, day"""
    else:
        per_evse_and_day = f"""
            SELECT station, site, evse_id, toDate(slot, 'UTC') AS day,
                   maxMerge(last) - minMerge(first) AS energy
            FROM {ENERGY_15M} WHERE slot >= {_time(since)} AND slot < {_time(until)}
            GROUP BY station, site, evse_id, day"""
    return f"""
        SELECT {by}, toString(day) AS day, sum(energy) AS energy_wh FROM ({per_evse_and_day})
        GROUP BY {by}, day ORDER BY {by}, day"""


def _midnight(moment: datetime) -> bool:
    return int(moment.timestamp()) % 86400 == 0


def peak_sql(since: datetime, until: datetime) -> str:
    """Per site, the highest demand of a 15-minute slot: the sum over its stations of
    their average import power in the slot, in W, and when it was."""
    return f"""
        SELECT site, max(demand_w) AS peak_w, toString(argMax(slot, demand_w)) AS slot FROM (
            SELECT site, slot, sum(average_w) AS demand_w FROM (
                SELECT site, station, slot, avgMerge(average) AS average_w FROM {POWER_15M}
                WHERE slot >= {_time(since)} AND slot < {_time(until)}
                GROUP BY site, station, slot)
            GROUP BY site, slot)
        GROUP BY site ORDER BY site"""


def sessions_sql(since: datetime, until: datetime, station: str | None = None) -> str:
    """Finished transactions with their energy and duration (the newest version of each)."""
    where = f"stopped_at >= {_time(since)} AND stopped_at < {_time(until)}"
    if station:
        where += f" AND station = {_text(station)}"
    return f"""
        SELECT station, transaction_id, evse_id, id_token, toString(started_at) AS started,
               toString(stopped_at) AS stopped, energy_wh,
               toInt32(toUnixTimestamp(stopped_at) - toUnixTimestamp(started_at)) AS duration_s,
               stop_reason, closed_by_rule
        FROM {SESSIONS} FINAL WHERE {where} ORDER BY stopped_at, station"""


def silent_sql(minutes: int, at: datetime) -> str:
    """Stations whose last sample is older than ``minutes`` before ``at``. The moment is
    the asker's, like the windows of the other queries, not ClickHouse's now(): the
    server's clock may differ from chargebus's, and an embedded chdb reads the clock
    past the C library (a clock moved for a test, scripts/moved-clock.sh, moves the rest
    of chargebus but not chdb)."""
    return f"""
        SELECT station, site, toString(last_at) AS last_sample FROM (
            SELECT station, any(site) AS site, max(last) AS last_at FROM (
                SELECT station, site, maxMerge(last) AS last FROM {LAST_SAMPLE}
                GROUP BY station, site)
            GROUP BY station)
        WHERE last_at < {_time(at - timedelta(minutes=int(minutes)))} ORDER BY last_at"""


def series_sql(station: str, measurand: str, since: datetime, until: datetime) -> str:
    """One measurand of one station over time, every sample."""
    return f"""
        SELECT toString(ts) AS at, evse_id, phase, unit, value FROM {SAMPLES}
        WHERE station = {_text(station)} AND measurand = {_text(measurand)}
          AND ts >= {_time(since)} AND ts < {_time(until)}
        ORDER BY at, evse_id, phase"""


def latest_registers_sql(transactions: list[tuple[str, str]]) -> str:
    """Per transaction (station, id), its last energy register reading in Wh."""
    listed = ", ".join(f"({_text(station)}, {_text(transaction_id)})"
                       for station, transaction_id in transactions)
    return f"""
        SELECT station, transaction_id, argMax(value, ts) AS wh FROM {SAMPLES}
        WHERE measurand = 'Energy.Active.Import.Register' AND unit = 'Wh'
          AND (station, transaction_id) IN ({listed})
        GROUP BY station, transaction_id"""


class Analytics:
    def __init__(self, ask: Callable[[str], Awaitable[list[dict]]]):
        self._ask = ask

    @classmethod
    def over_nats(cls, nc: Client, timeout: float = 60.0) -> "Analytics":
        async def ask(sql: str) -> list[dict]:
            return await queryreplies.rows_of(nc, sql, timeout)
        return cls(ask)

    async def energy(self, by: str, since: datetime, until: datetime) -> list[dict]:
        return await self._ask(energy_sql(by, since, until))

    async def peak(self, since: datetime, until: datetime) -> list[dict]:
        return await self._ask(peak_sql(since, until))

    async def sessions(self, since: datetime, until: datetime,
                       station: str | None = None) -> list[dict]:
        return await self._ask(sessions_sql(since, until, station))

    async def silent(self, minutes: int, at: datetime) -> list[dict]:
        return await self._ask(silent_sql(minutes, at))

    async def latest_registers(self, transactions: list[tuple[str, str]]
                               ) -> dict[tuple[str, str], float]:
        if not transactions:
            return {}
        rows = await self._ask(latest_registers_sql(transactions))
        return {(row["station"], row["transaction_id"]): float(row["wh"]) for row in rows}

    async def series(self, station: str, measurand: str, since: datetime,
                     until: datetime) -> list[dict]:
        return await self._ask(series_sql(station, measurand, since, until))

    async def events(self, station: str | None, actions: list[str], event_type: str | None,
                     since: datetime | None, until: datetime | None, limit: int,
                     payload: bool = False) -> list[dict]:
        return await self._ask(events_sql(station, actions, event_type, since, until, limit,
                                          payload))

    async def faults(self, hours: int, at: datetime) -> list[dict]:
        return await self._ask(faults_sql(at - timedelta(hours=hours)))

    async def failed_updates(self, days: int, at: datetime) -> list[dict]:
        return await self._ask(failed_updates_sql(at - timedelta(days=days)))
