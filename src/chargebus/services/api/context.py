"""What every handler works with: NATS, the stores, the watched fleet, the keys."""
import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from nats.aio.client import Client
from nats.js import JetStreamContext

from chargebus.runtime.config import Settings
from chargebus.security import apikeys
from chargebus.services.api.access import Access
from chargebus.services.api.problems import not_found
from chargebus.state.fleet import StationView
from chargebus.state.fleetwatch import FleetWatch
from chargebus.state.records import ApiKey
from chargebus.state.stores import Stores


@dataclass
class ApiContext:
    settings: Settings
    nc: Client
    js: JetStreamContext
    stores: Stores
    fleet: FleetWatch
    access: Access
    _work: set[asyncio.Task] = field(default_factory=set)

    def background(self, work: Coroutine[Any, Any, None]) -> None:
        """Work a request started and does not wait for (an operation sent with
        wait=false); held until it ends, and waited for when the service stops."""
        task = asyncio.create_task(work)
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def finish_background(self) -> None:
        await asyncio.gather(*list(self._work), return_exceptions=True)

    def station(self, key: ApiKey, station_id: str) -> StationView | None:
        """What is known of a station the key reaches; 404 for one out of its reach."""
        view = self.fleet.view(station_id)
        if not apikeys.reaches(key, station_id, view.site if view else None):
            raise not_found(f"no station {station_id}")
        return view

    def known_station(self, key: ApiKey, station_id: str) -> StationView:
        view = self.station(key, station_id)
        if view is None:
            raise not_found(f"no station {station_id}")
        return view

    def reaches(self, key: ApiKey, station_id: str) -> bool:
        view = self.fleet.view(station_id)
        return apikeys.reaches(key, station_id, view.site if view else None)


def context(request: Request) -> ApiContext:
    return request.app.state.context
