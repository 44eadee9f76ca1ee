"""What 2.x stations report, in parts, when chargebus asks: their charging profiles
(ReportChargingProfiles, the answer to GetChargingProfiles; chargebus.domain.installed)
and display messages (NotifyDisplayMessages, to GetDisplayMessages;
chargebus.domain.displaymessages), kept beside what chargebus sent them; and what they
hold of a customer (NotifyCustomerInformation, to CustomerInformation)."""
import functools
from datetime import datetime

from chargebus.bus.client import BusMsg
from chargebus.bus.consumers import DeadLetters, usable_calls
from chargebus.domain import displaymessages, installed
from chargebus.ocpp.clock import parse_timestamp, utc_now
from chargebus.ocpp.v2x.messages import reported_messages
from chargebus.ocpp.v2x.profiles import report_of
from chargebus.state.records import CustomerReport, StoredMessage, StoredProfile
from chargebus.state.stores import Stores, customer_report_key


class ChargingProfiles:
    def __init__(self, stores: Stores, dead_letters: DeadLetters):
        self._stores = stores
        self._dead_letters = dead_letters

    async def record_reports(self, batch: list[BusMsg]) -> None:
        async for context, (request_id, source, evse_id, profiles, more) in usable_calls(
                batch, self._dead_letters, "profile report", report_of):
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
        async for context, (request_id, messages, more) in usable_calls(
                batch, self._dead_letters, "message report", reported_messages):
            now = utc_now()
            reported = [StoredMessage(message=message, status=displaymessages.REPORTED,
                                      source="station", at=now) for message in messages]
            await self._stores.messages.modify(
                functools.partial(displaymessages.with_report, station_id=context.station_id,
                                  request_id=request_id, reported=reported, more=more),
                context.station_id)


class CustomerReports:
    """2.x NotifyCustomerInformation parts, each kept where it belongs, in any order."""

    def __init__(self, stores: Stores, dead_letters: DeadLetters):
        self._stores = stores
        self._dead_letters = dead_letters

    async def record_parts(self, batch: list[BusMsg]) -> None:
        async for context, (request_id, seq_no, data, more, generated_at) in usable_calls(
                batch, self._dead_letters, "customer report", _customer_part):
            await self._stores.customer_reports.modify(
                functools.partial(_with_part, seq_no=seq_no, data=data, last=not more,
                                  generated_at=generated_at),
                *customer_report_key(context.station_id, request_id))


def _customer_part(payload: dict) -> tuple[int, int, str, bool, datetime]:
    return (payload["requestId"], payload["seqNo"], payload["data"],
            bool(payload.get("tbc", False)), parse_timestamp(payload["generatedAt"]))


def _with_part(record: CustomerReport | None, seq_no: int, data: str, last: bool,
               generated_at: datetime) -> CustomerReport | None:
    """The report with one more part; None for a report nobody asked for here."""
    if record is None or record.parts.get(seq_no) == data:
        return None
    return record.model_copy(update={
        "parts": record.parts | {seq_no: data},
        "last_seq_no": seq_no if last else record.last_seq_no,
        "generated_at": max(filter(None, (record.generated_at, generated_at)))})
