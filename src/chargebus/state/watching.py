"""Following a KV bucket's records as they change: each record as it is now, then each
change, read into its model; a record that cannot be read is logged and passed over."""
import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nats.js.kv import KV_DEL, KV_PURGE, KeyValue
from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

Record = TypeVar("Record", bound=BaseModel)


async def follow(watcher: KeyValue.KeyWatcher, model: type[Record],
                 changed: Callable[[str, Record], Awaitable[None] | None],
                 deleted: Callable[[str], Awaitable[None] | None],
                 replayed: asyncio.Event | None = None) -> None:
    """Hand each record to ``changed`` (key, record) and each deleted key to ``deleted``;
    set ``replayed`` once what the bucket held when the watch began has been handed on."""
    async for entry in watcher:
        if entry is None:  # the bucket held nothing, or the replay is over
            if replayed is not None:
                replayed.set()
            continue
        if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
            done = deleted(entry.key)
        else:
            try:
                record = model.model_validate_json(entry.value)
            except ValidationError:
                log.warning("%s: record %s is unreadable", entry.bucket, entry.key)
                continue
            done = changed(entry.key, record)
        if done is not None:
            await done
        if replayed is not None and entry.delta == 0:
            replayed.set()
