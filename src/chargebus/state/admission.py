"""The admission bucket (how each station may connect, its site, its boot policy,
nothing secret), mirrored in memory and kept current through a KV watch: for code that must answer
at once (the edge's upgrade) or for every message (the sink's site of a station)."""
import asyncio
import logging

from nats.aio.client import Client
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue
from pydantic import ValidationError

from chargebus.bus import subjects
from chargebus.state.identifiers import kv_key
from chargebus.state.records import StationAdmission

log = logging.getLogger(__name__)

WATCH_START_SECONDS = 30.0


class AdmissionDirectory:
    """The admission bucket, mirrored in memory."""

    def __init__(self, nc: Client):
        self._nc = nc
        self._records: dict[str, StationAdmission] = {}  # KV key -> record
        self._watching: asyncio.Task | None = None

    async def start(self) -> None:
        kv = await self._nc.jetstream().key_value(subjects.ADMISSION_BUCKET)
        watcher = await kv.watchall()
        loaded = asyncio.get_running_loop().create_future()
        self._watching = asyncio.create_task(self._follow(watcher, loaded))
        await asyncio.wait_for(loaded, WATCH_START_SECONDS)

    async def stop(self) -> None:
        if self._watching is not None:
            self._watching.cancel()

    def get(self, station_id: str) -> StationAdmission | None:
        return self._records.get(kv_key(station_id))

    async def _follow(self, watcher: KeyValue.KeyWatcher, loaded: asyncio.Future) -> None:
        async for entry in watcher:
            if entry is None:  # the end of what the bucket held at the start
                if not loaded.done():
                    loaded.set_result(None)
                continue
            if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
                self._records.pop(entry.key, None)
            else:
                try:
                    self._records[entry.key] = StationAdmission.model_validate_json(
                        entry.value)
                except ValidationError:
                    log.error("admission record %s is unreadable; the station is refused",
                              entry.key)
                    self._records.pop(entry.key, None)
            if entry.delta == 0 and not loaded.done():
                loaded.set_result(None)
