"""chargebus.domain.operations as OCPP 1.6J calls, and the answers back."""
from chargebus.domain.operations import (CancelReservation, ChangeAvailability, ClearCache,
                                         ClearChargingProfile, DataTransfer,
                                         GetChargingProfiles, GetCompositeSchedule,
                                         GetConfiguration, LogType, NotInVersion, Operation,
                                         OperationResult, ReadDeviceModel, RequestLog, Reset,
                                         ReserveNow, ResetWhen, SetChargingProfile,
                                         SetConfiguration, StartCharging, StopCharging,
                                         TriggerMessage, UnlockConnector, UpdateFirmware,
                                         VariableName, VariableResult, status_result)
from chargebus.ocpp.clock import ocpp_timestamp
from chargebus.ocpp.logs import log_request
from chargebus.ocpp.v16.profiles import composite_of, profile_payload, purpose_word


def request(operation: Operation) -> tuple[str, dict]:
    """The action and payload of ``operation``; NotInVersion where 1.6 has no form of it."""
    match operation:
        case StartCharging():
            if operation.group_id_token is not None:
                raise NotInVersion("1.6 remote starts carry no group token")
            payload: dict = {"idTag": operation.id_token.value}
            if operation.evse_id is not None:
                payload["connectorId"] = operation.evse_id
            return "RemoteStartTransaction", payload
        case StopCharging():
            try:
                transaction_id = int(operation.transaction_id)
            except ValueError:
                raise NotInVersion(f"1.6 transaction ids are integers, not "
                                   f"{operation.transaction_id!r}") from None
            return "RemoteStopTransaction", {"transactionId": transaction_id}
        case Reset():
            if operation.when is not ResetWhen.IMMEDIATE or operation.evse_id is not None:
                raise NotInVersion("1.6 resets the whole station at once (soft or hard); "
                                   "on idle and per EVSE are 2.x")
            return "Reset", {"type": operation.kind.value}
        case ChangeAvailability():
            if operation.connector_id is not None:
                raise NotInVersion("1.6 connectors are its EVSEs: give the EVSE alone")
            return "ChangeAvailability", {"connectorId": operation.evse_id or 0,
                                          "type": operation.availability.value}
        case UnlockConnector():
            if operation.connector_id != 1:
                raise NotInVersion("1.6 connectors are its EVSEs: give the EVSE alone")
            return "UnlockConnector", {"connectorId": operation.evse_id}
        case TriggerMessage():
            if operation.connector_id is not None:
                raise NotInVersion("1.6 connectors are its EVSEs: give the EVSE alone")
            payload = {"requestedMessage": operation.message}
            if operation.evse_id is not None:
                payload["connectorId"] = operation.evse_id
            return "TriggerMessage", payload
        case ClearCache():
            return "ClearCache", {}
        case GetConfiguration():
            return "GetConfiguration", ({"key": [_key(name) for name in operation.names]}
                                        if operation.names else {})
        case ReadDeviceModel():
            return "GetConfiguration", {}
        case SetConfiguration():
            if len(operation.settings) != 1:
                raise NotInVersion("1.6 changes one configuration key a call")
            [setting] = operation.settings
            return "ChangeConfiguration", {"key": _key(setting.name), "value": setting.value}
        case DataTransfer():
            payload = {"vendorId": operation.vendor_id}
            if operation.message_id is not None:
                payload["messageId"] = operation.message_id
            if operation.data is not None:
                if not isinstance(operation.data, str):
                    raise NotInVersion("1.6 DataTransfer data is a string")
                payload["data"] = operation.data
            return "DataTransfer", payload
        case ReserveNow():
            if operation.reservation_id is None:
                raise NotInVersion("a reservation is sent with its id")
            if operation.connector_type is not None:
                raise NotInVersion("1.6 reserves a connector, not a connector type")
            payload = {"connectorId": operation.evse_id or 0,
                       "expiryDate": ocpp_timestamp(operation.expires_at),
                       "idTag": operation.id_token.value,
                       "reservationId": operation.reservation_id}
            if operation.group_id_token is not None:
                payload["parentIdTag"] = operation.group_id_token.value
            return "ReserveNow", payload
        case CancelReservation():
            return "CancelReservation", {"reservationId": operation.reservation_id}
        case SetChargingProfile():
            return "SetChargingProfile", {"connectorId": operation.evse_id,
                                          "csChargingProfiles": profile_payload(
                                              operation.profile)}
        case ClearChargingProfile():
            payload = {}
            if operation.profile_id is not None:
                payload["id"] = operation.profile_id
            if operation.evse_id is not None:
                payload["connectorId"] = operation.evse_id
            if operation.purpose is not None:
                payload["chargingProfilePurpose"] = purpose_word(operation.purpose)
            if operation.stack_level is not None:
                payload["stackLevel"] = operation.stack_level
            return "ClearChargingProfile", payload
        case GetCompositeSchedule():
            payload = {"connectorId": operation.evse_id, "duration": operation.duration}
            if operation.unit is not None:
                payload["chargingRateUnit"] = operation.unit.value
            return "GetCompositeSchedule", payload
        case GetChargingProfiles():
            raise NotInVersion("1.6 stations do not report their charging profiles "
                               "(GetChargingProfiles is 2.x)")
        case UpdateFirmware() if operation.signature is not None:
            return "SignedUpdateFirmware", _signed_firmware(operation)
        case UpdateFirmware():
            if operation.install_at is not None:
                raise NotInVersion("a 1.6 station installs when it has the firmware; an "
                                   "install time is for a signed firmware (or 2.x)")
            payload = {"location": operation.location,
                       "retrieveDate": ocpp_timestamp(operation.retrieve_at)}
            return "UpdateFirmware", payload | _retrying(operation)
        case RequestLog() if operation.log_type is LogType.DIAGNOSTICS:
            payload = {"location": operation.location}
            if operation.since is not None:
                payload["startTime"] = ocpp_timestamp(operation.since)
            if operation.until is not None:
                payload["stopTime"] = ocpp_timestamp(operation.until)
            return "GetDiagnostics", payload | _retrying(operation)
        case RequestLog():  # the security extension's GetLog
            return "GetLog", log_request(operation, "SecurityLog") | _retrying(operation)
    raise NotInVersion(f"{type(operation).__name__} has no OCPP 1.6 call")


def result(operation: Operation, payload: dict) -> OperationResult:
    """The station's CALLRESULT payload (already checked against its schema)."""
    match operation:
        case GetConfiguration() | ReadDeviceModel():
            variables = [VariableResult(name=VariableName(variable=entry["key"]),
                                        status="Accepted", value=entry.get("value"),
                                        read_only=entry["readonly"])
                         for entry in payload.get("configurationKey") or []]
            variables += [VariableResult(name=VariableName(variable=key),
                                         status="UnknownVariable")
                          for key in payload.get("unknownKey") or []]
            return OperationResult(status="Accepted", taken=True, variables=variables)
        case SetConfiguration():
            answer = status_result(payload)
            [setting] = operation.settings
            return answer.model_copy(update={"variables": [
                VariableResult(name=setting.name, status=answer.status, value=setting.value)]})
        case DataTransfer():
            answer = status_result(payload)
            return answer.model_copy(update={"data": payload.get("data")})
        case GetCompositeSchedule():
            answer = status_result(payload)
            return answer.model_copy(update={
                "schedule": composite_of(payload, operation.evse_id)})
        case UpdateFirmware() if operation.signature is None:
            # UpdateFirmware.conf is empty: the station took it.
            return OperationResult(status="Accepted", taken=True)
        case RequestLog() if operation.log_type is LogType.DIAGNOSTICS:
            # GetDiagnostics.conf names the file it will upload, or none: it has none.
            filename = payload.get("fileName")
            return OperationResult(status="Accepted" if filename else "NoFile",
                                   taken=bool(filename), filename=filename)
        case RequestLog():
            answer = status_result(payload)
            return answer.model_copy(update={"filename": payload.get("filename")})
    return status_result(payload)


def _signed_firmware(operation: UpdateFirmware) -> dict:
    if operation.request_id is None:
        raise NotInVersion("a signed firmware update is sent with its requestId")
    firmware = {"location": operation.location,
                "retrieveDateTime": ocpp_timestamp(operation.retrieve_at),
                "signingCertificate": operation.signing_certificate,
                "signature": operation.signature}
    if operation.install_at is not None:
        firmware["installDateTime"] = ocpp_timestamp(operation.install_at)
    return {"requestId": operation.request_id, "firmware": firmware} | _retrying(operation)


def _retrying(operation: UpdateFirmware | RequestLog) -> dict:
    payload = {}
    if operation.retries is not None:
        payload["retries"] = operation.retries
    if operation.retry_interval is not None:
        payload["retryInterval"] = operation.retry_interval
    return payload


def _key(name: VariableName) -> str:
    if name.component is not None or name.evse_id is not None or name.variable_instance:
        raise NotInVersion(f"1.6 configuration keys have no component, EVSE or instance: "
                           f"{name.label()}")
    if name.attribute.value != "Actual":
        raise NotInVersion("1.6 configuration keys have only their actual value")
    return name.variable
