"""The life of one chargebus service process: connect, start, announce, stop on signal."""
import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable

import uvloop
from nats.errors import ConnectionClosedError, ConnectionReconnectingError

from chargebus.bus import subjects
from chargebus.bus.client import BusClient, connect, refused_identity
from chargebus.bus.topology import TopologyMissing, require_topology
from chargebus.runtime import logs
from chargebus.runtime.config import Settings, SettingsProblem, load_settings

log = logging.getLogger(__name__)

CONNECT_ATTEMPT_SECONDS = 30.0
# An edge holds thousands of connections for hours, and a full collection walks every
# object of every one: with the default thresholds (700, 10, 10) collections took a
# fifth of an edge's CPU under load and over a third in a reconnect storm. Young
# garbage is still collected young; full passes come far more rarely.
COLLECTOR_THRESHOLDS = (50_000, 50, 100)

Stop = Callable[[], Awaitable[None]]
Start = Callable[[Settings, BusClient], Awaitable[Stop]]


# A service that cannot finish its stop gives up after this long: less than the grace
# the supervisor gives its children (runtime.supervisor.STOP_GRACE_SECONDS).
STOP_SECONDS = 6.0


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
        await require_topology(nc.jetstream())
    except TopologyMissing as missing:
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

    async def stop_and_drain() -> None:
        await stop()
        await nc.drain()
    try:
        await asyncio.wait_for(stop_and_drain(), STOP_SECONDS)
    except (TimeoutError, ConnectionClosedError, ConnectionReconnectingError):
        # NATS stopped with us (the supervisor was killed, and its nats-server went with
        # it): nothing is left to finish cleanly with, and lingering would hold ports.
        # Leave at once: the loop's own shutdown would wait for the work left half done
        # (threads, a process pool) that can no longer finish.
        log.warning("%s did not stop cleanly in %g s: NATS is gone; leaving", name,
                    STOP_SECONDS)
        logging.shutdown()
        os._exit(0)


async def _connect_with_retries(settings: Settings, name: str) -> BusClient:
    """Connected, or a one-line exit: nats-py tries a first connection for ever when told
    to keep reconnecting, so a refused identity or an unreachable server would hang the
    service without a word."""
    loop = asyncio.get_running_loop()
    refused: asyncio.Future[Exception] = loop.create_future()

    async def on_error(error: Exception) -> None:
        if refused_identity(error):
            if not refused.done():
                refused.set_result(error)
            log.error("NATS at %s refused this process's identity: %s", settings.nats_url, error)
        else:
            log.warning("NATS at %s: %s", settings.nats_url, error)

    connecting = asyncio.ensure_future(connect(settings, name, error_cb=on_error))
    either: set[asyncio.Future[BusClient] | asyncio.Future[Exception]] = {connecting, refused}
    done, _ = await asyncio.wait(either, timeout=CONNECT_ATTEMPT_SECONDS,
                                 return_when=asyncio.FIRST_COMPLETED)
    if connecting in done:
        return connecting.result()
    connecting.cancel()
    if refused in done:
        identity = settings.nats_credentials or "none (CHARGEBUS_NATS_CREDENTIALS is not set)"
        raise SystemExit(f"{name}: NATS at {settings.nats_url} refused this process's "
                         f"identity {identity}: {refused.result()}")
    raise SystemExit(f"{name}: cannot reach NATS at {settings.nats_url} within "
                     f"{CONNECT_ATTEMPT_SECONDS:.0f} s")
