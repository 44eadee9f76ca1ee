"""What the stations' answers to the display-message operations say, kept in KV
(chargebus.domain.displaymessages has the rules); a fetch of messages, and a request for
what a station holds of a customer, are noted before they are sent, since their reports
may come before their answer."""
from chargebus.domain import displaymessages
from chargebus.domain.operations import (ClearDisplayMessage, CustomerInformation,
                                         GetDisplayMessages, Operation, OperationResult,
                                         SetDisplayMessage)
from chargebus.ocpp.clock import utc_now
from chargebus.state.records import CustomerReport, StoredMessage
from chargebus.state.stores import Stores, customer_report_key

# GetDisplayMessages: the station holds none that match.
NONE_HELD = "Unknown"


async def fetching(stores: Stores, station_id: str, request: GetDisplayMessages) -> None:
    await stores.messages.modify(
        lambda record: displaymessages.with_fetch(record, station_id, request), station_id)


async def asking_customer(stores: Stores, station_id: str, request: CustomerInformation,
                          sender: str) -> None:
    assert request.request_id is not None  # perform gave it one
    await stores.customer_reports.put(CustomerReport(
        station_id=station_id, request_id=request.request_id, customer=request.customer,
        id_token=request.id_token.value if request.id_token else None, cleared=request.clear,
        requested_by=sender, requested_at=utc_now()),
        *customer_report_key(station_id, request.request_id))


async def record(stores: Stores, station_id: str, operation: Operation,
                 result: OperationResult, sender: str) -> None:
    match operation:
        case SetDisplayMessage():
            stored = StoredMessage(message=operation.message, status=result.status,
                                   source=sender, at=utc_now())
            await stores.messages.modify(
                lambda current: displaymessages.with_answer(current, station_id, stored),
                station_id)
        case ClearDisplayMessage() if result.status in (displaymessages.ACCEPTED, NONE_HELD):
            message_id = operation.message_id
            await stores.messages.modify(
                lambda current: displaymessages.with_cleared(current, message_id), station_id)
        case GetDisplayMessages() if result.status == NONE_HELD:
            request_id = operation.request_id
            assert request_id is not None  # perform gave it one
            await stores.messages.modify(
                lambda current: displaymessages.with_none_held(current, request_id),
                station_id)
