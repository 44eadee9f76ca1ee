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

from nats.js import JetStreamContext
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue
from pydantic import BaseModel, ValidationError

from chargebus.bus import subjects
from chargebus.state.fleet import FleetFold, StationView
from chargebus.state.records import (ConnectorStatus, LastHeard, Presence, StationAdmission,
                                     StationInfo)

log = logging.getLogger(__name__)

_DELETED = (KV_DEL, KV_PURGE)


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
        watched: list[tuple[str, type[BaseModel], Callable, str]] = [
            (subjects.STATIONS_BUCKET, StationInfo, lambda key, r: fold.add_info(r), "info"),
            (subjects.PRESENCE_BUCKET, Presence, lambda key, r: fold.add_presence(r),
             "presence"),
            (subjects.LAST_HEARD_BUCKET, LastHeard, lambda key, r: fold.add_heard(r), "heard"),
            (subjects.ADMISSION_BUCKET, StationAdmission,
             lambda key, r: fold.add_admission(r), "admission"),
            (subjects.STATUSES_BUCKET, ConnectorStatus, fold.add_status, "statuses"),
        ]
        for bucket, model, add, kind in watched:
            kv = await self._js.key_value(bucket)
            watcher = await kv.watchall()
            replayed = asyncio.Event()
            self._watchers.append(watcher)
            self._replayed.append(replayed)
            self._tasks.append(asyncio.create_task(
                self._follow(watcher, model, add, kind, replayed)))
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

    async def _follow(self, watcher: KeyValue.KeyWatcher, model: type[BaseModel],
                      add: Callable, kind: str, replayed: asyncio.Event) -> None:
        station_of: dict[str, str] = {}  # key -> station id, for deletions
        async for entry in watcher:
            if entry is None:  # the end of the replay
                replayed.set()
                continue
            if entry.operation in _DELETED or not entry.value:
                station_id = station_of.pop(entry.key, None)
                if station_id is not None:
                    self._fold.remove(station_id, kind, entry.key)
                    self._forget_if_gone(station_id)
            else:
                try:
                    record = model.model_validate_json(entry.value)
                except ValidationError:
                    log.warning("%s: record %s is unreadable", entry.bucket, entry.key)
                    continue
                station_id = record.station_id  # type: ignore[attr-defined]
                station_of[entry.key] = station_id
                known = station_id in self._fold
                add(entry.key, record)
                if not known:  # sorted once, not at every one of a replay's stations
                    self._ids.append(station_id)
                    self._unsorted = True
            if entry.delta == 0:
                replayed.set()

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
