"""`chargebus logs`: ask a station to upload its diagnostics or security log (1.6
GetDiagnostics, the 1.6 security extension's and 2.x GetLog) to the file service,
follow the upload, and find the files."""
import argparse
import sys
from pathlib import Path

from chargebus.cli.common import print_json, station_id, timestamp, whole_number, \
    with_stores
from chargebus.cli.files import fetch, line_of
from chargebus.cli.operations import operation_command
from chargebus.domain.operations import LogType, RequestLog
from chargebus.operations.locations import of_file_service
from chargebus.files import grants
from chargebus.manage import stationlogs as manage_logs
from chargebus.runtime.config import Settings
from chargebus.state.stores import Stores



def register(commands) -> None:
    group = commands.add_parser(
        "logs", help="stations' diagnostics and logs, uploaded to the file service"
    ).add_subparsers(title="logs")
    request = operation_command(group, "request", "ask a station to upload a log")
    request.add_argument("--type", choices=[kind.value for kind in LogType],
                         default=LogType.DIAGNOSTICS.value, dest="log_type")
    request.add_argument("--since", type=timestamp, help="RFC 3339: entries from then on")
    request.add_argument("--until", type=timestamp, help="RFC 3339: entries until then")
    request.add_argument("--via", choices=("http", "ftp"),
                         help="how it uploads to the file service (default ftp for a 1.6 "
                              "GetDiagnostics, which many stations can do no other way; "
                              "http for GetLog)")
    request.add_argument("--location", help="upload to this URL of your own instead")
    request.add_argument("--retries", type=whole_number(0))
    request.add_argument("--retry-interval", type=whole_number(0), help="seconds")
    request.set_defaults(build=_request)

    listing = group.add_parser("list", help="the stations' log requests and their files")
    listing.add_argument("station_id", type=station_id, nargs="?")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(command=_list)

    get = group.add_parser("get", help="download a file a station uploaded")
    get.add_argument("file_id")
    get.add_argument("-o", "--output", type=Path,
                     help="where to write it, - for standard output (default: its name)")
    get.set_defaults(command=_get)


def _request(arguments: argparse.Namespace) -> RequestLog:
    if arguments.since and arguments.until and arguments.since >= arguments.until:
        raise ValueError("--since is not before --until")
    return RequestLog(log_type=LogType(arguments.log_type),
                      location=arguments.location or of_file_service(arguments.via or ""),
                      since=arguments.since,
                      until=arguments.until, retries=arguments.retries,
                      retry_interval=arguments.retry_interval)


def _list(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        found = await manage_logs.requests(stores, arguments.station_id)
        if not found:
            print("chargebus logs list: no log requests"
                  + (f" of {arguments.station_id}" if arguments.station_id else ""),
                  file=sys.stderr)
            return 1
        for request in found:
            if arguments.json:
                print_json(request.model_dump(mode="json"))
                continue
            print(f"{request.station_id}  #{request.request_id}  {request.log_type:<11} "
                  f"{request.state:<10} via {request.via or '-'}  "
                  f"asked {request.requested_at.isoformat(timespec='seconds')}"
                  + (f"  file {request.filename}" if request.filename else ""))
            for status in request.statuses:
                print(f"    {status.at.isoformat(timespec='seconds')}  {status.status}")
            for stored in request.files:
                print(f"    {line_of(stored)}")
        return 0

    return with_stores(settings, show)


def _get(settings: Settings, arguments: argparse.Namespace) -> int:
    async def get(stores: Stores, nc) -> int:
        stored = await stores.files.get(arguments.file_id) \
            if grants.GRANT_ID.fullmatch(arguments.file_id) else None
        if stored is None or stored.station_id is None:
            print(f"chargebus logs get: no uploaded file {arguments.file_id} "
                  "(chargebus logs list shows them)", file=sys.stderr)
            return 2
        target = arguments.output or Path(stored.name)
        problem = await fetch(stores, settings, stored, target)
        if problem is not None:
            print(f"chargebus logs get: {problem}", file=sys.stderr)
            return 1
        if str(target) != "-":
            print(f"{target}: {stored.size} bytes, sha256 {stored.sha256}")
        return 0

    return with_stores(settings, get)
