"""`chargebus analytics`: the analytics queries, as a table, CSV or JSON."""
import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import orjson
from nats.errors import NoRespondersError

from chargebus.bus.queryreplies import QueryFailed
from chargebus.cli.common import station_id, timestamp, whole_number, with_nats
from chargebus.meter.analytics import Analytics
from chargebus.meter.rows import as_csv, as_table
from chargebus.meter.rules import DEFAULT_MEASURAND
from chargebus.ocpp.clock import utc_now
from chargebus.runtime.config import Settings


def register(commands) -> None:
    analytics = commands.add_parser(
        "analytics", help="energy, peak demand, sessions, silent stations, time series"
    ).add_subparsers(title="analytics")

    def query(name: str, help_text: str, window: bool = True) -> argparse.ArgumentParser:
        parser = analytics.add_parser(name, help=help_text)
        if window:
            parser.add_argument("--since", type=timestamp, help="RFC 3339 (default: 7 days ago)")
            parser.add_argument("--until", type=timestamp, help="RFC 3339 (default: now)")
        parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
        parser.set_defaults(command=_run, query=name)
        return parser

    energy = query("energy", "energy imported per station or site and day (Wh)")
    energy.add_argument("--by", choices=("station", "site"), default="station")
    query("peak", "peak demand per site in 15-minute slots (W)")
    sessions = query("sessions", "finished transactions with energy and duration")
    sessions.add_argument("--station", type=station_id)
    silent = query("silent", "stations that sent no meter data for N minutes", window=False)
    silent.add_argument("--minutes", type=whole_number(1), default=60)
    series = query("series", "one measurand of one station over time")
    series.add_argument("station", type=station_id)
    series.add_argument("--measurand", default=DEFAULT_MEASURAND)


def _run(settings: Settings, arguments: argparse.Namespace) -> int:
    given_until = getattr(arguments, "until", None)
    until = given_until or utc_now()
    since = getattr(arguments, "since", None) or until - timedelta(days=7)
    if refuses_window(f"analytics {arguments.query}", since, until, now=given_until is None):
        return 2

    query: Callable[[Analytics], Awaitable[list[dict]]] = {
        "energy": lambda analytics: analytics.energy(arguments.by, since, until),
        "peak": lambda analytics: analytics.peak(since, until),
        "sessions": lambda analytics: analytics.sessions(since, until, arguments.station),
        "silent": lambda analytics: analytics.silent(arguments.minutes, until),
        "series": lambda analytics: analytics.series(arguments.station, arguments.measurand,
                                                     since, until),
    }[arguments.query]
    return show_rows(settings, f"analytics {arguments.query}", query, arguments.format)


def refuses_window(command: str, since: datetime, until: datetime, now: bool) -> bool:
    """True, having said so in one line, where the window is empty; ``now``: ``until``
    is the default, the present."""
    if since < until:
        return False
    print(f"chargebus {command}: --since {since.isoformat()} is not before --until "
          f"{until.isoformat()}" + (" (now)" if now else ""), file=sys.stderr)
    return True


def show_rows(settings: Settings, command: str,
              query: Callable[[Analytics], Awaitable[list[dict]]], output: str) -> int:
    """Prints the rows the sink answers ``query`` with, as ``output`` says; 1 with one
    line where it failed the query or did not answer."""
    async def ask(nc) -> int:
        # A reply comes at the latest when ClickHouse stops the query at its time limit.
        analytics = Analytics.over_nats(nc, timeout=settings.query_timeout_seconds + 30)
        try:
            rows = await query(analytics)
        except QueryFailed as error:
            print(f"chargebus {command}: {error}", file=sys.stderr)
            return 1
        except (TimeoutError, NoRespondersError):
            print(f"chargebus {command}: no answer from the sink (is chargebus running?)",
                  file=sys.stderr)
            return 1
        sys.stdout.write(render(rows, output))
        return 0

    return with_nats(settings, ask)


def render(rows: list[dict], output: str) -> str:
    if output == "json":
        return orjson.dumps(rows).decode() + "\n"
    return as_csv(rows) if output == "csv" else as_table(rows)
