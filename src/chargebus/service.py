"""The life of one chargebus service process: connect, start, announce, stop on signal."""
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Awaitable, Callable

import uvloop
from nats.aio.client import Client

from chargebus import bus, logs, subjects
from chargebus.config import Settings, SettingsProblem, load_settings

log = logging.getLogger(__name__)

CONNECT_ATTEMPT_SECONDS = 30.0
# An edge holds thousands of connections for hours, and a full collection walks every
# object of every one: with the default thresholds (700, 10, 10) collections took a
# fifth of an edge's CPU under load and over a third in a reconnect storm. Young
# garbage is still collected young; full passes come far more rarely.
COLLECTOR_THRESHOLDS = (50_000, 50, 100)

Stop = Callable[[], Awaitable[None]]
Start = Callable[[Settings, Client], Awaitable[Stop]]


def run_service(name: str, start: Start) -> None:
    """Run a service until SIGTERM or SIGINT; ``start`` returns the coroutine that stops it."""
    try:
        settings = load_settings()
    except SettingsProblem as problem:
        for line in problem.lines:
            print(f"{name}: {line}", file=sys.stderr)
        raise SystemExit(2) from None
    logs.configure(name, settings.log_level)
    uvloop.run(_serve(name, start, settings))


async def _serve(name: str, start: Start, settings: Settings) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stopping.set)

    nc = await _connect_with_retries(settings, name)
    try:
        await bus.require_topology(nc.jetstream())
    except bus.TopologyMissing as missing:
        raise SystemExit(f"{name}: JetStream lacks {missing} and this identity may not make "
                         "them; run `chargebus setup` as the operator first") from None
    stop = await start(settings, nc)
    # What exists once the service has started (modules, settings, clients) lives as
    # long as the process: out of the collector's sight.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    await nc.publish(subjects.service_ready(name), b"")
    await nc.flush()
    log.info("%s is ready", name)

    await stopping.wait()
    log.info("%s is stopping", name)
    await stop()
    await nc.drain()


async def _connect_with_retries(settings: Settings, name: str) -> Client:
    deadline = asyncio.get_running_loop().time() + CONNECT_ATTEMPT_SECONDS
    while True:
        try:
            return await bus.connect(settings, name)
        except (OSError, asyncio.TimeoutError) as error:
            if asyncio.get_running_loop().time() > deadline:
                raise SystemExit(f"{name}: cannot reach NATS at {settings.nats_url}: {error}")
            log.warning("NATS at %s not reachable yet (%s); retrying", settings.nats_url, error)
            await asyncio.sleep(1)
