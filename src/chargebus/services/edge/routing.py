"""Where the edge sends each station-to-CSMS call of each version.

An action the version defines but that is missing here is answered NotSupported; an
action the version does not define at all, NotImplemented.
"""
import enum

from chargebus.ocpp import OcppVersion


class Route(enum.Flag):
    """What happens to a call before the station gets its CALLRESULT."""

    EDGE = enum.auto()  # answered by the edge itself; needs no state
    RECORD = enum.auto()  # written to the OCPP stream and acknowledged by JetStream
    WORKER = enum.auto()  # answered by a worker, from and into the state in KV
    VENDOR = enum.auto()  # answered by an integration of its vendor id, if one serves it


_SHARED = {
    "Heartbeat": Route.EDGE,
    # Kept too: the station events in ClickHouse (chargebus.meter.stationevents) name
    # each station's model from its latest boot.
    "BootNotification": Route.WORKER | Route.RECORD,
    "Authorize": Route.WORKER,
    "StatusNotification": Route.RECORD,
    "MeterValues": Route.RECORD,
    # A vendor's extension: asked of the integration that serves its vendor id
    # (subjects.vendor_data), UnknownVendorId where none does; kept with its answer.
    "DataTransfer": Route.VENDOR | Route.RECORD,
    # The CSR is checked and answered by a worker, which then has it signed and sends
    # CertificateSigned (chargebus.security.certificates).
    "SignCertificate": Route.WORKER,
}

# Notifications whose answer is empty: kept in the OCPP stream (durable, for whatever
# consumes them), answered once JetStream has them.
_NOTIFICATIONS_16 = ("DiagnosticsStatusNotification", "FirmwareStatusNotification",
                     "LogStatusNotification", "SecurityEventNotification",
                     "SignedFirmwareStatusNotification")
_NOTIFICATIONS_2X = ("ClearedChargingLimit", "FirmwareStatusNotification",
                     "LogStatusNotification", "NotifyChargingLimit", "NotifyCustomerInformation",
                     "NotifyDisplayMessages", "NotifyEvent", "NotifyMonitoringReport",
                     "NotifyReport", "PublishFirmwareStatusNotification",
                     "ReportChargingProfiles", "ReservationStatusUpdate",
                     "SecurityEventNotification")

ROUTES: dict[OcppVersion, dict[str, Route]] = {
    OcppVersion.V16: _SHARED | dict.fromkeys(_NOTIFICATIONS_16, Route.RECORD) | {
        "StartTransaction": Route.RECORD | Route.WORKER,
        "StopTransaction": Route.RECORD | Route.WORKER,
    },
    OcppVersion.V201: _SHARED | dict.fromkeys(_NOTIFICATIONS_2X, Route.RECORD) | {
        "TransactionEvent": Route.RECORD | Route.WORKER,
        # Kept for the load manager, which weighs the car's needs in its division and
        # sends the TxProfile (so the answer is Processing, not a schedule now); the
        # car's own schedule is within that profile, and accepted.
        "NotifyEVChargingNeeds": Route.EDGE | Route.RECORD,
        "NotifyEVChargingSchedule": Route.EDGE | Route.RECORD,
    },
}
# 2.1 handles what 2.0.1 does (its messages differ by optional fields, and the codec
# validates each against its own version), and its priority charging: a driver's
# request is kept (the answer is empty). Dynamic profiles are not sent by chargebus, so
# a station asking for an update of one is answered Rejected.
ROUTES[OcppVersion.V21] = ROUTES[OcppVersion.V201] | {
    "NotifyPriorityCharging": Route.RECORD,
    "PullDynamicScheduleUpdate": Route.EDGE,
}


# The edge's answers that need no state (Route.EDGE), besides Heartbeat's time.
FIXED_ANSWERS: dict[str, dict] = {
    "NotifyEVChargingNeeds": {"status": "Processing"},
    "NotifyEVChargingSchedule": {"status": "Accepted"},
    "PullDynamicScheduleUpdate": {"status": "Rejected",
                                  "statusInfo": {"reasonCode": "UnknownProfile"}},
}


def route_of(version: OcppVersion, action: str) -> Route | None:
    return ROUTES.get(version, {}).get(action)
