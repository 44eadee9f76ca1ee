"""When stations were last heard: the edge writes it for the stations heard since its
last round, not at every message (services/edge/heard.py), for the fleet view."""
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest

from chargebus.ocpp.clock import utc_now
from chargebus.services.edge.heard import LastHeardRecorder
from chargebus.state.fleet import fleet
from chargebus.state.stores import Stores

pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass
class Connection:
    """A station's connection as the recorder reads it: its id and its last frame."""

    station_id: str
    heard_at: float


async def test_only_the_stations_heard_since_the_last_round_are_written(bus):
    stores = Stores(bus.jetstream())
    tag = uuid.uuid4().hex[:6]
    now = time.monotonic()
    quiet = Connection(f"HQ-{tag}", now - 120)
    busy = Connection(f"HB-{tag}", now - 1)
    connections = [quiet, busy]
    recorder = LastHeardRecorder(lambda: connections, stores, refresh_seconds=300)
    before = utc_now()

    first = await recorder.record()
    again = await recorder.record()  # nobody heard since
    busy.heard_at = time.monotonic()
    third = await recorder.record()
    connections.remove(quiet)  # gone: forgotten here, its last time stays in KV
    fourth = await recorder.record()

    assert (first, again, third, fourth) == (2, 0, 1, 0)
    quiet_at = (await stores.last_heard.get(quiet.station_id)).heard_at
    busy_at = (await stores.last_heard.get(busy.station_id)).heard_at
    # Two minutes before it was written, as the connection's monotonic time says.
    assert before - timedelta(seconds=180) < quiet_at < before - timedelta(seconds=60)
    assert busy_at > quiet_at
    views = {view.station_id: view for view in await fleet(stores)}
    assert views[busy.station_id].last_message_at == busy_at
