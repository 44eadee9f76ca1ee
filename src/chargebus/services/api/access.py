"""Who calls: the API key of each request, its scope, its reach and its rate.

Keys are read from a watch of the api-keys bucket, so a revoked key stops working
within the time NATS takes to push the change, with no read of KV per request. A key
limited to sites or stations is told 404 for a station out of its reach, as for one
that does not exist: it learns nothing of other sites.
"""
import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from chargebus.bus import subjects
from chargebus.security import apikeys
from chargebus.security.apikeys import Refused, Scope
from chargebus.services.api.problems import ApiProblem
from chargebus.state import watching
from chargebus.state.records import ApiKey

log = logging.getLogger(__name__)


class KeyRing:
    """Every API key record, kept up to date from a watch of the bucket."""

    def __init__(self, js: JetStreamContext):
        self._js = js
        self._keys: dict[str, ApiKey] = {}
        self._watcher: KeyValue.KeyWatcher | None = None
        self._following: asyncio.Task | None = None

    async def start(self, timeout: float = 30.0) -> None:
        kv = await self._js.key_value(subjects.API_KEYS_BUCKET)
        self._watcher = await kv.watchall()
        replayed = asyncio.Event()
        self._following = asyncio.create_task(
            watching.follow(self._watcher, ApiKey, self._changed, self._deleted, replayed))
        async with asyncio.timeout(timeout):
            await replayed.wait()

    async def stop(self) -> None:
        if self._following is not None:
            self._following.cancel()
            await asyncio.gather(self._following, return_exceptions=True)
        if self._watcher is not None:
            try:
                await self._watcher.stop()
            except Exception as error:  # NATS already gone
                log.debug("the key watch did not stop cleanly: %s", error)

    def get(self, key_id: str) -> ApiKey | None:
        return self._keys.get(key_id)

    def _changed(self, key: str, record: ApiKey) -> None:
        self._keys[record.key_id] = record

    def _deleted(self, key: str) -> None:
        self._keys.pop(key, None)


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimits:
    """A token bucket per key: ``per_second`` on average, ``burst`` at once."""

    per_second: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def wait_for(self, key_id: str) -> float:
        """0 where the key may make a request now (and it is counted), else the seconds
        until it may."""
        now = self.clock()
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.per_second)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.per_second


_bearer = HTTPBearer(auto_error=False, scheme_name="ApiKey",
                     description="An API key of chargebus (`chargebus api-keys add`): "
                                 "Authorization: Bearer cbk_...")


def _unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(401, "unauthorized", "Unauthorized", detail,
                      {"WWW-Authenticate": 'Bearer realm="chargebus"'})


def requires(needed: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency: the caller's key, where it is valid, within its rate and of a scope
    at least ``needed``."""

    async def caller(request: Request, credentials: Annotated[
            HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> ApiKey:
        access: Access = request.app.state.access
        if credentials is None:
            raise _unauthorized("no API key: send Authorization: Bearer cbk_...")
        text = credentials.credentials
        try:
            record = apikeys.authenticated(access.keys.get(apikeys.key_id_of(text)), text)
        except Refused as refused:
            raise _unauthorized(str(refused)) from None
        wait = access.limits.wait_for(record.key_id)
        if wait:
            raise ApiProblem(429, "too-many-requests", "Too many requests",
                             f"this key may make {access.limits.per_second:g} requests a "
                             f"second, {access.limits.burst} at once",
                             {"Retry-After": str(max(1, math.ceil(wait)))})
        if not apikeys.allows(record, needed):
            raise ApiProblem(403, "forbidden", "Forbidden",
                             f"this needs a key of scope {needed.word}; this key's is "
                             f"{record.scope}")
        return record

    return caller


@dataclass
class Access:
    keys: KeyRing
    limits: RateLimits


def sender(key: ApiKey) -> str:
    """Who a key's calls are from, in the audit trails."""
    return f"api:{key.name}"


def network_wide(key: ApiKey, what: str) -> None:
    """Refuse a key limited to some stations what belongs to the whole network."""
    if apikeys.limited(key):
        raise ApiProblem(403, "forbidden", "Forbidden",
                         f"{what} belong to the whole network; this key reaches only some "
                         "stations")


def requires_network_wide(needed: Scope, what: str) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency: ``requires(needed)``, of a key that reaches every station."""
    async def caller(key: Annotated[ApiKey, Depends(requires(needed))]) -> ApiKey:
        network_wide(key, what)
        return key

    return caller
