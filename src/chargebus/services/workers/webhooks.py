"""Delivering the feed to webhooks: one durable consumer of the feed per webhook (made
from the webhook's first event on), one at a time in flight, acknowledged once its
receiver took it. A receiver that is down holds back its own webhook only: every other
consumer, and the rest of the system, go on. Webhooks come and go with their records
(a watch of the bucket); every worker process runs every webhook's loop, and the
consumer hands each event to one of them at a time.
"""
import asyncio
import logging

import aiohttp
import orjson
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from chargebus.bus import subjects
from chargebus.bus.client import BusClient
from chargebus.feed.events import FeedEvent, ServedEvent
from chargebus.manage import webhooks
from chargebus.state import watching
from chargebus.state.records import Webhook

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0
PULL_WAIT_SECONDS = 5.0


class WebhookDispatcher:
    def __init__(self, nc: BusClient, timeout: float, max_retry: float):
        self._nc = nc
        self._js: JetStreamContext = nc.jetstream()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_retry = max_retry
        self._loops: dict[str, asyncio.Task] = {}
        self._watcher: KeyValue.KeyWatcher | None = None
        self._watching: asyncio.Task | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        kv = await self._js.key_value(subjects.WEBHOOKS_BUCKET)
        self._watcher = await kv.watchall()
        self._watching = asyncio.create_task(
            watching.follow(self._watcher, Webhook, self._changed, self._drop))

    async def stop(self) -> None:
        tasks = [task for task in (self._watching, *self._loops.values()) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._watcher is not None:
            try:
                await self._watcher.stop()
            except Exception as error:  # NATS already gone
                log.debug("the webhook watch did not stop cleanly: %s", error)
        if self._session is not None:
            await self._session.close()

    def _changed(self, key: str, webhook: Webhook) -> None:
        running = self._loops.pop(webhook.webhook_id, None)
        if running is not None:  # changed: start again with the new record
            running.cancel()
        self._loops[webhook.webhook_id] = asyncio.create_task(self._deliver(webhook))

    async def _drop(self, webhook_id: str) -> None:
        running = self._loops.pop(webhook_id, None)
        if running is not None:
            running.cancel()
        try:
            await self._js.delete_consumer(subjects.FEED_STREAM,
                                           subjects.webhook_consumer(webhook_id))
        except NotFoundError:
            pass  # another worker removed it

    async def _deliver(self, webhook: Webhook) -> None:
        durable = subjects.webhook_consumer(webhook.webhook_id)
        config = ConsumerConfig(
            durable_name=durable, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=webhook.start_seq, ack_policy=AckPolicy.EXPLICIT,
            max_ack_pending=1, ack_wait=self._timeout.total + 30 if self._timeout.total
            else 60)
        while True:
            try:
                await self._js.add_consumer(subjects.FEED_STREAM, config)
                subscription = await self._js.pull_subscribe_bind(
                    durable, stream=subjects.FEED_STREAM)
                break
            except Exception as error:
                log.warning("webhook %s: cannot read the feed (%s); trying again",
                            webhook.webhook_id, error)
                await asyncio.sleep(FIRST_RETRY_SECONDS * 5)
        while True:
            try:
                messages = await subscription.fetch(1, timeout=PULL_WAIT_SECONDS)
            except (TimeoutError, NatsTimeoutError):
                continue
            except Exception as error:  # NATS reconnecting: the consumer is still there
                log.warning("webhook %s: pulling failed: %s", webhook.webhook_id, error)
                await asyncio.sleep(FIRST_RETRY_SECONDS)
                continue
            for msg in messages:
                event = FeedEvent.model_validate_json(msg.data)
                if not webhooks.wants(webhook, event.kind, event.station_id):
                    await msg.ack()
                    continue
                served = ServedEvent(**event.model_dump(), id=msg.metadata.sequence.stream)
                if await self._post(webhook, served):
                    await msg.ack()
                else:
                    tries = msg.metadata.num_delivered or 1
                    await msg.nak(delay=min(self._max_retry,
                                            FIRST_RETRY_SECONDS * 2 ** min(tries - 1, 16)))

    async def _post(self, webhook: Webhook, event: ServedEvent) -> bool:
        assert self._session is not None  # started
        body = orjson.dumps(event.model_dump(mode="json"))
        try:
            async with self._session.post(
                    webhook.url, data=body,
                    headers=webhooks.headers(webhook, event.id, body)) as response:
                if 200 <= response.status < 300:
                    return True
                log.info("webhook %s: %s answered %d to event %d", webhook.webhook_id,
                         webhook.url, response.status, event.id)
        except (aiohttp.ClientError, TimeoutError) as error:
            log.info("webhook %s: %s not reached with event %d: %s", webhook.webhook_id,
                     webhook.url, event.id, error or type(error).__name__)
        return False
