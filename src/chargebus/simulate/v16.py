"""An OCPP 1.6J station: one connector, sessions with four sampled values per
MeterValues, and the answers a real station gives to the Central System's calls."""
from chargebus.domain.profiles import RateUnit
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.v16.profiles import composite_payload, profile_of, purpose_of
from chargebus.ocpp.versions import known_actions
from chargebus.simulate.scenario import (VOLTS, Refusal, Result, Script, StationState,
                                         firmware_download, firmware_statuses, log_request,
                                         log_upload, now)

CONNECTOR = 1

# key -> (read-only, value): what GetConfiguration reports and ChangeConfiguration may set.
CONFIGURATION = {
    "HeartbeatInterval": (False, "300"),
    "MeterValueSampleInterval": (False, "60"),
    "MeterValuesSampledData": (False, "Energy.Active.Import.Register,Power.Active.Import,"
                                      "Current.Import,Voltage"),
    "ClockAlignedDataInterval": (False, "0"),
    "ConnectionTimeOut": (False, "60"),
    "AuthorizeRemoteTxRequests": (False, "true"),
    "LocalAuthListEnabled": (False, "true"),
    "LocalAuthListMaxLength": (True, "1000"),
    "NumberOfConnectors": (True, "1"),
    "ResetRetries": (False, "3"),
    "WebSocketPingInterval": (False, "60"),
    "SupportedFeatureProfiles": (True, "Core,LocalAuthListManagement,RemoteTrigger,"
                                       "SmartCharging"),
}
_KEYS_BY_LOWER = {key.lower(): key for key in CONFIGURATION}

TRIGGERABLE = ("BootNotification", "Heartbeat", "StatusNotification", "MeterValues")


def boot(state: StationState) -> dict:
    return {"chargePointVendor": "chargebus", "chargePointModel": "Simulated 1.6",
            "chargePointSerialNumber": state.station_id[-25:],
            "firmwareVersion": state.firmware_version}


def status(state: StationState, connector_status: str) -> dict:
    return {"connectorId": CONNECTOR, "errorCode": "NoError", "status": connector_status,
            "timestamp": now()}


def sampled_values(state: StationState, energy_wh: float) -> list[dict]:
    """The register, the power, the current of each phase the car draws on (L1 at
    least), and the voltage."""
    currents = state.charging.currents()
    drawn = [f"{current:.2f}" for current in currents[:max(state.charging.car.phases, 1)]]
    return [
        {"value": f"{energy_wh:.1f}", "context": "Sample.Periodic",
         "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": f"{state.charging.watts() / 1000:.2f}", "context": "Sample.Periodic",
         "measurand": "Power.Active.Import", "unit": "kW"},
        *({"value": value, "context": "Sample.Periodic", "measurand": "Current.Import",
           "phase": f"L{phase}", "unit": "A"} for phase, value in enumerate(drawn, 1)),
        {"value": f"{VOLTS:.1f}", "context": "Sample.Periodic", "measurand": "Voltage",
         "phase": "L1-N", "unit": "V"},
    ]


def sessions(state: StationState) -> Script:
    yield "StatusNotification", status(state, "Available")
    while True:
        yield "Authorize", {"idTag": state.id_token}
        started = yield "StartTransaction", {
            "connectorId": CONNECTOR, "idTag": state.id_token,
            "meterStart": int(state.energy_wh), "timestamp": now()}
        state.sessions_started += 1
        if started is None:
            # No transaction id to report under: the session did not happen.
            yield "StatusNotification", status(state, "Available")
            continue
        transaction_id = started["transactionId"]
        state.charging.start(str(transaction_id))
        yield "StatusNotification", status(state, "Charging")
        for _ in range(state.meter_values):
            energy = state.advance_energy()
            yield "MeterValues", {
                "connectorId": CONNECTOR, "transactionId": transaction_id,
                "meterValue": [{"timestamp": now(),
                                "sampledValue": sampled_values(state, energy)}]}
        state.charging.end()
        yield "StopTransaction", {
            "transactionId": transaction_id, "idTag": state.id_token,
            "meterStop": int(state.energy_wh), "timestamp": now(), "reason": "Local"}
        yield "StatusNotification", status(state, "Available")
        yield "Heartbeat", {}


def statuses(action: str, payload: dict) -> list[str]:
    if action == "BootNotification":
        return [payload.get("status", "?")]
    info = payload.get("idTagInfo")
    return [info.get("status", "?")] if isinstance(info, dict) else []


def triggered_call(state: StationState, requested: str) -> tuple[str, dict]:
    if requested == "BootNotification":
        return requested, boot(state)
    if requested == "Heartbeat":
        return requested, {}
    if requested == "StatusNotification":
        return requested, status(state, "Available")
    return "MeterValues", {"connectorId": CONNECTOR, "meterValue": [{
        "timestamp": now(), "sampledValue": [{
            "value": f"{state.energy_wh:.1f}", "context": "Trigger",
            "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]}


def _get_configuration(state: StationState, payload: dict) -> dict:
    values = {key: value for key, (_, value) in CONFIGURATION.items()} | state.configuration
    requested = payload.get("key")
    names = list(CONFIGURATION) if not requested else requested
    known, unknown = [], []
    for name in names:
        key = _KEYS_BY_LOWER.get(name.lower())
        if key is None:
            unknown.append(name)
        else:
            known.append({"key": key, "readonly": CONFIGURATION[key][0], "value": values[key]})
    answer: dict = {"configurationKey": known}
    if unknown:
        answer["unknownKey"] = unknown
    return answer


def _change_configuration(state: StationState, payload: dict) -> dict:
    key = _KEYS_BY_LOWER.get(payload["key"].lower())
    if key is None:
        return {"status": "NotSupported"}
    if CONFIGURATION[key][0]:
        return {"status": "Rejected"}
    state.configuration[key] = payload["value"]
    return {"status": "Accepted"}


def _trigger(state: StationState, payload: dict) -> dict:
    requested = payload["requestedMessage"]
    if requested not in TRIGGERABLE:
        return {"status": "NotImplemented"}
    state.triggered.append(triggered_call(state, requested))
    return {"status": "Accepted"}


def _remote_start(state: StationState, payload: dict) -> dict:
    """Accepted, and the transaction begun at once, as a driver plugged in waits for."""
    connector = payload.get("connectorId", CONNECTOR)
    if connector != CONNECTOR:
        return {"status": "Rejected"}
    state.triggered.append(("StartTransaction", {
        "connectorId": CONNECTOR, "idTag": payload["idTag"],
        "meterStart": int(state.energy_wh), "timestamp": now()}))
    return {"status": "Accepted"}


def _reserve(state: StationState, payload: dict) -> dict:
    """Its one connector, or any (0); one reservation at a time, as a connector holds."""
    if payload["connectorId"] not in (0, CONNECTOR):
        return {"status": "Unavailable"}
    held = [reservation for reservation in state.reservations
            if reservation != payload["reservationId"]]
    if held:
        return {"status": "Occupied"}
    state.reservations[payload["reservationId"]] = payload["idTag"]
    return {"status": "Accepted"}


def _cancel_reservation(state: StationState, payload: dict) -> dict:
    found = state.reservations.pop(payload["reservationId"], None)
    return {"status": "Accepted" if found is not None else "Rejected"}


def _set_charging_profile(state: StationState, payload: dict) -> dict:
    try:
        profile = profile_of(payload["csChargingProfiles"])
    except ValueError:
        return {"status": "Rejected"}
    return {"status": state.charging.set_profile(payload["connectorId"], profile)}


def _clear_charging_profile(state: StationState, payload: dict) -> dict:
    purpose = payload.get("chargingProfilePurpose")
    found = state.charging.clear(payload.get("id"), payload.get("connectorId"),
                                 purpose_of(purpose) if purpose else None,
                                 payload.get("stackLevel"))
    return {"status": "Accepted" if found else "Unknown"}


def _composite_schedule(state: StationState, payload: dict) -> dict:
    connector = payload["connectorId"]
    if connector not in (0, CONNECTOR) or payload["duration"] < 1:
        return {"status": "Rejected"}
    return composite_payload(state.charging.composite(
        connector, payload["duration"], RateUnit(payload.get("chargingRateUnit", "A"))))


def _update_firmware(state: StationState, payload: dict) -> dict:
    """Taken: it downloads the firmware, reports its progress, and once installed boots
    with the new version (as after the reboot that installs it)."""
    _firmware_progress(state, payload["location"], "FirmwareStatusNotification", None,
                       signed=False)
    return {}


def _signed_update_firmware(state: StationState, payload: dict) -> dict:
    _firmware_progress(state, payload["firmware"]["location"],
                       "SignedFirmwareStatusNotification", payload["requestId"], signed=True)
    return {"status": "Accepted"}


def _firmware_progress(state: StationState, location: str, action: str,
                       request_id: int | None, signed: bool) -> None:
    named = {"requestId": request_id} if request_id is not None else {}
    state.triggered.append((action, {"status": "Downloading"} | named))

    def reported(downloaded: bool) -> list[tuple[str, dict]]:
        statuses = firmware_statuses(downloaded, signed)
        calls = [(action, {"status": status} | named) for status in statuses]
        if statuses[-1] == "Installed":
            state.firmware_version = f"{state.firmware_version}+{len(statuses) + 1}"
            calls.append(("BootNotification", boot(state)))
        return calls
    firmware_download(state, location, reported)


def _get_diagnostics(state: StationState, payload: dict) -> dict:
    """It names its file, and uploads it to the location (by FTP or HTTP)."""
    name = f"diagnostics-{state.station_id}.log"
    state.triggered.append(("DiagnosticsStatusNotification", {"status": "Uploading"}))
    log_upload(state, payload["location"], name, lambda uploaded: [(
        "DiagnosticsStatusNotification", {"status": "Uploaded" if uploaded else "UploadFailed"})])
    return {"fileName": name}


def _send_local_list(state: StationState, payload: dict) -> dict:
    state.local_list_version = payload["listVersion"]
    return {"status": "Accepted"}


_ANSWERS = {
    "Reset": lambda state, payload: {"status": "Accepted"},
    "ChangeAvailability": lambda state, payload: {"status": "Accepted"},
    "GetConfiguration": _get_configuration,
    "ChangeConfiguration": _change_configuration,
    "ClearCache": lambda state, payload: {"status": "Accepted"},
    "RemoteStartTransaction": _remote_start,
    "RemoteStopTransaction": lambda state, payload: {"status": "Accepted"},
    "UnlockConnector": lambda state, payload: {
        "status": "Unlocked" if payload["connectorId"] == CONNECTOR else "NotSupported"},
    "TriggerMessage": _trigger,
    "DataTransfer": lambda state, payload: {"status": "UnknownVendorId"},
    "GetLocalListVersion": lambda state, payload: {"listVersion": state.local_list_version},
    "SendLocalList": _send_local_list,
    "SetChargingProfile": _set_charging_profile,
    "ClearChargingProfile": _clear_charging_profile,
    "GetCompositeSchedule": _composite_schedule,
    "ReserveNow": _reserve,
    "CancelReservation": _cancel_reservation,
    "UpdateFirmware": _update_firmware,
    "SignedUpdateFirmware": _signed_update_firmware,
    "GetDiagnostics": _get_diagnostics,
    "GetLog": log_request,
}


def answer(state: StationState, action: str, payload: dict) -> Result | Refusal:
    handler = _ANSWERS.get(action)
    if handler is None:
        if action in known_actions(OcppVersion.V16):
            return Refusal("NotSupported", f"this station does not support {action}")
        return Refusal("NotImplemented", f"{action} is not an OCPP 1.6 action")
    try:
        return Result(handler(state, payload))
    except (KeyError, TypeError, AttributeError) as error:
        return Refusal("FormationViolation", f"{action} payload not understood: {error!r}")
