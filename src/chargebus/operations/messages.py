"""What the stations' answers to the display-message operations say, kept in KV
(chargebus.domain.displaymessages has the rules); a fetch is noted before it is sent,
since its reports may come before its answer."""
from chargebus.domain import displaymessages
from chargebus.domain.operations import (ClearDisplayMessage, GetDisplayMessages, Operation,
                                         OperationResult, SetDisplayMessage)
from chargebus.ocpp.clock import utc_now
from chargebus.state.records import StoredMessage
from chargebus.state.stores import Stores

# GetDisplayMessages: the station holds none that match.
NONE_HELD = "Unknown"


async def fetching(stores: Stores, station_id: str, request: GetDisplayMessages) -> None:
    await stores.messages.modify(
        lambda record: displaymessages.with_fetch(record, station_id, request), station_id)


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
