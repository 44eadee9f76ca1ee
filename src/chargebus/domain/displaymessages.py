"""Which display messages a station holds, as chargebus keeps them (chargebus.state.records
StationMessages), free of I/O: a message the station accepted replaces any of its id, a
refusal is kept among the latest, a clear removes it, and a complete report of the
station's own (GetDisplayMessages, NotifyDisplayMessages until tbc is false) replaces
what was kept of the messages the request selected; Unknown means it holds none of them.
"""
from chargebus.domain.operations import GetDisplayMessages
from chargebus.state.records import MessageFetch, StationMessages, StoredMessage

ACCEPTED = "Accepted"
REPORTED = "Reported"
REFUSALS_KEPT = 20


def with_answer(record: StationMessages | None, station_id: str, stored: StoredMessage
                ) -> StationMessages:
    record = record or StationMessages(station_id=station_id)
    if stored.status != ACCEPTED:
        return record.model_copy(update={"refused": [*record.refused, stored][-REFUSALS_KEPT:]})
    return record.model_copy(update={"messages": [*_without(record.messages, [stored]), stored]})


def with_cleared(record: StationMessages | None, message_id: int) -> StationMessages | None:
    if record is None:
        return None
    kept = [each for each in record.messages if each.message.message_id != message_id]
    return record.model_copy(update={"messages": kept}) \
        if len(kept) != len(record.messages) else None


def selected(stored: StoredMessage, request: GetDisplayMessages) -> bool:
    message = stored.message
    return ((not request.message_ids or message.message_id in request.message_ids)
            and request.priority in (None, message.priority)
            and request.state in (None, message.state))


def with_fetch(record: StationMessages | None, station_id: str, request: GetDisplayMessages
               ) -> StationMessages:
    record = record or StationMessages(station_id=station_id)
    return record.model_copy(update={"fetch": MessageFetch(request=request)})


def with_report(record: StationMessages | None, station_id: str, request_id: int,
                reported: list[StoredMessage], more: bool) -> StationMessages:
    record = record or StationMessages(station_id=station_id)
    fetch = record.fetch
    if fetch is None or fetch.request.request_id != request_id:
        return record.model_copy(update={"messages": [*_without(record.messages, reported),
                                                      *reported]})
    gathered = [*fetch.gathered, *reported]
    if more:
        return record.model_copy(update={"fetch": fetch.model_copy(
            update={"gathered": gathered})})
    kept = [each for each in record.messages if not selected(each, fetch.request)]
    return record.model_copy(update={"messages": [*_without(kept, gathered), *gathered],
                                     "fetch": None})


def with_none_held(record: StationMessages | None, request_id: int) -> StationMessages | None:
    """The station answered Unknown: it holds none of the messages the fetch selected."""
    if record is None or record.fetch is None or record.fetch.request.request_id != request_id:
        return None
    request = record.fetch.request
    return record.model_copy(update={
        "messages": [each for each in record.messages if not selected(each, request)],
        "fetch": None})


def _without(kept: list[StoredMessage], new: list[StoredMessage]) -> list[StoredMessage]:
    ids = {each.message.message_id for each in new}
    return [each for each in kept if each.message.message_id not in ids]
