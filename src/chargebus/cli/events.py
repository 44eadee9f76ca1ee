"""`chargebus events`: the stations' notifications kept in ClickHouse, newest first
(chargebus.meter.stationevents), and two daily analytics over them: the stations with
faults and the failed firmware updates per model (chargebus.meter.eventqueries)."""
import argparse
import sys

from chargebus.cli.analytics import refuses_window, show_rows
from chargebus.cli.common import station_id, timestamp, whole_number
from chargebus.meter.stationevents import event_action_names
from chargebus.ocpp.clock import utc_now
from chargebus.runtime.config import Settings

DEFAULT_LIMIT = 100
DEFAULT_HOURS = 24
DEFAULT_DAYS = 7
# The analytics, named where a station would be; each with the one option it takes.
REPORTS = {"faults": "hours", "failed-updates": "days"}
# The listing's options, by their names in the arguments.
_LISTING = {"action": "--action", "event_type": "--type", "since": "--since",
            "until": "--until", "limit": "--limit"}


def register(commands) -> None:
    events = commands.add_parser(
        "events", help="station notifications: newest first, faults, failed updates",
        description="`events [STATION]` lists the events, newest first; `events faults` "
                    "the stations with a fault (a connector Faulted, a 1.6 error code, a "
                    "2.x AvailabilityState Faulted or Problem event); `events failed-updates` "
                    "the failed firmware updates per model.")
    events.add_argument("what", nargs="?", metavar="STATION | faults | failed-updates",
                        help="one station's events (default: every station's), or a report")
    events.add_argument("--action", action="append", metavar="ACTION",
                        help="only this action's events (again for more)")
    events.add_argument("--type", dest="event_type",
                        help="only this event type (a 1.6 errorCode, a security event's "
                             "type, a NotifyEvent's eventNotificationType, ...)")
    events.add_argument("--since", type=timestamp, help="RFC 3339, to the second")
    events.add_argument("--until", type=timestamp, help="RFC 3339, to the second")
    events.add_argument("--limit", type=whole_number(1),
                        help=f"the newest this many (default {DEFAULT_LIMIT})")
    events.add_argument("--hours", type=whole_number(1),
                        help=f"faults of the last this many hours (default {DEFAULT_HOURS})")
    events.add_argument("--days", type=whole_number(1),
                        help=f"failed updates of the last this many days (default {DEFAULT_DAYS})")
    events.add_argument("--format", choices=("table", "csv", "json"), default="table")
    events.set_defaults(command=_run)


def _run(settings: Settings, arguments: argparse.Namespace) -> int:
    problem = _problem(arguments)
    if problem:
        print(f"chargebus events: {problem}", file=sys.stderr)
        return 2
    if arguments.what == "faults":
        hours = arguments.hours or DEFAULT_HOURS
        return show_rows(settings, "events faults",
                         lambda analytics: analytics.faults(hours, utc_now()), arguments.format)
    if arguments.what == "failed-updates":
        days = arguments.days or DEFAULT_DAYS
        return show_rows(settings, "events failed-updates",
                         lambda analytics: analytics.failed_updates(days, utc_now()),
                         arguments.format)
    if arguments.since and refuses_window("events", arguments.since,
                                          arguments.until or utc_now(),
                                          now=arguments.until is None):
        return 2
    # The whole call, where the output is for a program rather than a reader.
    payload = arguments.format != "table"
    return show_rows(settings, "events", lambda analytics: analytics.events(
        arguments.what, arguments.action or [], arguments.event_type, arguments.since,
        arguments.until, arguments.limit or DEFAULT_LIMIT, payload), arguments.format)


def _problem(arguments: argparse.Namespace) -> str | None:
    """What is wrong with the arguments together, or None."""
    report = arguments.what if arguments.what in REPORTS else None
    for name, option in REPORTS.items():
        if getattr(arguments, option) is not None and name != report:
            return f"--{option} goes with `events {name}`"
    if report is not None:
        given = [option for name, option in _LISTING.items()
                 if getattr(arguments, name) is not None]
        return f"{given[0]} goes with the list of events, not `events {report}`" \
            if given else None
    if arguments.what is not None:
        try:
            station_id(arguments.what)
        except argparse.ArgumentTypeError as error:
            return str(error)
    unknown = sorted(set(arguments.action or []) - set(event_action_names()))
    if unknown:
        return (f"{unknown[0]} is not an action kept as a station event (those are "
                f"{', '.join(event_action_names())})")
    return None
