"""The progress of log and diagnostics uploads from the stations' status notifications
(chargebus.domain.stationlogs)."""
import functools

from chargebus.bus.client import BusMsg
from chargebus.bus.consumers import DeadLetters, usable_calls
from chargebus.domain import stationlogs
from chargebus.ocpp.clock import parse_timestamp
from chargebus.services.workers.statuses import status_of
from chargebus.state.stores import Stores


class StationLogs:
    def __init__(self, stores: Stores, dead_letters: DeadLetters):
        self._stores = stores
        self._dead_letters = dead_letters

    async def record_statuses(self, batch: list[BusMsg]) -> None:
        async for context, reported in usable_calls(batch, self._dead_letters,
                                                    "upload status", status_of):
            await self._stores.station_logs.modify(
                functools.partial(stationlogs.with_status, action=context.action,
                                  request_id=reported.request_id, status=reported.status,
                                  at=parse_timestamp(context.received)),
                context.station_id)
