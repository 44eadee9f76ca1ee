"""The progress of firmware updates from the stations' status notifications, and the
version each station boots with afterwards (chargebus.domain.firmware)."""
import asyncio
import functools
import logging
from collections.abc import Callable

from chargebus.bus.client import BusMsg
from chargebus.bus.consumers import DeadLetters, usable_calls
from chargebus.domain import firmware
from chargebus.ocpp.clock import parse_timestamp
from chargebus.services.workers.statuses import status_of
from chargebus.state.records import StationInfo
from chargebus.state.stores import Stores

log = logging.getLogger(__name__)


class Firmware:
    def __init__(self, stores: Stores, dead_letters: DeadLetters,
                 on_ended: Callable[[str], None]):
        """``on_ended(station_id)``: after a station's update ended (a status that ends
        it, or its boot with a new version)."""
        self._stores = stores
        self._dead_letters = dead_letters
        self._on_ended = on_ended
        self._booting: set[asyncio.Task] = set()

    async def record_statuses(self, batch: list[BusMsg]) -> None:
        async for context, (status, request_id) in usable_calls(
                batch, self._dead_letters, "firmware status", status_of):
            await self._stores.firmware.modify(
                functools.partial(firmware.with_status, request_id=request_id, status=status,
                                  at=parse_timestamp(context.received)),
                context.station_id)
            if status == firmware.INSTALLED or status in firmware.FAILED:
                self._on_ended(context.station_id)

    def booted(self, before: StationInfo | None, now: StationInfo) -> None:
        """After a boot: the version an update installed, where one did."""
        task = asyncio.create_task(self._booted(now))
        self._booting.add(task)
        task.add_done_callback(self._booting.discard)

    async def _booted(self, now: StationInfo) -> None:
        try:
            await self._stores.firmware.modify(
                functools.partial(firmware.with_boot, firmware=now.firmware_version,
                                  at=now.booted_at),
                now.station_id)
            self._on_ended(now.station_id)
        except Exception:
            log.exception("%s: its firmware after its boot could not be kept", now.station_id)

    async def stop(self) -> None:
        await asyncio.gather(*self._booting, return_exceptions=True)
