"""Firmware roll-outs driven to their end (chargebus.domain.rollouts has the rule): when
a station's update ends, and every ``rollout_period_seconds``, the worker that takes a
roll-out's lease (compare-and-set on its record) marks the updates that ended and sends
the next ones. The record is all there is: any worker, after a restart of any process,
goes on where it was."""
import asyncio
import functools
import logging
import os
import uuid
from datetime import timedelta

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from chargebus.bus import subjects
from chargebus.domain import rollouts
from chargebus.domain.operations import UpdateFirmware
from chargebus.files import grants
from chargebus.ocpp.clock import utc_now
from chargebus.operations.perform import perform
from chargebus.runtime.config import Settings
from chargebus.runtime.periodic import Periodic
from chargebus.state.records import FirmwareUpdate
from chargebus.state.stores import Stores

log = logging.getLogger(__name__)

# A holder that stops renewing its lease leaves the roll-out to another after this.
LEASE = timedelta(seconds=30)


def sender_of(rollout_id: str) -> str:
    """Who the updates of a roll-out are from, in the audit trail."""
    return f"workers:rollout:{rollout_id}"


class Rollouts:
    def __init__(self, nc: Client, stores: Stores, settings: Settings):
        self._nc = nc
        self._stores = stores
        self._settings = settings
        self._id = f"rollouts-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._running: dict[str, set[str]] = {}  # roll-out -> its stations, as last read
        self._advancing: dict[str, asyncio.Task] = {}
        self._again: set[str] = set()
        self._ticks = Periodic(settings.rollout_period_seconds, self._advance_all,
                               "advancing the firmware roll-outs", log)
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        self._subscription = await self._nc.subscribe(
            subjects.rollout_advance(), queue=subjects.queue_group("rollouts"), cb=self._asked)
        self._ticks.start()

    async def _asked(self, msg: Msg) -> None:
        rollout_id = msg.data.decode()
        record = await self._stores.rollouts.get(rollout_id)
        if record is not None:
            self._running[rollout_id] = {each.station_id for each in record.stations}
            self.advance_soon(rollout_id)
        if msg.reply:
            await self._nc.publish(msg.reply, b"")

    async def stop(self) -> None:
        self._ticks.stop()
        if self._subscription is not None:
            await self._subscription.unsubscribe()
        for task in list(self._advancing.values()):
            task.cancel()
        await asyncio.gather(*self._advancing.values(), return_exceptions=True)

    def update_ended(self, station_id: str) -> None:
        """A station's update ended: the roll-outs it is in go on."""
        for rollout_id, stations in self._running.items():
            if station_id in stations:
                self.advance_soon(rollout_id)

    async def _advance_all(self) -> None:
        records = await self._stores.rollouts.all()
        self._running = {record.rollout_id: {each.station_id for each in record.stations}
                         for record in records
                         if record.state is rollouts.RolloutState.RUNNING}
        for rollout_id in self._running:
            self.advance_soon(rollout_id)

    def advance_soon(self, rollout_id: str) -> None:
        if rollout_id in self._advancing:
            self._again.add(rollout_id)
            return
        task = asyncio.create_task(self._advance(rollout_id))
        self._advancing[rollout_id] = task
        task.add_done_callback(lambda _: self._advancing.pop(rollout_id, None))

    async def _advance(self, rollout_id: str) -> None:
        try:
            while True:
                self._again.discard(rollout_id)
                if not await self._lease(rollout_id):
                    return
                try:
                    await self._advance_once(rollout_id)
                finally:
                    await self._release(rollout_id)
                if rollout_id not in self._again:
                    return
        except Exception:
            log.exception("advancing roll-out %s failed", rollout_id)

    async def _lease(self, rollout_id: str) -> bool:
        now = utc_now()

        def take(record: rollouts.Rollout | None) -> rollouts.Rollout | None:
            if record is None or record.state is not rollouts.RolloutState.RUNNING:
                return None
            if (record.holder not in (None, self._id) and record.lease_until is not None
                    and record.lease_until > now):
                return None
            return record.model_copy(update={"holder": self._id, "lease_until": now + LEASE})
        record = await self._stores.rollouts.modify(take, rollout_id)
        return record is not None and record.holder == self._id

    async def _release(self, rollout_id: str) -> None:
        def release(record: rollouts.Rollout | None) -> rollouts.Rollout | None:
            if record is None or record.holder != self._id:
                return None
            return record.model_copy(update={"holder": None, "lease_until": None})
        await self._stores.rollouts.modify(release, rollout_id)

    async def _advance_once(self, rollout_id: str) -> None:
        record = await self._stores.rollouts.get(rollout_id)
        if record is None:
            return
        sent = [each for each in record.stations
                if each.state is rollouts.StationState.SENT]
        records = dict(zip([each.station_id for each in sent], await asyncio.gather(*(
            self._stores.firmware.get(each.station_id) for each in sent)), strict=True))

        def update_of(station: rollouts.RolloutStation) -> FirmwareUpdate | None:
            held = records.get(station.station_id)
            return next((update for update in (held.updates if held else [])
                         if update.request_id == station.request_id), None)
        now = utc_now()
        record = await self._stores.rollouts.modify(
            lambda current: rollouts.with_outcomes(current, update_of, now)
            if current else None, rollout_id)
        if record is None:
            return
        for station_id in rollouts.next_to_send(record):
            location = record.location
            if record.image is not None:
                try:
                    location = await grants.image_url(
                        self._stores, self._settings, record.image, station_id=station_id,
                        issued_by=sender_of(rollout_id), now=utc_now())
                except grants.ImageMissing as missing:
                    record = await self._stores.rollouts.modify(functools.partial(
                        _sent, station_id=station_id, request_id=None, taken=False,
                        why=str(missing)), rollout_id)
                    if record is None or record.state is not rollouts.RolloutState.RUNNING:
                        return
                    continue
            performed = await perform(
                self._nc, station_id, UpdateFirmware(
                    location=location, retrieve_at=utc_now(), retries=record.retries,
                    retry_interval=record.retry_interval, signature=record.signature,
                    signing_certificate=record.signing_certificate),
                sender=sender_of(rollout_id))
            operation = performed.operation
            assert isinstance(operation, UpdateFirmware)
            why = (performed.result.status if performed.result is not None
                   else f"{performed.outcome.value}: {performed.reason}")
            record = await self._stores.rollouts.modify(
                functools.partial(_sent, station_id=station_id,
                                  request_id=operation.request_id, taken=performed.taken,
                                  why=why), rollout_id)
            if record is None or record.state is not rollouts.RolloutState.RUNNING:
                return


def _sent(record: rollouts.Rollout | None, station_id: str, request_id: int | None,
          taken: bool, why: str) -> rollouts.Rollout | None:
    return rollouts.with_sent(record, station_id, request_id, taken, why, utc_now()) \
        if record else None
