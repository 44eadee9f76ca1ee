"""The 2.x device model from the stations' reports (NotifyReport): each part applied to
the components it names, in whatever order the parts come and whichever worker takes
them, and the report's progress kept (chargebus.domain.devicemodel); and a station's
configuration asked for when it first boots or its firmware changes."""
import asyncio
import functools
import logging
from datetime import datetime

import orjson
from nats.aio.client import Client

from chargebus.bus.client import BusMsg
from chargebus.bus.consumers import UNUSABLE, DeadLetters, usable_calls
from chargebus.bus.events import CallContext
from chargebus.domain import devicemodel
from chargebus.domain.model import RegistrationStatus
from chargebus.domain.operations import ReadDeviceModel
from chargebus.ocpp.clock import utc_now
from chargebus.ocpp.converters import converter
from chargebus.ocpp.v2x import monitoring
from chargebus.operations.perform import perform
from chargebus.state.records import StationInfo
from chargebus.state.stores import Stores, component_key, report_key

log = logging.getLogger(__name__)

# Who the workers' own calls are from, in the audit trail.
SENDER = "workers:boot"
# The boot's answer reaches the station before chargebus asks it anything.
AFTER_BOOT_SECONDS = 1.0


class DeviceModel:
    def __init__(self, nc: Client, stores: Stores, dead_letters: DeadLetters,
                 fetch_on_boot: bool):
        self._nc = nc
        self._stores = stores
        self._dead_letters = dead_letters
        self._fetch_on_boot = fetch_on_boot
        self._fetching: set[asyncio.Task] = set()

    async def record_reports(self, batch: list[BusMsg]) -> None:
        for msg in batch:
            try:
                context = CallContext.from_headers(msg.headers)
                request_id, seq_no, more, generated_at, parts = converter(
                    context.version).report(orjson.loads(msg.data))
            except UNUSABLE as error:
                await self._dead_letters.send(msg, f"no usable report: {error!r}")
                continue
            by_component: dict[devicemodel.ComponentRef, list[devicemodel.Variable]] = {}
            for part in parts:
                by_component.setdefault(part.component, []).append(part.variable)
            await asyncio.gather(*(
                self._stores.components.modify(
                    functools.partial(_with_part, station_id=context.station_id, ref=ref,
                                      variables=variables),
                    *component_key(context.station_id, ref))
                for ref, variables in by_component.items()))
            await self._stores.reports.modify(
                functools.partial(_with_seq_no, station_id=context.station_id,
                                  request_id=request_id, seq_no=seq_no, last=not more,
                                  generated_at=generated_at),
                *report_key(context.station_id, request_id))

    async def record_monitoring(self, batch: list[BusMsg]) -> None:
        """NotifyMonitoringReport parts: each variable's monitors, whole; the report's
        progress kept like NotifyReport's."""
        async for context, (request_id, seq_no, more, generated_at, parts) in usable_calls(
                batch, self._dead_letters, "monitoring report", monitoring.monitoring_report):
            now = utc_now()
            for where, monitors in parts:
                await self._stores.components.modify(
                    functools.partial(devicemodel.with_monitors, station_id=context.station_id,
                                      ref=where.component, name=where.variable,
                                      instance=where.instance, monitors=monitors, now=now),
                    *component_key(context.station_id, where.component))
            await self._stores.reports.modify(
                functools.partial(_with_seq_no, station_id=context.station_id,
                                  request_id=request_id, seq_no=seq_no, last=not more,
                                  generated_at=generated_at),
                *report_key(context.station_id, request_id))

    async def record_events(self, batch: list[BusMsg]) -> None:
        """NotifyEvent: each variable's latest event, and its value as the event saw it."""
        async for context, raised in usable_calls(batch, self._dead_letters, "event",
                                                  monitoring.events):
            now = utc_now()
            for where, event in raised:
                await self._stores.components.modify(
                    functools.partial(devicemodel.with_event, station_id=context.station_id,
                                      ref=where.component, name=where.variable,
                                      instance=where.instance, event=event, now=now),
                    *component_key(context.station_id, where.component))

    def booted(self, before: StationInfo | None, now: StationInfo) -> None:
        """After a boot: fetch the configuration of a station new to chargebus, or whose
        firmware changed."""
        if not self._fetch_on_boot or now.boot_status is not RegistrationStatus.ACCEPTED:
            return
        if before is not None and before.firmware_version == now.firmware_version:
            return
        task = asyncio.create_task(self._fetch(now.station_id))
        self._fetching.add(task)
        task.add_done_callback(self._fetching.discard)

    async def _fetch(self, station_id: str) -> None:
        await asyncio.sleep(AFTER_BOOT_SECONDS)
        performed = await perform(self._nc, station_id, ReadDeviceModel(), sender=SENDER)
        log.info("%s: its configuration asked for after its boot: %s %s", station_id,
                 performed.outcome.value,
                 performed.result.status if performed.result else performed.reason)

    async def stop(self) -> None:
        for task in list(self._fetching):
            task.cancel()
        await asyncio.gather(*self._fetching, return_exceptions=True)


def _with_part(current: devicemodel.Component | None, station_id: str,
               ref: devicemodel.ComponentRef, variables: list[devicemodel.Variable]
               ) -> devicemodel.Component:
    return devicemodel.with_part(current, station_id, ref, variables, utc_now())


def _with_seq_no(current: devicemodel.ReportProgress | None, station_id: str, request_id: int,
                 seq_no: int, last: bool, generated_at: datetime
                 ) -> devicemodel.ReportProgress | None:
    return devicemodel.with_seq_no(current, station_id, request_id, seq_no, last, generated_at)
