"""The API service's process: the watched fleet and keys, and the HTTP(S) server."""
import logging

from chargebus.bus.client import BusClient
from chargebus.runtime.config import Settings
from chargebus.runtime.service import Stop
from chargebus.services.api.access import Access, KeyRing, RateLimits
from chargebus.services.api.app import application
from chargebus.services.api.context import ApiContext
from chargebus.services.api.serving import HttpServer
from chargebus.state.fleetwatch import FleetWatch
from chargebus.state.stores import Stores

log = logging.getLogger(__name__)


async def start_api(settings: Settings, nc: BusClient) -> Stop:
    js = nc.jetstream()
    fleet = FleetWatch(js)
    keys = KeyRing(js)
    await fleet.start()
    await keys.start()
    access = Access(keys, RateLimits(settings.api_rate_per_second, settings.api_rate_burst))
    context = ApiContext(settings, nc, js, Stores(js), fleet, access)
    server = HttpServer(application(context, access), settings.api_host, settings.api_port,
                        settings.api_tls_certificate, settings.api_tls_key)
    try:
        await server.start()
    except OSError as error:
        raise SystemExit(f"api: cannot listen: {error}") from None
    log.info("api: %s (%d stations known)", settings.api_url, len(fleet))

    async def stop() -> None:
        await server.stop()
        await context.finish_background()
        await keys.stop()
        await fleet.stop()

    return stop
