"""Queries over the station events (chargebus.meter.stationevents), the same SQL on chdb
and on a ClickHouse server (18.16 included); chargebus.meter.analytics.Analytics asks them.

Times are compared to the second (18.16 keeps no more). The analytics' windows start at
the asker's moment less their span, not at ClickHouse's now(): see analytics.silent_sql.
"""
from collections.abc import Iterable
from datetime import datetime

from chargebus.domain import firmware
from chargebus.meter.clickhouse.migrations import STATION_EVENTS
from chargebus.meter.clickhouse.payloads import string_literal

# What the listing shows of a row; the payload only where asked (it is the whole call).
_LISTED = ("toString(ts) AS at, station, version, action, event_type, component, variable, "
           "severity, trigger, tech_code, firmware_status, status, model")

# Firmware statuses that end an update unsuccessfully, in 1.6, its security extension
# and 2.x: the download, the signature check or the installation failed.
FAILED_FIRMWARE = tuple(sorted(firmware.FAILED))

# A fault: a connector reported Faulted (1.6 status, 2.x connectorStatus), a 1.6 error
# code other than NoError (some come with another status: a failing meter, a weak
# signal), or a 2.x event that a component became unavailable through a fault or has a
# problem (the AvailabilityState and Problem variables of OCPP 2.x's device model).
FAULT = """(action = 'StatusNotification' AND (status = 'Faulted'
                OR event_type NOT IN ('', 'NoError')))
           OR (action = 'NotifyEvent' AND ((variable = 'AvailabilityState' AND status = 'Faulted')
                OR (variable = 'Problem' AND lower(status) = 'true')))"""


def _time(moment: datetime) -> str:
    return f"toDateTime({int(moment.timestamp())}, 'UTC')"


def _listed(values: Iterable[str]) -> str:
    return ", ".join(string_literal(value) for value in values)


def events_sql(station: str | None, actions: list[str], event_type: str | None,
               since: datetime | None, until: datetime | None, limit: int,
               payload: bool = False) -> str:
    """The newest events first, at most ``limit``; each filter only where given."""
    where = ["1"]
    if station:
        where.append(f"station = {string_literal(station)}")
    if actions:
        where.append(f"action IN ({_listed(actions)})")
    if event_type is not None:
        where.append(f"event_type = {string_literal(event_type)}")
    if since is not None:
        where.append(f"ts >= {_time(since)}")
    if until is not None:
        where.append(f"ts < {_time(until)}")
    return f"""
        SELECT {_LISTED}{', payload' if payload else ''} FROM {STATION_EVENTS}
        WHERE {' AND '.join(where)}
        ORDER BY ts DESC, stream_seq DESC, item LIMIT {int(limit)}"""


def faults_sql(since: datetime) -> str:
    """Per station with a fault (FAULT) since then: how many, the first and last, and
    the action that reported the last."""
    return f"""
        SELECT station, count() AS faults, toString(min(ts)) AS first,
               toString(max(ts)) AS last, argMax(action, ts) AS last_action
        FROM {STATION_EVENTS}
        WHERE ts >= {_time(since)} AND ({FAULT})
        GROUP BY station ORDER BY max(ts) DESC, station"""


def failed_updates_sql(since: datetime) -> str:
    """Failed firmware updates (FAILED_FIRMWARE) since then, per model: each station's
    model from its latest boot, whenever that was ('' for a station not seen booting)."""
    return f"""
        SELECT model, uniqExact(station) AS stations, count() AS failures FROM (
            SELECT station FROM {STATION_EVENTS}
            WHERE ts >= {_time(since)} AND firmware_status IN ({_listed(FAILED_FIRMWARE)})
        ) AS failed
        ANY LEFT JOIN (
            SELECT station, argMax(model, ts) AS model FROM {STATION_EVENTS}
            WHERE action = 'BootNotification' GROUP BY station
        ) AS booted USING station
        GROUP BY model ORDER BY failures DESC, model"""
