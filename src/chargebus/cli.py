"""The ``chargebus`` command."""
import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path

import orjson
from pydantic import ValidationError

from chargebus import __version__, bus, events, subjects
from chargebus.clock import parse_timestamp
from chargebus.commands import DEFAULT_TIMEOUT, call_station
from chargebus.config import Settings
from chargebus.identifiers import InvalidIdentifier, check_station_id
from chargebus.passwords import WeakPassword, hash_password
from chargebus.protocol import OcppVersion
from chargebus.records import AuthorizationStatus, StationAccess, Token
from chargebus.stores import Stores, token_key


def main(argv: list[str] | None = None) -> int:
    """chargebus: an OCPP charging station management system."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    if not hasattr(arguments, "command"):
        parser.print_help()
        return 2
    try:
        settings = Settings(**_overrides(arguments))
    except ValidationError as error:
        parser.error(str(error))
    return arguments.command(settings, arguments)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chargebus", description=__doc__)
    parser.add_argument("--version", action="version", version=f"chargebus {__version__}")
    parser.add_argument("--nats-url", help="NATS server (default nats://127.0.0.1:4222)")
    commands = parser.add_subparsers(title="commands")

    run = commands.add_parser("run", help="run the whole system on this machine")
    run.add_argument("--edge-host", help="address the edge listens on (default 127.0.0.1)")
    run.add_argument("--edge-port", type=int, help="port stations connect to (default 9000)")
    run.add_argument("--metrics-port", type=int, dest="edge_metrics_port",
                     help="port of the edge's Prometheus endpoint, 0 for none (default 9464)")
    run.add_argument("--data-dir", type=Path, help="where NATS and chdb keep data (default var)")
    run.set_defaults(command=_run)

    tokens = commands.add_parser("tokens", help="manage id tokens").add_subparsers(title="tokens")
    add = tokens.add_parser("add", help="add or replace a token")
    add.add_argument("id_token")
    add.add_argument("--status", default="Accepted",
                     choices=[status.value for status in AuthorizationStatus])
    add.add_argument("--expires", type=_timestamp, help="RFC 3339 expiry, e.g. 2027-01-01T00:00:00Z")
    add.add_argument("--parent", help="parent id token (group)")
    add.set_defaults(command=_tokens_add)
    listing = tokens.add_parser("list", help="list tokens as JSON lines")
    listing.set_defaults(command=_tokens_list)

    stations = commands.add_parser("stations", help="manage station access").add_subparsers(
        title="stations")
    admit = stations.add_parser("add", help="add a station, or change how it may connect")
    admit.add_argument("station_id")
    admit.add_argument("--password-stdin", action="store_true",
                       help="read its HTTP Basic password (16 to 40 characters) from stdin")
    admit.add_argument("--versions", type=_versions,
                       help="the OCPP versions it may use, e.g. ocpp2.0.1,ocpp1.6 (default: any)")
    admit.set_defaults(command=_stations_add)
    remove = stations.add_parser("remove", help="remove a station's access record")
    remove.add_argument("station_id")
    remove.set_defaults(command=_stations_remove)
    station_list = stations.add_parser("list", help="list stations with access records")
    station_list.set_defaults(command=_stations_list)

    call = commands.add_parser("call", help="send a call to a connected station, print its answer")
    call.add_argument("station_id")
    call.add_argument("action", help="the OCPP action, e.g. Reset")
    call.add_argument("payload", type=_json_object, help="the payload as a JSON object")
    call.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                      help=f"seconds to wait for the answer (default {DEFAULT_TIMEOUT:.0f})")
    call.set_defaults(command=_call)

    sql = commands.add_parser("sql", help="a read-only SQL query on the meter data")
    sql.add_argument("query")
    sql.set_defaults(command=_sql)
    return parser


def _overrides(arguments: argparse.Namespace) -> dict:
    names = ("nats_url", "edge_host", "edge_port", "edge_metrics_port", "data_dir")
    return {name: getattr(arguments, name) for name in names
            if getattr(arguments, name, None) is not None}


def _timestamp(text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from None


def _versions(text: str) -> list[OcppVersion]:
    try:
        return [OcppVersion(name.strip()) for name in text.split(",") if name.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"versions are {', '.join(v.value for v in OcppVersion)}, not {text!r}") from None


def _json_object(text: str) -> dict:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"the payload is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("the payload must be a JSON object")
    return value


def _run(settings: Settings, arguments: argparse.Namespace) -> int:
    import uvloop

    from chargebus.embedded import EmbeddedSystem

    return uvloop.run(EmbeddedSystem(settings).run())


def _tokens_add(settings: Settings, arguments: argparse.Namespace) -> int:
    token = Token(id_token=arguments.id_token, status=arguments.status,
                  expires_at=arguments.expires, parent_id=arguments.parent)

    async def add(stores: Stores) -> None:
        await stores.tokens.put(token, token_key(token.id_token))
        print(f"token {token.id_token}: {token.status.value}")

    return _with_stores(settings, add)


def _tokens_list(settings: Settings, arguments: argparse.Namespace) -> int:
    async def listing(stores: Stores) -> None:
        for token in await stores.tokens.all():
            print(token.model_dump_json())

    return _with_stores(settings, listing)


def _stations_add(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        check_station_id(arguments.station_id)
        password_hash = (hash_password(sys.stdin.readline().rstrip("\n"))
                         if arguments.password_stdin else None)
    except (InvalidIdentifier, WeakPassword) as error:
        print(f"chargebus stations add: {error}", file=sys.stderr)
        return 2
    access = StationAccess(station_id=arguments.station_id, password_hash=password_hash,
                           versions=arguments.versions)

    async def add(stores: Stores) -> None:
        await stores.access.put(access, arguments.station_id)
        how = "with a password" if password_hash else "without a password"
        print(f"station {access.station_id}: may connect {how}, "
              + (", ".join(v.value for v in access.versions) if access.versions else "any version"))

    return _with_stores(settings, add)


def _stations_remove(settings: Settings, arguments: argparse.Namespace) -> int:
    async def remove(stores: Stores) -> None:
        await stores.access.delete(arguments.station_id)
        print(f"station {arguments.station_id}: access record removed")

    return _with_stores(settings, remove)


def _stations_list(settings: Settings, arguments: argparse.Namespace) -> int:
    async def listing(stores: Stores) -> None:
        for access in await stores.access.all():
            shown = access.model_dump(mode="json", exclude={"password_hash"})
            print(orjson.dumps(shown | {"password": access.password_hash is not None}).decode())

    return _with_stores(settings, listing)


def _call(settings: Settings, arguments: argparse.Namespace) -> int:
    """Prints the answer as JSON on stdout; exit 0 for a CALLRESULT, 1 for anything else."""
    async def send() -> int:
        nc = await _connect(settings)
        try:
            reply = await call_station(nc, arguments.station_id, arguments.action,
                                       arguments.payload, arguments.timeout)
        finally:
            await nc.close()
        if reply.ok:
            print(orjson.dumps(reply.body).decode())
            return 0
        print(f"{reply.outcome.value}: {orjson.dumps(reply.body).decode()}", file=sys.stderr)
        return 1

    return asyncio.run(send())


def _sql(settings: Settings, arguments: argparse.Namespace) -> int:
    async def query() -> int:
        nc = await _connect(settings)
        try:
            reply = await nc.request(subjects.sink_query(), arguments.query.encode(), timeout=60)
        finally:
            await nc.close()
        error = (reply.headers or {}).get(events.ERROR)
        if error is not None:
            print(f"query {error}: {reply.data.decode()}", file=sys.stderr)
            return 1
        for row in orjson.loads(reply.data)["data"]:
            print(orjson.dumps(row).decode())
        return 0

    return asyncio.run(query())


def _with_stores(settings: Settings, action) -> int:
    async def run() -> int:
        nc = await _connect(settings)
        try:
            js = nc.jetstream()
            await bus.ensure_topology(js)
            await action(Stores(js))
        finally:
            await nc.close()
        return 0

    return asyncio.run(run())


async def _quiet(error: Exception) -> None:
    """Failures reach the user once, as the SystemExit below, not as nats-py tracebacks."""


async def _connect(settings: Settings):
    try:
        return await bus.connect(settings, "chargebus-cli", max_reconnect_attempts=1,
                                 allow_reconnect=False, connect_timeout=3, error_cb=_quiet)
    except Exception as error:
        raise SystemExit(f"cannot reach NATS at {settings.nats_url} ({error}); "
                         "is `chargebus run` running?") from None
