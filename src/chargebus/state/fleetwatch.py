"""The fleet view kept up to date from watches of its five buckets, for a process that
answers many questions about it (the HTTP API): a page of stations is a slice of what is
already here, not a read of every bucket (chargebus.state.fleet.fleet, which the command
line uses once).

Each watch replays the latest record per key, then follows the changes; the view is
``ready`` once every watch has replayed its bucket. How stale it can be: the time NATS
takes to push a change, as for any KV watcher.
"""
import asyncio
import bisect
import logging
from collections.abc import Callable, Iterator

from typing import Any

from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from pydantic import BaseModel

from chargebus.bus import subjects
from chargebus.state import watching
from chargebus.state.fleet import FleetFold, StationView
from chargebus.state.records import (ConnectorStatus, LastHeard, Presence, StationAdmission,
                                     StationInfo)

log = logging.getLogger(__name__)


class FleetWatch:
    def __init__(self, js: JetStreamContext):
        self._js = js
        self._fold = FleetFold()
        self._ids: list[str] = []  # for pages: sorted when asked for
        self._unsorted = False
        self._watchers: list[KeyValue.KeyWatcher] = []
        self._tasks: list[asyncio.Task] = []
        self._replayed: list[asyncio.Event] = []

    async def start(self, timeout: float = 60.0) -> None:
        """Watch the buckets and wait until each has replayed what it holds."""
        fold = self._fold
        sources = [
            _Source(self, subjects.STATIONS_BUCKET, StationInfo, "info",
                    lambda key, record: fold.add_info(record)),
            _Source(self, subjects.PRESENCE_BUCKET, Presence, "presence",
                    lambda key, record: fold.add_presence(record)),
            _Source(self, subjects.LAST_HEARD_BUCKET, LastHeard, "heard",
                    lambda key, record: fold.add_heard(record)),
            _Source(self, subjects.ADMISSION_BUCKET, StationAdmission, "admission",
                    lambda key, record: fold.add_admission(record)),
            _Source(self, subjects.STATUSES_BUCKET, ConnectorStatus, "statuses",
                    fold.add_status),
        ]
        for source in sources:
            kv = await self._js.key_value(source.bucket)
            watcher = await kv.watchall()
            replayed = asyncio.Event()
            self._watchers.append(watcher)
            self._replayed.append(replayed)
            self._tasks.append(asyncio.create_task(watching.follow(
                watcher, source.model, source.changed, source.deleted, replayed)))
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(event.wait() for event in self._replayed))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for watcher in self._watchers:
            try:
                await watcher.stop()
            except Exception as error:  # NATS already gone: nothing left to unsubscribe
                log.debug("a fleet watch did not stop cleanly: %s", error)

    def __len__(self) -> int:
        return len(self._ids)

    def view(self, station_id: str) -> StationView | None:
        return self._fold.view(station_id)

    def dumped(self, station_id: str) -> dict | None:
        return self._fold.dumped(station_id)

    def after(self, station_id: str | None) -> Iterator[StationView]:
        """The stations in the order of their ids, from the first after ``station_id``."""
        ids = self._sorted_ids()
        start = 0 if station_id is None else bisect.bisect_right(ids, station_id)
        for index in range(start, len(ids)):
            view = self._fold.view(ids[index])
            if view is not None:
                yield view

    def _added(self, station_id: str) -> None:
        if station_id not in self._fold:  # sorted once, not at every one of a replay's
            self._ids.append(station_id)
            self._unsorted = True

    def _removed(self, station_id: str, kind: str, key: str) -> None:
        self._fold.remove(station_id, kind, key)
        self._forget_if_gone(station_id)

    def _sorted_ids(self) -> list[str]:
        if self._unsorted:
            self._ids.sort()
            self._unsorted = False
        return self._ids

    def _forget_if_gone(self, station_id: str) -> None:
        if station_id not in self._fold:
            ids = self._sorted_ids()
            index = bisect.bisect_left(ids, station_id)
            if index < len(ids) and ids[index] == station_id:
                del ids[index]


class _Source:
    """One watched bucket: what part of the fold its records are, and which station
    each of its keys was, for deletions."""

    def __init__(self, watch: FleetWatch, bucket: str, model: type[BaseModel], kind: str,
                 add: Callable[[str, Any], None]):
        self.watch, self.bucket, self.model, self.kind, self.add = (
            watch, bucket, model, kind, add)
        self.station_of: dict[str, str] = {}

    def changed(self, key: str, record: Any) -> None:
        self.station_of[key] = record.station_id
        self.watch._added(record.station_id)
        self.add(key, record)

    def deleted(self, key: str) -> None:
        station_id = self.station_of.pop(key, None)
        if station_id is not None:
            self.watch._removed(station_id, self.kind, key)
