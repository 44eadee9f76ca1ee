"""An OCPP 2.0.1 or 2.1 station (the calls it makes are the same in both): one EVSE
with one connector, sessions as TransactionEvents whose Updated events carry four
sampled values, and the answers a real station gives to the CSMS's calls."""
from chargebus.domain.profiles import Purpose, RateUnit
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.v2x.profiles import composite_payload, profile_of, profile_payload
from chargebus.ocpp.versions import known_actions
from chargebus.simulate.scenario import (VOLTS, Refusal, Result, Script, StationState,
                                         firmware_download, firmware_statuses, log_request,
                                         now)

EVSE = {"id": 1, "connectorId": 1}

# (component, variable) -> (read-only, value): the station's device model, as far as
# GetVariables and SetVariables see it.
VARIABLES = {
    ("OCPPCommCtrlr", "HeartbeatInterval"): (False, "300"),
    ("OCPPCommCtrlr", "NetworkProfileConnectionAttempts"): (False, "3"),
    ("SampledDataCtrlr", "TxUpdatedInterval"): (False, "60"),
    ("SampledDataCtrlr", "TxUpdatedMeasurands"): (
        False, "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage"),
    ("AuthCtrlr", "AuthorizeRemoteStart"): (False, "true"),
    ("LocalAuthListCtrlr", "Enabled"): (False, "true"),
    ("SecurityCtrlr", "SecurityProfile"): (True, "0"),
    ("ChargingStation", "AvailabilityState"): (True, "Available"),
}
_VARIABLES_BY_LOWER = {(component.lower(), variable.lower()): (component, variable)
                       for component, variable in VARIABLES}
_COMPONENTS = {component.lower() for component, _ in VARIABLES}

TRIGGERABLE = ("BootNotification", "Heartbeat", "StatusNotification", "MeterValues")


def boot(state: StationState) -> dict:
    model = "Simulated 2.1" if state.version is OcppVersion.V21 else "Simulated 2.0.1"
    return {"reason": "PowerUp", "chargingStation": {
        "model": model, "vendorName": "chargebus", "serialNumber": state.station_id[-25:],
        "firmwareVersion": state.firmware_version}}


def status(connector_status: str) -> dict:
    return {"timestamp": now(), "connectorStatus": connector_status,
            "evseId": EVSE["id"], "connectorId": EVSE["connectorId"]}


def _register(energy_wh: float, context: str) -> dict:
    return {"value": round(energy_wh, 1), "context": context,
            "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"}}


def sampled_values(state: StationState, energy_wh: float) -> list[dict]:
    """The register, the power, the current of each phase the car draws on (L1 at
    least), and the voltage."""
    currents = state.charging.currents()
    drawn = currents[:max(state.charging.car.phases, 1)]
    return [
        _register(energy_wh, "Sample.Periodic"),
        {"value": round(state.charging.watts(), 1), "context": "Sample.Periodic",
         "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}},
        *({"value": round(value, 2), "context": "Sample.Periodic",
           "measurand": "Current.Import", "phase": f"L{phase}", "unitOfMeasure": {"unit": "A"}}
          for phase, value in enumerate(drawn, 1)),
        {"value": VOLTS, "context": "Sample.Periodic", "measurand": "Voltage",
         "phase": "L1-N", "unitOfMeasure": {"unit": "V"}},
    ]


def transaction_id(state: StationState) -> str:
    return f"{state.run_tag}{state.index:x}-{state.sessions_started:x}"


def sessions(state: StationState) -> Script:
    yield "StatusNotification", status("Available")
    id_token = {"idToken": state.id_token, "type": "ISO14443"}
    while True:
        yield "Authorize", {"idToken": id_token}
        state.sessions_started += 1
        transaction = transaction_id(state)
        state.charging.start(transaction)
        yield "TransactionEvent", {
            "eventType": "Started", "timestamp": now(), "triggerReason": "Authorized",
            "seqNo": 0, "transactionInfo": {"transactionId": transaction,
                                            "chargingState": "Charging"},
            "evse": EVSE, "idToken": id_token,
            "meterValue": [{"timestamp": now(),
                            "sampledValue": [_register(state.energy_wh, "Transaction.Begin")]}]}
        yield "StatusNotification", status("Occupied")
        for sequence in range(1, state.meter_values + 1):
            energy = state.advance_energy()
            yield "TransactionEvent", {
                "eventType": "Updated", "timestamp": now(),
                "triggerReason": "MeterValuePeriodic", "seqNo": sequence,
                "transactionInfo": {"transactionId": transaction, "chargingState": "Charging"},
                "evse": EVSE,
                "meterValue": [{"timestamp": now(),
                                "sampledValue": sampled_values(state, energy)}]}
        state.charging.end()
        yield "TransactionEvent", {
            "eventType": "Ended", "timestamp": now(), "triggerReason": "StopAuthorized",
            "seqNo": state.meter_values + 1,
            "transactionInfo": {"transactionId": transaction, "chargingState": "EVConnected",
                                "stoppedReason": "Local"},
            "evse": EVSE, "idToken": id_token,
            "meterValue": [{"timestamp": now(),
                            "sampledValue": [_register(state.energy_wh, "Transaction.End")]}]}
        yield "StatusNotification", status("Available")
        yield "Heartbeat", {}


def statuses(action: str, payload: dict) -> list[str]:
    if action == "BootNotification":
        return [payload.get("status", "?")]
    info = payload.get("idTokenInfo")
    return [info.get("status", "?")] if isinstance(info, dict) else []


def triggered_call(state: StationState, requested: str) -> tuple[str, dict]:
    if requested == "BootNotification":
        call = boot(state)
        call["reason"] = "Triggered"
        return requested, call
    if requested == "Heartbeat":
        return requested, {}
    if requested == "StatusNotification":
        return requested, status("Available")
    return "MeterValues", {"evseId": EVSE["id"], "meterValue": [{
        "timestamp": now(), "sampledValue": [_register(state.energy_wh, "Trigger")]}]}


def _variable_result(state: StationState, item: dict, writing: bool) -> dict:
    component, variable = item["component"], item["variable"]
    key = _VARIABLES_BY_LOWER.get((component["name"].lower(), variable["name"].lower()))
    result = {"component": component, "variable": variable}
    if "attributeType" in item:
        result["attributeType"] = item["attributeType"]
    if key is None:
        result["attributeStatus"] = ("UnknownVariable" if component["name"].lower() in _COMPONENTS
                                     else "UnknownComponent")
    elif item.get("attributeType", "Actual") != "Actual":
        result["attributeStatus"] = "NotSupportedAttributeType"
    elif writing:
        read_only = VARIABLES[key][0]
        result["attributeStatus"] = "Rejected" if read_only else "Accepted"
        if not read_only:
            state.configuration[key] = item["attributeValue"]
            _watched(state, key, item["attributeValue"])
    else:
        result["attributeStatus"] = "Accepted"
        result["attributeValue"] = state.configuration.get(key, VARIABLES[key][1])
    return result


def _get_variables(state: StationState, payload: dict) -> dict:
    return {"getVariableResult": [_variable_result(state, item, writing=False)
                                  for item in payload["getVariableData"]]}


def _set_variables(state: StationState, payload: dict) -> dict:
    return {"setVariableResult": [_variable_result(state, item, writing=True)
                                  for item in payload["setVariableData"]]}


def _trigger(state: StationState, payload: dict) -> dict:
    requested = payload["requestedMessage"]
    if requested not in TRIGGERABLE:
        return {"status": "NotImplemented"}
    state.triggered.append(triggered_call(state, requested))
    return {"status": "Accepted"}


def _base_report(state: StationState, payload: dict) -> dict:
    """Accepted, and its variables sent as one NotifyReport, as a station reports its
    device model."""
    state.triggered.append(("NotifyReport", {
        "requestId": payload["requestId"], "generatedAt": now(), "seqNo": 0, "tbc": False,
        "reportData": [{
            "component": {"name": component}, "variable": {"name": variable},
            "variableAttribute": [{"type": "Actual",
                                   "value": state.configuration.get((component, variable),
                                                                    value),
                                   "mutability": "ReadOnly" if read_only else "ReadWrite"}],
            "variableCharacteristics": {"dataType": "string", "supportsMonitoring": False}}
            for (component, variable), (read_only, value) in VARIABLES.items()]}))
    return {"status": "Accepted"}


def _remote_start(state: StationState, payload: dict) -> dict:
    """Accepted, and the transaction begun at once, with the request's remoteStartId."""
    if payload.get("evseId", EVSE["id"]) != EVSE["id"]:
        return {"status": "Rejected"}
    state.sessions_started += 1
    state.triggered.append(("TransactionEvent", {
        "eventType": "Started", "timestamp": now(), "triggerReason": "RemoteStart",
        "seqNo": 0, "evse": EVSE, "idToken": payload["idToken"],
        "transactionInfo": {
            "transactionId": transaction_id(state),
            "remoteStartId": payload["remoteStartId"]}}))
    return {"status": "Accepted"}


def _reserve(state: StationState, payload: dict) -> dict:
    """Its one EVSE, or any; one reservation at a time, as an EVSE holds."""
    if payload.get("evseId") not in (None, EVSE["id"]):
        return {"status": "Unavailable"}
    if [reservation for reservation in state.reservations if reservation != payload["id"]]:
        return {"status": "Occupied"}
    state.reservations[payload["id"]] = payload["idToken"]["idToken"]
    return {"status": "Accepted"}


def _cancel_reservation(state: StationState, payload: dict) -> dict:
    found = state.reservations.pop(payload["reservationId"], None)
    return {"status": "Accepted" if found is not None else "Rejected"}


def _set_charging_profile(state: StationState, payload: dict) -> dict:
    try:
        profile = profile_of(payload["chargingProfile"])
    except ValueError:
        return {"status": "Rejected"}
    return {"status": state.charging.set_profile(payload["evseId"], profile)}


def _clear_charging_profile(state: StationState, payload: dict) -> dict:
    criteria = payload.get("chargingProfileCriteria") or {}
    purpose = criteria.get("chargingProfilePurpose")
    if purpose is not None and purpose not in tuple(Purpose):
        return {"status": "Unknown"}  # a 2.1 purpose it holds no profile of
    found = state.charging.clear(payload.get("chargingProfileId"), criteria.get("evseId"),
                                 Purpose(purpose) if purpose else None,
                                 criteria.get("stackLevel"))
    return {"status": "Accepted" if found else "Unknown"}


def _composite_schedule(state: StationState, payload: dict) -> dict:
    if payload["evseId"] not in (0, EVSE["id"]) or payload["duration"] < 1:
        return {"status": "Rejected"}
    return composite_payload(state.charging.composite(
        payload["evseId"], payload["duration"], RateUnit(payload.get("chargingRateUnit", "A"))))


def _get_charging_profiles(state: StationState, payload: dict) -> dict:
    """Accepted, and the profiles that match reported in one ReportChargingProfiles per
    EVSE (K09), or NoProfiles."""
    criterion = payload["chargingProfile"]
    held = [each for each in state.charging.profiles
            if payload.get("evseId") in (None, each.evse_id)
            and criterion.get("chargingProfilePurpose") in (None, each.profile.purpose.value)
            and criterion.get("stackLevel") in (None, each.profile.stack_level)
            and each.profile.profile_id in criterion.get("chargingProfileId",
                                                         [each.profile.profile_id])]
    if not held:
        return {"status": "NoProfiles"}
    evses = sorted({each.evse_id for each in held})
    for number, evse_id in enumerate(evses):
        state.triggered.append(("ReportChargingProfiles", {
            "requestId": payload["requestId"], "chargingLimitSource": "CSO",
            "evseId": evse_id, "tbc": number < len(evses) - 1,
            "chargingProfile": [profile_payload(each.profile) for each in held
                                if each.evse_id == evse_id]}))
    return {"status": "Accepted"}


def _update_firmware(state: StationState, payload: dict) -> dict:
    """Accepted: it downloads the firmware, reports its progress with the request's id,
    and once installed boots with the new version (as after the reboot that installs it)."""
    request_id = payload["requestId"]
    named = {"requestId": request_id}
    state.triggered.append(("FirmwareStatusNotification", {"status": "Downloading"} | named))

    def reported(downloaded: bool) -> list[tuple[str, dict]]:
        statuses = firmware_statuses(downloaded, signed="signature" in payload["firmware"])
        calls = [("FirmwareStatusNotification", {"status": status} | named)
                 for status in statuses]
        if statuses[-1] == "Installed":
            state.firmware_version = f"{state.firmware_version}+{request_id}"
            call = boot(state)
            call["reason"] = "FirmwareUpdate"
            calls.append(("BootNotification", call))
        return calls
    firmware_download(state, payload["firmware"]["location"], reported)
    return {"status": "Accepted"}


def _set_display_message(state: StationState, payload: dict) -> dict:
    message = payload["message"]
    state.display_messages[message["id"]] = message
    return {"status": "Accepted"}


def _get_display_messages(state: StationState, payload: dict) -> dict:
    """Accepted, and the messages that match reported one a part (O04), or Unknown."""
    held = [message for message in state.display_messages.values()
            if message["id"] in payload.get("id", [message["id"]])
            and payload.get("priority") in (None, message["priority"])
            and payload.get("state") in (None, message.get("state"))]
    if not held:
        return {"status": "Unknown"}
    for number, message in enumerate(held):
        state.triggered.append(("NotifyDisplayMessages", {
            "requestId": payload["requestId"], "tbc": number < len(held) - 1,
            "messageInfo": [message]}))
    return {"status": "Accepted"}


def _clear_display_message(state: StationState, payload: dict) -> dict:
    found = state.display_messages.pop(payload["id"], None)
    return {"status": "Accepted" if found is not None else "Unknown"}


def _customer_information(state: StationState, payload: dict) -> dict:
    """Accepted: what it holds of the customer (its sessions, in two parts) reported
    where asked, and forgotten where asked."""
    who = payload.get("customerIdentifier") or (payload.get("idToken") or {}).get("idToken")
    if who is None:
        return {"status": "Invalid"}
    if payload["report"]:
        for seq_no, data in enumerate((f"customer {who}: ",
                                       f"{state.sessions_started} sessions here")):
            state.triggered.append(("NotifyCustomerInformation", {
                "requestId": payload["requestId"], "seqNo": seq_no, "data": data,
                "tbc": seq_no == 0, "generatedAt": now()}))
    return {"status": "Accepted"}


MONITOR_TYPES = ("UpperThreshold", "LowerThreshold", "Delta", "Periodic", "PeriodicClockAligned")


def _set_variable_monitoring(state: StationState, payload: dict) -> dict:
    results = []
    for item in payload["setMonitoringData"]:
        component, variable = item["component"], item["variable"]
        key = _VARIABLES_BY_LOWER.get((component["name"].lower(), variable["name"].lower()))
        result = {"type": item["type"], "severity": item["severity"],
                  "component": component, "variable": variable}
        if key is None:
            result["status"] = ("UnknownVariable" if component["name"].lower() in _COMPONENTS
                                else "UnknownComponent")
        elif item["type"] not in MONITOR_TYPES:
            result["status"] = "UnsupportedMonitorType"
        else:
            monitor_id = item.get("id", max(state.monitors, default=0) + 1)
            state.monitors[monitor_id] = (key, item["type"], item["value"], item["severity"],
                                          item.get("transaction", False))
            result |= {"status": "Accepted", "id": monitor_id}
        results.append(result)
    return {"setMonitoringResult": results}


def _clear_variable_monitoring(state: StationState, payload: dict) -> dict:
    return {"clearMonitoringResult": [
        {"id": monitor_id,
         "status": "Accepted" if state.monitors.pop(monitor_id, None) else "NotFound"}
        for monitor_id in payload["id"]]}


def _get_monitoring_report(state: StationState, payload: dict) -> dict:
    """Its monitors, one variable a NotifyMonitoringReport part, or EmptyResultSet."""
    by_variable: dict = {}
    for monitor_id, (key, kind, value, severity, transaction) in state.monitors.items():
        monitor = {"id": monitor_id, "transaction": transaction, "value": value, "type": kind,
                   "severity": severity}
        if state.version is OcppVersion.V21:  # 2.1 says who made the monitor
            monitor["eventNotificationType"] = "CustomMonitor"
        by_variable.setdefault(key, []).append(monitor)
    if not by_variable:
        return {"status": "EmptyResultSet"}
    for seq_no, ((component, variable), monitors) in enumerate(by_variable.items()):
        state.triggered.append(("NotifyMonitoringReport", {
            "requestId": payload["requestId"], "seqNo": seq_no, "generatedAt": now(),
            "tbc": seq_no < len(by_variable) - 1,
            "monitor": [{"component": {"name": component}, "variable": {"name": variable},
                         "variableMonitoring": monitors}]}))
    return {"status": "Accepted"}


def _watched(state: StationState, key: tuple[str, str], value: str) -> None:
    """A threshold monitor of the variable that its new value crosses raises an event."""
    try:
        number = float(value)
    except ValueError:
        return
    for monitor_id, (watched, kind, threshold, _, _) in state.monitors.items():
        crossed = ((kind == "UpperThreshold" and number > threshold)
                   or (kind == "LowerThreshold" and number < threshold))
        if watched == key and crossed:
            state.events_raised += 1
            state.triggered.append(("NotifyEvent", {
                "generatedAt": now(), "seqNo": 0, "eventData": [{
                    "eventId": state.events_raised, "timestamp": now(),
                    "trigger": "Alerting", "actualValue": value,
                    "eventNotificationType": "CustomMonitor",
                    "variableMonitoringId": monitor_id,
                    "component": {"name": key[0]}, "variable": {"name": key[1]}}]}))


def _send_local_list(state: StationState, payload: dict) -> dict:
    state.local_list_version = payload["versionNumber"]
    return {"status": "Accepted"}


_ANSWERS = {
    "Reset": lambda state, payload: {"status": "Accepted"},
    "ChangeAvailability": lambda state, payload: {"status": "Accepted"},
    "GetVariables": _get_variables,
    "SetVariables": _set_variables,
    "TriggerMessage": _trigger,
    "RequestStartTransaction": _remote_start,
    "RequestStopTransaction": lambda state, payload: {"status": "Accepted"},
    "UnlockConnector": lambda state, payload: {
        "status": "Unlocked" if (payload["evseId"], payload["connectorId"])
        == (EVSE["id"], EVSE["connectorId"]) else "UnknownConnector"},
    "ClearCache": lambda state, payload: {"status": "Accepted"},
    "DataTransfer": lambda state, payload: {"status": "UnknownVendorId"},
    "GetLocalListVersion": lambda state, payload: {"versionNumber": state.local_list_version},
    "SendLocalList": _send_local_list,
    "SetChargingProfile": _set_charging_profile,
    "ClearChargingProfile": _clear_charging_profile,
    "GetCompositeSchedule": _composite_schedule,
    "GetChargingProfiles": _get_charging_profiles,
    "ReserveNow": _reserve,
    "CancelReservation": _cancel_reservation,
    "GetTransactionStatus": lambda state, payload: {"messagesInQueue": False},
    "GetBaseReport": _base_report,
    "UpdateFirmware": _update_firmware,
    "GetLog": log_request,
    "SetDisplayMessage": _set_display_message,
    "GetDisplayMessages": _get_display_messages,
    "ClearDisplayMessage": _clear_display_message,
    "CustomerInformation": _customer_information,
    "SetVariableMonitoring": _set_variable_monitoring,
    "ClearVariableMonitoring": _clear_variable_monitoring,
    "SetMonitoringBase": lambda state, payload: {"status": "Accepted"},
    "SetMonitoringLevel": lambda state, payload: {"status": "Accepted"},
    "GetMonitoringReport": _get_monitoring_report,
}


def answer(state: StationState, action: str, payload: dict) -> Result | Refusal:
    handler = _ANSWERS.get(action)
    if handler is None:
        if action in known_actions(state.version):
            return Refusal("NotSupported", f"this station does not support {action}")
        return Refusal("NotImplemented", f"{action} is not an action of {state.version.value}")
    try:
        return Result(handler(state, payload))
    except (KeyError, TypeError, AttributeError) as error:
        return Refusal("FormatViolation", f"{action} payload not understood: {error!r}")
