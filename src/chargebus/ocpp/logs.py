"""GetLog as the 1.6 security extension and 2.x both write it."""
from chargebus.domain.operations import NotInVersion, RequestLog
from chargebus.ocpp.clock import ocpp_timestamp


def log_request(operation: RequestLog, log_type: str) -> dict:
    """The GetLog payload but its retries; ``log_type`` in the version's words."""
    if operation.request_id is None:
        raise NotInVersion("a GetLog is sent with its requestId")  # perform gives one
    parameters = {"remoteLocation": operation.location}
    if operation.since is not None:
        parameters["oldestTimestamp"] = ocpp_timestamp(operation.since)
    if operation.until is not None:
        parameters["latestTimestamp"] = ocpp_timestamp(operation.until)
    return {"logType": log_type, "requestId": operation.request_id, "log": parameters}
