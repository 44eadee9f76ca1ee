"""The OCPP versions chargebus speaks and the actions each defines."""
import enum
import functools

from chargebus_core.frame import DIALECTS


class OcppVersion(enum.StrEnum):
    """A version, named by its WebSocket subprotocol."""

    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"
    V21 = "ocpp2.1"


@functools.cache
def known_actions(version: OcppVersion) -> frozenset[str]:
    """Every action the version defines, in either direction: the OCA schemas the
    validators were generated from (2.1's SEND-only messages included)."""
    return frozenset(DIALECTS[version.value].requests)


# The schemas name a version's actions but not who sends them: these are the calls a
# station makes (OCPP 1.6 with its security extension, 2.0.1 and 2.1 Part 2, "Messages";
# 1.6 as the ocpp package's call.py sorts them). DataTransfer goes both ways; every
# other action is the CSMS's to send.
_EITHER_WAY = frozenset({"DataTransfer"})
_FROM_STATIONS_16 = frozenset({
    "Authorize", "BootNotification", "DiagnosticsStatusNotification",
    "FirmwareStatusNotification", "Heartbeat", "LogStatusNotification", "MeterValues",
    "SecurityEventNotification", "SignCertificate", "SignedFirmwareStatusNotification",
    "StartTransaction", "StatusNotification", "StopTransaction"})
_FROM_STATIONS_201 = frozenset({
    "Authorize", "BootNotification", "ClearedChargingLimit", "FirmwareStatusNotification",
    "Get15118EVCertificate", "GetCertificateStatus", "Heartbeat", "LogStatusNotification",
    "MeterValues", "NotifyChargingLimit", "NotifyCustomerInformation",
    "NotifyDisplayMessages", "NotifyEVChargingNeeds", "NotifyEVChargingSchedule",
    "NotifyEvent", "NotifyMonitoringReport", "NotifyReport",
    "PublishFirmwareStatusNotification", "ReportChargingProfiles", "ReservationStatusUpdate",
    "SecurityEventNotification", "SignCertificate", "StatusNotification", "TransactionEvent"})
_FROM_STATIONS = {
    OcppVersion.V16: _FROM_STATIONS_16,
    OcppVersion.V201: _FROM_STATIONS_201,
    OcppVersion.V21: _FROM_STATIONS_201 | {
        "BatterySwap", "ClosePeriodicEventStream", "GetCertificateChainStatus",
        "NotifyDERAlarm", "NotifyDERStartStop", "NotifyPeriodicEventStream",
        "NotifyPriorityCharging", "NotifySettlement", "OpenPeriodicEventStream",
        "PullDynamicScheduleUpdate", "ReportDERControl", "VatNumberValidation"},
}

# The longest id token each version carries: 1.6 idTag (CiString20Type), 2.0.1 and 2.1
# IdTokenType.idToken.
_MAX_ID_TOKEN_LENGTH = {OcppVersion.V16: 20, OcppVersion.V201: 36, OcppVersion.V21: 255}


@functools.cache
def calls_from_stations(version: OcppVersion) -> frozenset[str]:
    """The actions a station of the version sends to the CSMS."""
    return _FROM_STATIONS[version] | _EITHER_WAY


@functools.cache
def calls_to_stations(version: OcppVersion) -> frozenset[str]:
    """The actions the CSMS may send to a station of the version."""
    return known_actions(version) - _FROM_STATIONS[version]


def max_id_token_length(version: OcppVersion) -> int:
    return _MAX_ID_TOKEN_LENGTH[version]
