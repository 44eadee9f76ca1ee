"""What every command of the CLI shares: argument types and the way to NATS."""
import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

import orjson

from chargebus import bus
from chargebus.clock import parse_timestamp
from chargebus.config import Settings
from chargebus.protocol import OcppVersion
from chargebus.stores import Stores


def timestamp(text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from None


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
        await bus.ensure_topology(js)
        return await action(Stores(js), nc)

    return with_nats(settings, run)


async def _quiet(error: Exception) -> None:
    """Failures reach the user once, as the SystemExit below, not as nats-py tracebacks."""


async def connect(settings: Settings):
    try:
        return await bus.connect(settings, "chargebus-cli", max_reconnect_attempts=1,
                                 allow_reconnect=False, connect_timeout=3, error_cb=_quiet)
    except Exception as error:
        raise SystemExit(f"cannot reach NATS at {settings.nats_url} ({error}); "
                         "is `chargebus run` running?") from None
