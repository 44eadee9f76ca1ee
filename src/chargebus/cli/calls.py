"""`chargebus call`: a call to a connected station, wherever it is connected."""
import argparse
import sys

import orjson

from chargebus.cli.common import json_object, print_json, seconds, station_id, with_nats
from chargebus.ocpp import OcppVersion, calls_from_stations, calls_to_stations
from chargebus.ocpp import codec
from chargebus.operations.commands import DEFAULT_TIMEOUT, call_station
from chargebus.runtime.config import Settings
from chargebus.state.stores import Stores


def register(commands) -> None:
    call = commands.add_parser("call", help="send a call to a connected station, print its answer")
    call.add_argument("station_id", type=station_id)
    call.add_argument("action", help="the OCPP action, e.g. Reset")
    call.add_argument("payload", type=json_object, help="the payload as a JSON object")
    call.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT,
                      help=f"seconds to wait for the answer (default {DEFAULT_TIMEOUT:.0f})")
    call.set_defaults(command=_call)


def _call(settings: Settings, arguments: argparse.Namespace) -> int:
    """Prints the answer as JSON on stdout; exit 0 for a CALLRESULT, 1 for anything else,
    2 for a call that is not one to send to this station."""
    async def send(nc) -> int:
        presence = await Stores(nc.jetstream()).presence.get(arguments.station_id)
        refusal = why_not_sent(arguments.action, arguments.payload,
                               presence.version if presence else None)
        if refusal:
            print(f"chargebus call: {refusal}", file=sys.stderr)
            return 2
        reply = await call_station(nc, arguments.station_id, arguments.action,
                                   arguments.payload, arguments.timeout)
        if reply.ok:
            print_json(reply.body)
            return 0
        print(f"{reply.outcome.value}: {orjson.dumps(reply.body).decode()}", file=sys.stderr)
        return 1

    return with_nats(settings, send)


def why_not_sent(action: str, payload: dict, version: OcppVersion | None) -> str | None:
    """Why the CSMS cannot send this call to a station of ``version`` (None: a station
    never seen, whatever version it speaks), or None when it can: the edge would refuse
    the same payload."""
    versions = [version] if version else list(OcppVersion)
    if not any(action in calls_to_stations(each) for each in versions):
        where = f" in {version}" if version else ""
        if any(action in calls_from_stations(each) for each in versions):
            return f"{action} is a call from station to CSMS{where}, not one the CSMS sends"
        near = sorted({known for each in versions for known in calls_to_stations(each)
                       if known.casefold() == action.casefold()})
        return (f"{action} is not an action the CSMS sends{where or ' in any OCPP version'}"
                + (f" (did you mean {near[0]}?)" if near else ""))
    if version is None:
        return None
    try:
        codec.call(codec.dialect_of(version), "0", action, payload)
    except codec.InvalidOutgoing as invalid:
        return f"the payload breaks the {version} schema: {invalid}"
    return None
