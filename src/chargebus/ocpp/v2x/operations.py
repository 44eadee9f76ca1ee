"""chargebus.domain.operations as OCPP 2.0.1 and 2.1 calls, and the answers back."""
from chargebus.domain.model import IdToken, TokenType
from chargebus.domain.operations import (TAKEN, CancelReservation, ChangeAvailability,
                                         ClearCache, ClearChargingProfile,
                                         ClearDisplayMessage, ClearMonitors,
                                         CustomerInformation, DataTransfer,
                                         GetChargingProfiles, GetCompositeSchedule,
                                         GetDisplayMessages, MonitorResult, ReadMonitors,
                                         SetDisplayMessage, SetMonitoringBase,
                                         SetMonitoringLevel, SetMonitors,
                                         GetConfiguration, LogType, NotInVersion, Operation,
                                         OperationResult, ReadDeviceModel, RequestLog, Reset,
                                         ReserveNow,
                                         SetChargingProfile, SetConfiguration, StartCharging,
                                         StopCharging, TriggerMessage, UnlockConnector,
                                         UpdateFirmware, VariableName, VariableResult,
                                         status_result)
from chargebus.ocpp.clock import ocpp_timestamp
from chargebus.ocpp.logs import log_request
from chargebus.ocpp.v2x.messages import message_payload
from chargebus.ocpp.v2x.profiles import composite_of, profile_payload

# GetChargingProfiles: the station holds none that match, which is an answer too.
NO_PROFILES = "NoProfiles"
# GetMonitoringReport (GenericDeviceModelStatusEnumType): none that match.
EMPTY = "EmptyResultSet"

# The type a remote start's token is sent with when nothing says another: a token the
# CSMS vouches for (the operator's, an app's).
REMOTE_TOKEN_TYPE = TokenType.CENTRAL


def request(operation: Operation) -> tuple[str, dict]:
    """The action and payload of ``operation``; NotInVersion where 2.x has no form of it."""
    match operation:
        case StartCharging():
            if operation.remote_start_id is None:
                raise NotInVersion("a 2.x remote start needs its remoteStartId")
            payload: dict = {"idToken": _token(operation.id_token),
                             "remoteStartId": operation.remote_start_id}
            if operation.evse_id is not None:
                payload["evseId"] = operation.evse_id
            if operation.group_id_token is not None:
                payload["groupIdToken"] = _token(operation.group_id_token)
            return "RequestStartTransaction", payload
        case StopCharging():
            return "RequestStopTransaction", {"transactionId": operation.transaction_id}
        case Reset():
            payload = {"type": operation.when.value}
            if operation.evse_id is not None:
                payload["evseId"] = operation.evse_id
            return "Reset", payload
        case ChangeAvailability():
            payload = {"operationalStatus": operation.availability.value}
            evse = _evse(operation.evse_id, operation.connector_id)
            if evse is not None:
                payload["evse"] = evse
            return "ChangeAvailability", payload
        case UnlockConnector():
            return "UnlockConnector", {"evseId": operation.evse_id,
                                       "connectorId": operation.connector_id}
        case TriggerMessage():
            payload = {"requestedMessage": operation.message}
            evse = _evse(operation.evse_id, operation.connector_id)
            if evse is not None:
                payload["evse"] = evse
            return "TriggerMessage", payload
        case ClearCache():
            return "ClearCache", {}
        case GetConfiguration():
            if not operation.names:
                raise NotInVersion("2.x reads named variables (component/variable); the "
                                   "whole device model comes as a report (GetBaseReport)")
            return "GetVariables", {"getVariableData": [
                _variable_data(name) for name in operation.names]}
        case ReadDeviceModel():
            if operation.request_id is None:
                raise NotInVersion("a report is asked for with its requestId")
            return "GetBaseReport", {"requestId": operation.request_id,
                                     "reportBase": "FullInventory"}
        case SetConfiguration():
            return "SetVariables", {"setVariableData": [
                _variable_data(setting.name) | {"attributeValue": setting.value}
                for setting in operation.settings]}
        case DataTransfer():
            payload = {"vendorId": operation.vendor_id}
            if operation.message_id is not None:
                payload["messageId"] = operation.message_id
            if operation.data is not None:
                payload["data"] = operation.data
            return "DataTransfer", payload
        case ReserveNow():
            if operation.reservation_id is None:
                raise NotInVersion("a reservation is sent with its id")
            payload = {"id": operation.reservation_id,
                       "expiryDateTime": ocpp_timestamp(operation.expires_at),
                       "idToken": _token(operation.id_token)}
            if operation.evse_id is not None:
                payload["evseId"] = operation.evse_id
            if operation.group_id_token is not None:
                payload["groupIdToken"] = _token(operation.group_id_token)
            if operation.connector_type is not None:
                payload["connectorType"] = operation.connector_type
            return "ReserveNow", payload
        case CancelReservation():
            return "CancelReservation", {"reservationId": operation.reservation_id}
        case SetChargingProfile():
            return "SetChargingProfile", {"evseId": operation.evse_id,
                                          "chargingProfile": profile_payload(operation.profile)}
        case ClearChargingProfile():
            payload = {}
            if operation.profile_id is not None:
                payload["chargingProfileId"] = operation.profile_id
            criteria: dict = {}
            if operation.evse_id is not None:
                criteria["evseId"] = operation.evse_id
            if operation.purpose is not None:
                criteria["chargingProfilePurpose"] = operation.purpose.value
            if operation.stack_level is not None:
                criteria["stackLevel"] = operation.stack_level
            if criteria:
                payload["chargingProfileCriteria"] = criteria
            return "ClearChargingProfile", payload
        case GetCompositeSchedule():
            payload = {"evseId": operation.evse_id, "duration": operation.duration}
            if operation.unit is not None:
                payload["chargingRateUnit"] = operation.unit.value
            return "GetCompositeSchedule", payload
        case GetChargingProfiles():
            if operation.request_id is None:
                raise NotInVersion("profiles are asked for with a requestId")
            criterion: dict = {}
            if operation.purpose is not None:
                criterion["chargingProfilePurpose"] = operation.purpose.value
            if operation.stack_level is not None:
                criterion["stackLevel"] = operation.stack_level
            if operation.profile_ids:
                criterion["chargingProfileId"] = operation.profile_ids
            payload = {"requestId": operation.request_id, "chargingProfile": criterion}
            if operation.evse_id is not None:
                payload["evseId"] = operation.evse_id
            return "GetChargingProfiles", payload
        case UpdateFirmware():
            if operation.request_id is None:
                raise NotInVersion("a firmware update is sent with its requestId")
            firmware: dict = {"location": operation.location,
                              "retrieveDateTime": ocpp_timestamp(operation.retrieve_at)}
            if operation.install_at is not None:
                firmware["installDateTime"] = ocpp_timestamp(operation.install_at)
            if operation.signature is not None:
                firmware["signature"] = operation.signature
                firmware["signingCertificate"] = operation.signing_certificate
            payload = {"requestId": operation.request_id, "firmware": firmware}
            if operation.retries is not None:
                payload["retries"] = operation.retries
            if operation.retry_interval is not None:
                payload["retryInterval"] = operation.retry_interval
            return "UpdateFirmware", payload
        case RequestLog():
            kind = "SecurityLog" if operation.log_type is LogType.SECURITY else "DiagnosticsLog"
            payload = log_request(operation, kind)
            if operation.retries is not None:
                payload["retries"] = operation.retries
            if operation.retry_interval is not None:
                payload["retryInterval"] = operation.retry_interval
            return "GetLog", payload
        case SetDisplayMessage():
            return "SetDisplayMessage", {"message": message_payload(operation.message)}
        case GetDisplayMessages():
            if operation.request_id is None:
                raise NotInVersion("messages are asked for with a requestId")
            payload = {"requestId": operation.request_id}
            if operation.message_ids:
                payload["id"] = operation.message_ids
            if operation.priority is not None:
                payload["priority"] = operation.priority
            if operation.state is not None:
                payload["state"] = operation.state
            return "GetDisplayMessages", payload
        case ClearDisplayMessage():
            return "ClearDisplayMessage", {"id": operation.message_id}
        case SetMonitors():
            return "SetVariableMonitoring", {"setMonitoringData": [
                _component_variable(setting.name) | {
                    "value": setting.value, "type": setting.kind,
                    "severity": setting.severity, "transaction": setting.transaction}
                | ({"id": setting.monitor_id} if setting.monitor_id is not None else {})
                for setting in operation.monitors]}
        case ClearMonitors():
            return "ClearVariableMonitoring", {"id": operation.monitor_ids}
        case SetMonitoringBase():
            return "SetMonitoringBase", {"monitoringBase": operation.base}
        case SetMonitoringLevel():
            return "SetMonitoringLevel", {"severity": operation.severity}
        case ReadMonitors():
            if operation.request_id is None:
                raise NotInVersion("monitors are asked for with a requestId")
            payload = {"requestId": operation.request_id}
            if operation.criteria:
                payload["monitoringCriteria"] = operation.criteria
            return "GetMonitoringReport", payload
        case CustomerInformation():
            if operation.request_id is None:
                raise NotInVersion("customer information is asked for with a requestId")
            payload = {"requestId": operation.request_id, "report": operation.report,
                       "clear": operation.clear}
            if operation.customer is not None:
                payload["customerIdentifier"] = operation.customer
            if operation.id_token is not None:
                payload["idToken"] = _token(operation.id_token)
            return "CustomerInformation", payload
    raise NotInVersion(f"{type(operation).__name__} has no OCPP 2.x call")


def result(operation: Operation, payload: dict) -> OperationResult:
    """The station's CALLRESULT payload (already checked against its schema)."""
    match operation:
        case GetConfiguration():
            variables = [_variable_result(entry, entry.get("attributeValue"))
                         for entry in payload["getVariableResult"]]
            return OperationResult(status="Accepted", taken=True, variables=variables)
        case SetConfiguration():
            values = {setting.name.label(): setting.value for setting in operation.settings}
            variables = [_variable_result(entry, None) for entry in payload["setVariableResult"]]
            for variable in variables:
                variable.value = values.get(variable.name.label())
            taken = all(variable.status in TAKEN for variable in variables)
            return OperationResult(status="Accepted" if taken else "Rejected", taken=taken,
                                   variables=variables)
        case StartCharging():
            answer = status_result(payload)
            return answer.model_copy(update={"transaction_id": payload.get("transactionId")})
        case DataTransfer():
            answer = status_result(payload)
            return answer.model_copy(update={"data": payload.get("data")})
        case GetCompositeSchedule():
            answer = status_result(payload)
            return answer.model_copy(update={
                "schedule": composite_of(payload, operation.evse_id)})
        case RequestLog():
            answer = status_result(payload)
            return answer.model_copy(update={"filename": payload.get("filename")})
        case GetChargingProfiles():
            answer = status_result(payload)
            return answer.model_copy(update={"taken": answer.taken
                                             or answer.status == NO_PROFILES})
        case SetMonitors():
            monitors = [MonitorResult(
                name=_name_of(entry), status=entry["status"], kind=entry["type"],
                severity=entry["severity"], monitor_id=entry.get("id"))
                for entry in payload["setMonitoringResult"]]
            taken = all(each.status == "Accepted" for each in monitors)
            return OperationResult(status="Accepted" if taken else "Rejected", taken=taken,
                                   monitors=monitors)
        case ClearMonitors():
            cleared = [entry["id"] for entry in payload["clearMonitoringResult"]
                       if entry["status"] == "Accepted"]
            taken = len(cleared) == len(payload["clearMonitoringResult"])
            return OperationResult(status="Accepted" if taken else "Rejected", taken=taken,
                                   cleared=cleared)
        case ReadMonitors():
            # EmptyResultSet: it holds no monitor that matches, which is an answer too.
            answer = status_result(payload)
            return answer.model_copy(update={"taken": answer.taken
                                             or answer.status == EMPTY})
        case GetDisplayMessages():
            # Unknown: it holds no message that matches, which is an answer too.
            answer = status_result(payload)
            return answer.model_copy(update={"taken": True})
    return status_result(payload)


def _token(token: IdToken) -> dict:
    return {"idToken": token.value, "type": (token.type or REMOTE_TOKEN_TYPE).value}


def _evse(evse_id: int | None, connector_id: int | None) -> dict | None:
    if evse_id is None:
        if connector_id is not None:
            raise NotInVersion("a connector is named with its EVSE")
        return None
    return {"id": evse_id} | ({"connectorId": connector_id} if connector_id else {})


def _component_variable(name: VariableName) -> dict:
    data = _variable_data(name)
    del data["attributeType"]
    return data


def _variable_data(name: VariableName) -> dict:
    if name.component is None:
        raise NotInVersion(f"a 2.x variable belongs to a component: Component/{name.variable}")
    component: dict = {"name": name.component}
    if name.component_instance:
        component["instance"] = name.component_instance
    if name.evse_id is not None:
        component["evse"] = {"id": name.evse_id} | (
            {"connectorId": name.connector_id} if name.connector_id else {})
    elif name.connector_id is not None:
        raise NotInVersion("a connector is named with its EVSE")
    variable: dict = {"name": name.variable}
    if name.variable_instance:
        variable["instance"] = name.variable_instance
    return {"component": component, "variable": variable,
            "attributeType": name.attribute.value}


def _variable_result(entry: dict, value: str | None) -> VariableResult:
    return VariableResult(name=_name_of(entry), status=entry["attributeStatus"], value=value)


def _name_of(entry: dict) -> VariableName:
    """The variable an entry of an answer names (its component, variable, attribute)."""
    component, variable = entry["component"], entry["variable"]
    evse = component.get("evse") or {}
    return VariableName(variable=variable["name"], component=component["name"],
                        component_instance=component.get("instance"),
                        variable_instance=variable.get("instance"),
                        evse_id=evse.get("id"), connector_id=evse.get("connectorId"),
                        attribute=entry.get("attributeType", "Actual"))
