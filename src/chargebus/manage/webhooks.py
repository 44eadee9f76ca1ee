"""Webhooks: the feed's events posted to an operator's URL, at least once each, in the
feed's order, signed as the Standard Webhooks specification says (standardwebhooks.com),
so that its libraries verify them:

Each POST carries one event as JSON (chargebus.feed.events.ServedEvent) and:
    webhook-id         the event's place in the feed: the same on a repeat, so a
                       receiver drops what it has seen
    webhook-timestamp  when it was signed, in seconds since 1970
    webhook-signature  v1,<base64 of HMAC-SHA256 of "<id>.<timestamp>.<body>", keyed by
                       the secret's bytes (the secret is whsec_<base64 of them>)
A receiver answers 2xx to take it; anything else, or no answer within the timeout, and
it comes again later, sooner at first, then at most every webhook_max_retry_seconds
(chargebus.services.workers.webhooks), for as long as the feed keeps it (a week).
"""
import base64
import hashlib
import hmac
import secrets
import time
from datetime import datetime
from urllib.parse import urlsplit

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from chargebus.bus import subjects
from chargebus.feed.events import KINDS
from chargebus.operations import audit
from chargebus.state.records import Webhook
from chargebus.state.stores import Stores

RESOURCE = "webhooks"
EVENT_ID = "webhook-id"
TIMESTAMP = "webhook-timestamp"
SIGNATURE = "webhook-signature"
SIGNATURE_VERSION = "v1"
SECRET_PREFIX = "whsec_"
# A receiver should refuse a signature older than this: a replayed request.
TOLERANCE_SECONDS = 300


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"a webhook's URL is http(s)://host/..., not {url!r}")
    return url


def check_kinds(kinds: list[str]) -> list[str]:
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown kinds {', '.join(unknown)}: the kinds are "
                         f"{', '.join(KINDS)}")
    return sorted(set(kinds))


async def create(stores: Stores, js: JetStreamContext, url: str, kinds: list[str],
                 stations: list[str], sender: str, now: datetime) -> Webhook:
    """A new webhook, given every event the feed takes from now on."""
    try:
        last = (await js.stream_info(subjects.FEED_STREAM)).state.last_seq
    except NotFoundError:
        last = 0
    webhook = Webhook(webhook_id=secrets.token_hex(8), url=check_url(url),
                      secret=SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode(),
                      kinds=check_kinds(kinds),
                      stations=sorted(set(stations)), start_seq=last + 1,
                      created_by=sender, created_at=now)
    await stores.webhooks.put(webhook, webhook.webhook_id)
    await audit.record_change(js, audit.change(sender, RESOURCE, "create", webhook.webhook_id,
                                               {"url": url, "kinds": webhook.kinds,
                                                "stations": webhook.stations}))
    return webhook


async def remove(stores: Stores, js: JetStreamContext, webhook_id: str, sender: str) -> bool:
    if await stores.webhooks.get(webhook_id) is None:
        return False
    await stores.webhooks.delete(webhook_id)
    await audit.record_change(js, audit.change(sender, RESOURCE, "remove", webhook_id))
    return True


def wants(webhook: Webhook, kind: str, station_id: str) -> bool:
    return ((not webhook.kinds or kind in webhook.kinds)
            and (not webhook.stations or station_id in webhook.stations))


def signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION},{base64.b64encode(mac.digest()).decode()}"


def headers(webhook: Webhook, event_id: int, body: bytes, now: float | None = None
            ) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {"Content-Type": "application/json", EVENT_ID: str(event_id),
            TIMESTAMP: str(timestamp),
            SIGNATURE: signature(webhook.secret, str(event_id), timestamp, body)}


def verify(secret: str, event_id: str, timestamp: str, body: bytes, given: str,
           now: float | None = None) -> bool:
    """What a receiver checks: one of the signatures given is the secret's, and recent."""
    try:
        moment = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - moment) > TOLERANCE_SECONDS:
        return False
    expected = signature(secret, event_id, moment, body)
    return any(hmac.compare_digest(expected, each) for each in given.split())
