"""The ``chargebus`` command."""
import argparse
import sys

from nats.errors import NoRespondersError

from chargebus import __version__
from chargebus.bus import queryreplies
from chargebus.cli import (analytics, apikeys, audit, calls, certificates, charging,
                           credentials, customers, events, files, firmware, locallists, logs,
                           messages, monitors, operations, sessions, simulate, stations, tokens)
from chargebus.cli.common import CommandParser, print_json, whole_number, with_nats
from chargebus.runtime.config import Settings, SettingsProblem, load_settings

PORT = whole_number(0, 65535)


def main(argv: list[str] | None = None) -> int:
    """chargebus: an OCPP charging station management system."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    if not hasattr(arguments, "command"):
        arguments.help_of.print_help()
        return 2
    try:
        settings = load_settings(**_overrides(arguments))
    except SettingsProblem as problem:
        for line in problem.lines:
            print(f"chargebus: {line}", file=sys.stderr)
        return 2
    return arguments.command(settings, arguments)


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="chargebus", description=main.__doc__)
    parser.add_argument("--version", action="version", version=f"chargebus {__version__}")
    commands = parser.add_subparsers(title="commands")

    run = commands.add_parser("run", help="run the whole system on this machine")
    run.add_argument("--edge-host", help="address the edge listens on (default 127.0.0.1)")
    run.add_argument("--edge-port", type=PORT, help="port stations connect to (default 9000)")
    run.add_argument("--metrics-port", type=PORT, dest="edge_metrics_port",
                     help="port of the edge's Prometheus endpoint, 0 for none (default 9464)")
    run.add_argument("--files-port", type=PORT, dest="files_http_port",
                     help="the file service's HTTP(S) port (default 8180)")
    run.add_argument("--ftp-port", type=PORT, dest="files_ftp_port",
                     help="the file service's FTP port, 0 for none (default 2121)")
    run.add_argument("--api-port", type=whole_number(1, 65535), dest="api_port",
                     help="the HTTP API's port (default 8080)")
    run.add_argument("--log-level", type=str.upper,
                     choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                     help="of the supervisor and every service (default INFO)")
    run.set_defaults(command=_run)

    for module in (tokens, stations, sessions, operations, charging, firmware, files, logs,
                   messages, customers, monitors, audit, locallists, calls, certificates,
                   analytics, events, simulate, credentials, apikeys):
        module.register(commands)

    sql = commands.add_parser("sql", help="a read-only SQL query on the meter data")
    sql.add_argument("query")
    sql.set_defaults(command=_sql)
    return parser


def _overrides(arguments: argparse.Namespace) -> dict:
    names = ("nats_url", "edge_host", "edge_port", "edge_metrics_port", "files_http_port",
             "files_ftp_port", "api_port", "data_dir", "log_level")
    return {name: getattr(arguments, name) for name in names
            if getattr(arguments, name, None) is not None}


def _run(settings: Settings, arguments: argparse.Namespace) -> int:
    import uvloop

    from chargebus.runtime import logs
    from chargebus.runtime.supervisor import EmbeddedSystem

    logs.configure("run", settings.log_level)
    return uvloop.run(EmbeddedSystem(settings).run())


def _sql(settings: Settings, arguments: argparse.Namespace) -> int:
    """The rows as they come, one JSON object a line. An error ends them: the rows
    printed before it are not the whole answer."""
    # A reply comes at the latest when ClickHouse stops the query at its time limit.
    wait = settings.query_timeout_seconds + 30

    async def query(nc) -> int:
        try:
            async for row in queryreplies.ask(nc, arguments.query, wait):
                print_json(row)
        except queryreplies.QueryFailed as failed:
            print(f"chargebus sql: query {failed.kind}: {failed.reason}", file=sys.stderr)
            return 2
        except (TimeoutError, NoRespondersError):
            print(f"chargebus sql: no answer from the sink within {wait} s "
                  "(is chargebus running?)", file=sys.stderr)
            return 1
        return 0

    return with_nats(settings, query)
