"""The status notifications of a request's progress (firmware updates, log uploads): a
status, and the request it belongs to where the station names one."""
from typing import NamedTuple


class ReportedStatus(NamedTuple):
    status: str
    request_id: int | None


def status_of(payload: dict) -> ReportedStatus:
    """TypeError or KeyError (chargebus.bus.consumers.UNUSABLE) where it is not one."""
    status, request_id = payload["status"], payload.get("requestId")
    if not isinstance(status, str):
        raise TypeError(f"status {status!r} is no string")
    if request_id is not None and (isinstance(request_id, bool)
                                   or not isinstance(request_id, int)):
        raise TypeError(f"requestId {request_id!r} is no integer")
    return ReportedStatus(status, request_id)
