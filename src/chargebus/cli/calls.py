"""`chargebus call`: a call to a connected station, wherever it is connected."""
import argparse
import sys

import orjson

from chargebus.cli.common import json_object, print_json, with_nats
from chargebus.commands import DEFAULT_TIMEOUT, call_station
from chargebus.config import Settings


def register(commands) -> None:
    call = commands.add_parser("call", help="send a call to a connected station, print its answer")
    call.add_argument("station_id")
    call.add_argument("action", help="the OCPP action, e.g. Reset")
    call.add_argument("payload", type=json_object, help="the payload as a JSON object")
    call.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                      help=f"seconds to wait for the answer (default {DEFAULT_TIMEOUT:.0f})")
    call.set_defaults(command=_call)


def _call(settings: Settings, arguments: argparse.Namespace) -> int:
    """Prints the answer as JSON on stdout; exit 0 for a CALLRESULT, 1 for anything else."""
    async def send(nc) -> int:
        reply = await call_station(nc, arguments.station_id, arguments.action,
                                   arguments.payload, arguments.timeout)
        if reply.ok:
            print_json(reply.body)
            return 0
        print(f"{reply.outcome.value}: {orjson.dumps(reply.body).decode()}", file=sys.stderr)
        return 1

    return with_nats(settings, send)
