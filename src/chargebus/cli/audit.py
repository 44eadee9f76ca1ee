"""`chargebus commands log`: the audit trail of CSMS-to-station calls."""
import argparse
import re
from datetime import datetime, timedelta

import orjson

from chargebus.cli.common import print_json, station_id, whole_number, with_nats
from chargebus.ocpp.clock import parse_timestamp, utc_now
from chargebus.operations import audit
from chargebus.runtime.config import Settings

DEFAULT_SINCE = timedelta(days=1)
DEFAULT_LIMIT = 100
_SPAN = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def register(commands) -> None:
    group = commands.add_parser(
        "commands", help="the calls sent to stations and how they ended"
    ).add_subparsers(title="commands")
    log = group.add_parser("log", help="the audit trail, oldest first")
    log.add_argument("station_id", type=station_id, nargs="?",
                     help="one station's (default: every station's)")
    log.add_argument("--since", type=since, default=None,
                     help="an RFC 3339 time, or a span back from now: 30m, 6h, 7d "
                          "(default 1d)")
    log.add_argument("--limit", type=whole_number(1), default=DEFAULT_LIMIT,
                     help=f"the last this many (default {DEFAULT_LIMIT})")
    log.add_argument("--json", action="store_true", help="each record as a JSON line")
    log.set_defaults(command=_log)


def since(text: str) -> datetime:
    span = _SPAN.match(text)
    if span:
        return utc_now() - timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
    try:
        return parse_timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an RFC 3339 time or a span such as 30m, 6h or 7d: {text!r}") from None


def _log(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(nc) -> int:
        records = await audit.read(nc.jetstream(), arguments.station_id,
                                   arguments.since or utc_now() - DEFAULT_SINCE,
                                   arguments.limit)
        for entry in records:
            if arguments.json:
                print_json(entry.model_dump(mode="json"))
            else:
                print(_line(entry))
        return 0

    return with_nats(settings, show)


def _line(entry: audit.CommandRecord) -> str:
    answer = entry.answer or {}
    said = answer.get("status") or answer.get("reason") or answer.get("errorCode") or ""
    if not said and answer:
        said = orjson.dumps(answer).decode()[:80]
    return (f"{entry.requested_at.isoformat(timespec='milliseconds')} {entry.station_id} "
            f"{entry.action} {entry.outcome}{f' {said}' if said else ''} "
            f"{entry.latency_ms:.0f} ms by {entry.sender or '?'}")
