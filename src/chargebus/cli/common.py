"""What every command of the CLI shares: its parser, argument types and the way to NATS."""
import argparse
import asyncio
import getpass
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import orjson
from pydantic import ValidationError

from chargebus.bus.client import connect as connect_bus
from chargebus.bus.client import refused_identity
from chargebus.bus.topology import ensure_topology
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.clock import parse_timestamp
from chargebus.runtime.config import Settings, variable
from chargebus.security import credentials
from chargebus.state.identifiers import (STATION_ID_RULE, TOKEN_ID_RULE, InvalidIdentifier,
                                         check_station_id, check_token_id)
from chargebus.state.stores import Stores


class CommandParser(argparse.ArgumentParser):
    """The parser of chargebus and of each of its commands and subcommands."""

    def __init__(self, **options):
        super().__init__(**options)
        # Every command takes the global options before its name or after it; SUPPRESS
        # keeps a command's parser from overwriting what was given before its name.
        self.add_argument("--nats-url", default=argparse.SUPPRESS,
                          help="NATS server (default nats://127.0.0.1:4222)")
        self.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS,
                          help="where chargebus run keeps data and credentials (default var)")

    def add_subparsers(self, **options):
        # A command named without one of its subcommands shows its own help.
        self.set_defaults(help_of=self)
        return super().add_subparsers(**options)

    def error(self, message: str):
        """One line, not argparse's usage and error: the usage is one --help away."""
        self.exit(2, f"{self.prog}: {message}\n")


def station_id(text: str) -> str:
    try:
        return check_station_id(text)
    except InvalidIdentifier:
        raise argparse.ArgumentTypeError(
            f"not a valid station id: {text!r} (a station id is {STATION_ID_RULE})") from None


def token_id(text: str) -> str:
    try:
        return check_token_id(text)
    except InvalidIdentifier:
        raise argparse.ArgumentTypeError(
            f"not a valid token id: {text!r} (a token id is {TOKEN_ID_RULE})") from None


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"a number of seconds above 0, not {text!r}")
    return value


def whole_number(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argument type: an integer from ``minimum`` (to ``maximum``)."""
    allowed = (f"from {minimum} to {maximum}" if maximum is not None
               else f"of at least {minimum}")

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"a whole number {allowed}, not {text!r}")
        return value
    return convert


def timestamp(text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from None


def version(text: str) -> OcppVersion:
    try:
        return OcppVersion(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"versions are {', '.join(v.value for v in OcppVersion)}, not {text!r}") from None


def versions(text: str) -> list[OcppVersion]:
    try:
        return [OcppVersion(name.strip()) for name in text.split(",") if name.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"versions are {', '.join(v.value for v in OcppVersion)}, not {text!r}") from None


def json_object(text: str) -> dict:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"the payload is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("the payload must be a JSON object")
    return value


def problem_of(error: ValueError) -> str:
    """One line that says what is wrong: a pydantic ValidationError's first error with
    where it is (its own first line only counts the errors)."""
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def print_json(value) -> None:
    print(orjson.dumps(value).decode())


def with_nats(settings: Settings, action: Callable[..., Awaitable[int | None]]) -> int:
    """Run ``action(nc)`` on a connection to NATS; its result is the exit code (0 if None)."""
    async def run() -> int:
        nc = await connect(settings)
        try:
            return await action(nc) or 0
        finally:
            await nc.close()

    return asyncio.run(run())


def with_stores(settings: Settings, action: Callable[..., Awaitable[int | None]]) -> int:
    """Run ``action(stores, nc)`` with the streams and buckets in place."""
    async def run(nc) -> int | None:
        js = nc.jetstream()
        await ensure_topology(js)
        return await action(Stores(js), nc)

    return with_nats(settings, run)


async def _quiet(error: Exception) -> None:
    """Failures reach the user once, as the SystemExit below, not as nats-py tracebacks."""


def operator_identity(settings: Settings) -> Settings:
    """The settings with the identity a command signs in with: the one set, else the
    operator's of the data folder where `chargebus run` made one, else none."""
    if settings.nats_credentials is not None:
        return settings
    seed = credentials.operator_seed(settings.data_dir)
    return settings.model_copy(update={"nats_credentials": seed}) if seed.is_file() else settings


def sender() -> str:
    """Who the command line is, as NATS and the audit trail of calls to stations name it."""
    try:
        return f"chargebus-cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "chargebus-cli"


async def connect(settings: Settings):
    settings = operator_identity(settings)
    try:
        return await connect_bus(settings, sender(), max_reconnect_attempts=1,
                                 allow_reconnect=False, connect_timeout=3, error_cb=_quiet)
    except Exception as error:
        if not refused_identity(error):
            raise SystemExit(f"cannot reach NATS at {settings.nats_url} ({error}); "
                             "is `chargebus run` running?") from None
        who = (f"the identity of {settings.nats_credentials}" if settings.nats_credentials
               else "a client without identity")
        raise SystemExit(f"NATS at {settings.nats_url} refused {who}; set "
                         f"{variable('nats_credentials')} to the operator's seed file, or "
                         f"--data-dir to the folder of `chargebus run`") from None
