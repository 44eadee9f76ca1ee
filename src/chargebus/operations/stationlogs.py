"""Log and diagnostics requests kept in KV as they are asked for and answered
(chargebus.domain.stationlogs has the rules; the stations' upload statuses are applied
by the workers)."""
from urllib.parse import urlsplit

from chargebus.domain import stationlogs
from chargebus.domain.operations import OperationResult, RequestLog
from chargebus.ocpp.clock import utc_now
from chargebus.state.records import LogRequest
from chargebus.state.stores import Stores


async def requested(stores: Stores, station_id: str, operation: RequestLog, action: str,
                    sender: str) -> None:
    """Kept before it is sent: the station may report its first status before its
    answer has come back here."""
    assert operation.request_id is not None  # perform gave it one
    request = LogRequest(request_id=operation.request_id, log_type=operation.log_type.value,
                         action=action, via=urlsplit(operation.location).scheme,
                         requested_at=utc_now(), sender=sender)
    await stores.station_logs.modify(
        lambda record: stationlogs.with_request(record, station_id, request), station_id)


async def answered(stores: Stores, station_id: str, operation: RequestLog, answer: str,
                   result: OperationResult | None = None) -> None:
    request_id = operation.request_id
    assert request_id is not None  # perform gave it one
    filename = result.filename if result is not None else None
    await stores.station_logs.modify(
        lambda record: stationlogs.with_answer(record, request_id, answer, filename),
        station_id)
