"""The rules of log and diagnostics requests, free of I/O: how a station's record of them
(chargebus.state.records.StationLogs) changes with a request, the station's answer and
each upload status it reports.

A LogStatusNotification names its request (requestId; optional in the 1.6 security
extension); a 1.6 DiagnosticsStatusNotification does not, and belongs to the station's
latest GetDiagnostics. A status that repeats the last one (an Idle a TriggerMessage
asked for) changes nothing.
"""
from collections.abc import Callable
from datetime import datetime

from chargebus.state.records import LogRequest, LogStatus, StationLogs

DIAGNOSTICS_STATUS = "DiagnosticsStatusNotification"
LOG_STATUS = "LogStatusNotification"
STATUS_ACTIONS = (DIAGNOSTICS_STATUS, LOG_STATUS)
DIAGNOSTICS_ACTION = "GetDiagnostics"
UPLOADED = "Uploaded"
FAILED = frozenset({"UploadFailed", "UploadFailure", "BadMessage", "NotSupportedOperation",
                    "PermissionDenied"})
KEPT = 20


def with_request(record: StationLogs | None, station_id: str, request: LogRequest
                 ) -> StationLogs:
    record = record or StationLogs(station_id=station_id)
    kept = [each for each in record.requests if each.request_id != request.request_id]
    return record.model_copy(update={"requests": [*kept, request][-KEPT:]})


def with_answer(record: StationLogs | None, request_id: int, answer: str,
                filename: str | None) -> StationLogs | None:
    return _changed(record, lambda request: request.request_id == request_id,
                    lambda request: request.model_copy(update={
                        "answer": answer, "filename": filename or request.filename}))


def with_status(record: StationLogs | None, action: str, request_id: int | None,
                status: str, at: datetime) -> StationLogs | None:
    """None where the status belongs to no request chargebus knows, or repeats."""
    if record is None:
        return None
    if action == DIAGNOSTICS_STATUS or request_id is None:
        diagnostics = action == DIAGNOSTICS_STATUS
        candidates = [each for each in record.requests
                      if (each.action == DIAGNOSTICS_ACTION) == diagnostics]
        if not candidates:
            return None
        request_id = candidates[-1].request_id

    def reported(request: LogRequest) -> LogRequest | None:
        if request.statuses and request.statuses[-1].status == status:
            return None
        return request.model_copy(update={
            "statuses": [*request.statuses, LogStatus(status=status, at=at)]})
    return _changed(record, lambda request: request.request_id == request_id, reported)


def state_of(request: LogRequest) -> str:
    """Uploaded, Failed, Refused (the station's answer) or Requested/the last status."""
    if request.answer is not None and request.answer not in ("Accepted", "AcceptedCanceled"):
        return request.answer
    if request.statuses:
        last = request.statuses[-1].status
        return "Failed" if last in FAILED else last
    return request.answer or "Requested"


def _changed(record: StationLogs | None, matches: Callable[[LogRequest], bool],
             change: Callable[[LogRequest], LogRequest | None]) -> StationLogs | None:
    if record is None:
        return None
    requests = list(record.requests)
    for index in range(len(requests) - 1, -1, -1):
        if matches(requests[index]):
            changed = change(requests[index])
            if changed is None:
                return None
            requests[index] = changed
            return record.model_copy(update={"requests": requests})
    return None
