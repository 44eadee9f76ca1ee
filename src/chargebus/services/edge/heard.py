"""When each station last sent something, kept in KV for the fleet view: written for the
stations heard since the last round, a round every edge_heard_refresh_seconds, rather
than at every message."""
import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Protocol

from chargebus.ocpp.clock import utc_now
from chargebus.runtime.periodic import Periodic
from chargebus.state.records import LastHeard
from chargebus.state.stores import Stores

log = logging.getLogger(__name__)

# Writes in flight at once in a round.
AT_ONCE = 256


class Heard(Protocol):
    """A station's connection, as far as this needs it."""

    @property
    def station_id(self) -> str: ...

    @property
    def heard_at(self) -> float:
        """time.monotonic() of its last frame."""


class LastHeardRecorder:
    def __init__(self, connections: Callable[[], Iterable[Heard]], stores: Stores,
                 refresh_seconds: float):
        self._connections = connections
        self._stores = stores
        self._written: dict[str, float] = {}  # station id -> the heard_at last written
        self._rounds = Periodic(refresh_seconds, self.record, "recording when stations "
                                "were last heard", log)

    def start(self) -> None:
        self._rounds.start()

    def stop(self) -> None:
        self._rounds.stop()

    async def record(self) -> int:
        """Write the stations heard since their last write; how many were written."""
        now, wall = time.monotonic(), utc_now()
        due = []
        present = set()
        for connection in self._connections():
            present.add(connection.station_id)
            if self._written.get(connection.station_id) != connection.heard_at:
                due.append((connection.station_id, connection.heard_at))
        for station_id in set(self._written) - present:
            del self._written[station_id]
        for start in range(0, len(due), AT_ONCE):
            chunk = due[start:start + AT_ONCE]
            await asyncio.gather(*(self._stores.last_heard.put(
                LastHeard(station_id=station_id,
                          heard_at=wall - timedelta(seconds=now - heard_at)), station_id)
                for station_id, heard_at in chunk))
            self._written.update(chunk)
        return len(due)
