"""Station notifications that are not meter data, as rows of the station events table
(chargebus.meter.clickhouse.migrations.STATION_EVENTS).

Every row holds its station, ``ts`` (when chargebus received the call, the recorded
call's Chargebus-Received header), ``version``, ``action``, ``payload``, ``stream_seq``
(the call's message in the OCPP stream) and ``item`` (the row's index within its call).
The other columns, by action (a text the action does not fill is empty, a severity
NO_SEVERITY):

    BootNotification               status: 2.x reason; model: 1.6 chargePointModel,
                                   2.x chargingStation.model (analytics join on it)
    StatusNotification             status: 1.6 status, 2.x connectorStatus;
                                   1.6 also event_type: errorCode, tech_code: vendorErrorCode
    FirmwareStatusNotification,
    SignedFirmwareStatusNotification  firmware_status: status
    DiagnosticsStatusNotification,
    LogStatusNotification,
    PublishFirmwareStatusNotification status: status (a local controller publishing an
                                   image is no update of its own firmware)
    ReservationStatusUpdate        status: reservationUpdateStatus
    SecurityEventNotification      event_type: type; tech_code: techInfo
    NotifyEvent                    a row per eventData: event_type: eventNotificationType,
                                   component, variable, trigger, tech_code: techCode,
                                   status: actualValue (what the variable became: Faulted,
                                   true, ...), severity (2.1)
    NotifyMonitoringReport         a row per monitor of each entry: event_type: the monitor's
                                   type (UpperThreshold, ...), component, variable, severity
    the others                     one row: the action and the payload

A component or variable is its name, or name.instance (chargebus.domain.devicemodel's
key). ``payload`` is the call's JSON as the station sent it, except NotifyCustomerInformation's:
what a station holds of a customer is kept in the customers bucket for 30 days and
can be forgotten there, not copied into ClickHouse for good.

A call that cannot be read (not a JSON object, a member of the wrong type, an action
the version does not send) raises one of chargebus.bus.consumers.UNUSABLE.
"""
from collections.abc import Callable
from typing import NamedTuple

import orjson

from chargebus.domain.devicemodel import variable_key
from chargebus.ocpp import OcppVersion

_COMMON = ("BootNotification", "StatusNotification", "FirmwareStatusNotification",
           "LogStatusNotification", "SecurityEventNotification", "DataTransfer")
_2X = _COMMON + ("NotifyEvent", "NotifyMonitoringReport", "NotifyDisplayMessages",
                 "NotifyCustomerInformation", "NotifyChargingLimit", "ClearedChargingLimit",
                 "NotifyEVChargingNeeds", "ReservationStatusUpdate",
                 "PublishFirmwareStatusNotification")

# The notifications kept as station events, per version (1.6 with its security extension).
EVENT_ACTIONS: dict[OcppVersion, tuple[str, ...]] = {
    OcppVersion.V16: _COMMON + ("SignedFirmwareStatusNotification",
                                "DiagnosticsStatusNotification"),
    OcppVersion.V201: _2X,
    OcppVersion.V21: _2X,
}

# Severity is 0 (danger) to 9 (debug) in OCPP; a row without one holds this, so that a
# filter for the severe ones (severity <= 3) never takes it.
NO_SEVERITY = 255

# Actions whose payload is left out of the table (see above).
_PAYLOAD_WITHHELD = frozenset({"NotifyCustomerInformation"})


def event_action_names() -> list[str]:
    """Every action kept as station events, in any version: one consumer each."""
    return sorted({action for actions in EVENT_ACTIONS.values() for action in actions})


class EventRow(NamedTuple):
    """What a row says of its call, besides the station, time, action and payload."""

    event_type: str = ""
    component: str = ""
    variable: str = ""
    severity: int = NO_SEVERITY
    trigger: str = ""
    tech_code: str = ""
    firmware_status: str = ""
    status: str = ""
    model: str = ""


# The station events table's columns, in the order inserts name them.
EVENT_COLUMNS = ("station", "ts", "version", "action", *EventRow._fields, "payload",
                 "stream_seq", "item")


def event_rows(version: OcppVersion, action: str, payload: bytes) -> list[EventRow]:
    """The rows of one recorded call: at least one, so that every call is kept."""
    if action not in EVENT_ACTIONS[version]:
        raise ValueError(f"{version.value} {action} is not kept as a station event")
    call = orjson.loads(payload)
    if not isinstance(call, dict):
        raise TypeError(f"the payload is a JSON {type(call).__name__}, not an object")
    reader = _READERS.get(action)
    rows = reader(version, call) if reader else []
    return rows or [EventRow()]


def _text(value: dict, name: str, required: bool = False) -> str:
    found = value[name] if required else value.get(name, "")
    if not isinstance(found, str):
        raise TypeError(f"{name} is {type(found).__name__}, not a string")
    return found


def _object(value: dict, name: str) -> dict:
    found = value[name]
    if not isinstance(found, dict):
        raise TypeError(f"{name} is {type(found).__name__}, not an object")
    return found


def _items(value: dict, name: str, required: bool = True) -> list[dict]:
    items = value[name] if required else value.get(name, [])
    if not isinstance(items, list):
        raise TypeError(f"{name} is {type(items).__name__}, not an array")
    if not all(isinstance(item, dict) for item in items):
        raise TypeError(f"{name} holds something other than objects")
    return items


def _severity(value: dict) -> int:
    found = value.get("severity")
    if found is None:
        return NO_SEVERITY
    if isinstance(found, bool) or not isinstance(found, int) or not 0 <= found < NO_SEVERITY:
        raise ValueError(f"severity {found!r} is no whole number from 0 to {NO_SEVERITY - 1}")
    return found


def _named(value: dict, name: str) -> str:
    """A component's or variable's key: its name, or name.instance."""
    part = _object(value, name)
    return variable_key(_text(part, "name", required=True), _text(part, "instance") or None)


def _boot(version: OcppVersion, call: dict) -> list[EventRow]:
    if version is OcppVersion.V16:
        return [EventRow(model=_text(call, "chargePointModel", required=True))]
    return [EventRow(status=_text(call, "reason", required=True),
                     model=_text(_object(call, "chargingStation"), "model", required=True))]


def _status(version: OcppVersion, call: dict) -> list[EventRow]:
    if version is OcppVersion.V16:
        return [EventRow(status=_text(call, "status", required=True),
                         event_type=_text(call, "errorCode", required=True),
                         tech_code=_text(call, "vendorErrorCode"))]
    return [EventRow(status=_text(call, "connectorStatus", required=True))]


def _firmware(version: OcppVersion, call: dict) -> list[EventRow]:
    return [EventRow(firmware_status=_text(call, "status", required=True))]


# Reads a call of one action into its rows.
Reader = Callable[[OcppVersion, dict], list[EventRow]]


def _status_of(member: str) -> Reader:
    def read(version: OcppVersion, call: dict) -> list[EventRow]:
        return [EventRow(status=_text(call, member, required=True))]
    return read


def _security(version: OcppVersion, call: dict) -> list[EventRow]:
    return [EventRow(event_type=_text(call, "type", required=True),
                     tech_code=_text(call, "techInfo"))]


def _events(version: OcppVersion, call: dict) -> list[EventRow]:
    return [EventRow(event_type=_text(event, "eventNotificationType", required=True),
                     component=_named(event, "component"), variable=_named(event, "variable"),
                     severity=_severity(event), trigger=_text(event, "trigger", required=True),
                     tech_code=_text(event, "techCode"),
                     status=_text(event, "actualValue", required=True))
            for event in _items(call, "eventData")]


def _monitors(version: OcppVersion, call: dict) -> list[EventRow]:
    return [EventRow(event_type=_text(monitor, "type", required=True),
                     component=_named(entry, "component"), variable=_named(entry, "variable"),
                     severity=_severity(monitor))
            for entry in _items(call, "monitor", required=False)
            for monitor in _items(entry, "variableMonitoring")]


_READERS: dict[str, Reader] = {
    "BootNotification": _boot,
    "StatusNotification": _status,
    "FirmwareStatusNotification": _firmware,
    "SignedFirmwareStatusNotification": _firmware,
    "DiagnosticsStatusNotification": _status_of("status"),
    "LogStatusNotification": _status_of("status"),
    "PublishFirmwareStatusNotification": _status_of("status"),
    "ReservationStatusUpdate": _status_of("reservationUpdateStatus"),
    "SecurityEventNotification": _security,
    "NotifyEvent": _events,
    "NotifyMonitoringReport": _monitors,
}


class EventColumns:
    """Station events the way ClickHouse takes them: one list per column (EVENT_COLUMNS)."""

    def __init__(self) -> None:
        self.lists: dict[str, list] = {name: [] for name in EVENT_COLUMNS}

    def __len__(self) -> int:
        return len(self.lists["station"])

    def add(self, station_id: str, received_ms: int, stream_seq: int, version: OcppVersion,
            action: str, payload: bytes) -> int:
        """Appends the call's rows and returns how many; a call that cannot be read
        raises (chargebus.bus.consumers.UNUSABLE) and adds nothing."""
        rows = event_rows(version, action, payload)
        kept = "" if action in _PAYLOAD_WITHHELD else payload.decode()
        for item, row in enumerate(rows):
            for name, value in zip(EVENT_COLUMNS, (
                    station_id, received_ms, version.value, action, *row, kept,
                    stream_seq, item), strict=True):
                self.lists[name].append(value)
        return len(rows)
