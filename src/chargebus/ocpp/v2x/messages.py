"""chargebus.domain.operations.DisplayMessage as OCPP 2.0.1 and 2.1 MessageInfoType, and
back (1.6 has no display messages)."""
from chargebus.domain.operations import DisplayMessage
from chargebus.ocpp.clock import ocpp_timestamp
from chargebus.ocpp.profilefields import time_of


def message_payload(message: DisplayMessage) -> dict:
    content: dict = {"format": message.format, "content": message.content}
    if message.language is not None:
        content["language"] = message.language
    payload: dict = {"id": message.message_id, "priority": message.priority,
                     "message": content}
    if message.state is not None:
        payload["state"] = message.state
    if message.starts is not None:
        payload["startDateTime"] = ocpp_timestamp(message.starts)
    if message.ends is not None:
        payload["endDateTime"] = ocpp_timestamp(message.ends)
    if message.transaction_id is not None:
        payload["transactionId"] = message.transaction_id
    return payload


def message_of(payload: dict) -> DisplayMessage:
    content = payload["message"]
    return DisplayMessage(
        message_id=payload["id"], priority=payload["priority"], content=content["content"],
        format=content["format"], language=content.get("language"), state=payload.get("state"),
        starts=time_of(payload.get("startDateTime")), ends=time_of(payload.get("endDateTime")),
        transaction_id=payload.get("transactionId"))


def reported_messages(payload: dict) -> tuple[int, list[DisplayMessage], bool]:
    """A NotifyDisplayMessages: its request id, the messages, whether more parts follow."""
    return (payload["requestId"],
            [message_of(each) for each in payload.get("messageInfo") or []],
            bool(payload.get("tbc", False)))
