"""The stations' own lists of what chargebus sent them, kept beside it: their charging
profiles (2.x ReportChargingProfiles, the answer to GetChargingProfiles;
chargebus.domain.installed) and their display messages (2.x NotifyDisplayMessages, the
answer to GetDisplayMessages; chargebus.domain.displaymessages)."""
import functools

import orjson

from chargebus.bus.client import BusMsg
from chargebus.bus.consumers import UNUSABLE, DeadLetters
from chargebus.bus.events import CallContext
from chargebus.domain import displaymessages, installed
from chargebus.ocpp.clock import utc_now
from chargebus.ocpp.v2x.messages import reported_messages
from chargebus.ocpp.v2x.profiles import report_of
from chargebus.state.records import StoredMessage, StoredProfile
from chargebus.state.stores import Stores


class ChargingProfiles:
    def __init__(self, stores: Stores, dead_letters: DeadLetters):
        self._stores = stores
        self._dead_letters = dead_letters

    async def record_reports(self, batch: list[BusMsg]) -> None:
        for msg in batch:
            try:
                context = CallContext.from_headers(msg.headers)
                request_id, source, evse_id, profiles, more = report_of(orjson.loads(msg.data))
            except UNUSABLE as error:
                await self._dead_letters.send(msg, f"no usable profile report: {error!r}")
                continue
            now = utc_now()
            reported = [StoredProfile(evse_id=evse_id, profile=profile,
                                      status=installed.REPORTED, source=source, at=now)
                        for profile in profiles]
            await self._stores.profiles.modify(
                functools.partial(installed.with_report, station_id=context.station_id,
                                  request_id=request_id, reported=reported, more=more),
                context.station_id)


class DisplayMessages:
    def __init__(self, stores: Stores, dead_letters: DeadLetters):
        self._stores = stores
        self._dead_letters = dead_letters

    async def record_reports(self, batch: list[BusMsg]) -> None:
        for msg in batch:
            try:
                context = CallContext.from_headers(msg.headers)
                request_id, messages, more = reported_messages(orjson.loads(msg.data))
            except UNUSABLE as error:
                await self._dead_letters.send(msg, f"no usable message report: {error!r}")
                continue
            now = utc_now()
            reported = [StoredMessage(message=message, status=displaymessages.REPORTED,
                                      source="station", at=now) for message in messages]
            await self._stores.messages.modify(
                functools.partial(displaymessages.with_report, station_id=context.station_id,
                                  request_id=request_id, reported=reported, more=more),
                context.station_id)
