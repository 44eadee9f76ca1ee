"""The rules of firmware updates, version-neutral and free of I/O: how a station's record
of its updates (chargebus.state.records.StationFirmware) changes with the request, the
station's answer, each status it reports, and its next boot.

A 2.x status names its update (requestId); a 1.6 FirmwareStatusNotification does not,
and belongs to the latest update. An update ends well once the station boots with a
firmware other than the one it had (its new version), or reports Installed; it ends
badly with any of FAILED, or the station's refusal. The record keeps the
latest KEPT updates of a station.
"""
from collections.abc import Callable
from datetime import datetime

from chargebus.state.records import FirmwareStatus, FirmwareUpdate, StationFirmware

# The station calls that report an update's progress: 1.6's (its security extension's
# for a signed update) and 2.x's.
STATUS_ACTIONS = ("FirmwareStatusNotification", "SignedFirmwareStatusNotification")
INSTALLED = "Installed"
FAILED = frozenset({"DownloadFailed", "InstallationFailed", "InstallVerificationFailed",
                    "InvalidSignature"})
# What a station answers when it will not try the update.
REFUSED = frozenset({"Rejected", "InvalidCertificate", "RevokedCertificate"})
KEPT = 10
# What an update is while it goes and when it ended.
REQUESTED = "Requested"
IN_PROGRESS = "InProgress"
DONE = "Done"


def with_request(record: StationFirmware | None, station_id: str, update: FirmwareUpdate
                 ) -> StationFirmware:
    record = record or StationFirmware(station_id=station_id)
    kept = [each for each in record.updates if each.request_id != update.request_id]
    return record.model_copy(update={"updates": [*kept, update][-KEPT:]})


def with_answer(record: StationFirmware | None, request_id: int, answer: str
                ) -> StationFirmware | None:
    return _changed(record, request_id, lambda update: update.model_copy(
        update={"answer": answer}))


def with_status(record: StationFirmware | None, request_id: int | None, status: str,
                at: datetime) -> StationFirmware | None:
    """A status the station reported; None where no update of it is known (a status a
    TriggerMessage asked for while none runs, say) or it is a repeat."""
    if record is None or not record.updates:
        return None
    target = request_id if request_id is not None else record.updates[-1].request_id

    def reported(update: FirmwareUpdate) -> FirmwareUpdate | None:
        if update.statuses and update.statuses[-1].status == status:
            return None
        return update.model_copy(update={
            "statuses": [*update.statuses, FirmwareStatus(status=status, at=at)]})
    return _changed(record, target, reported)


def with_boot(record: StationFirmware | None, firmware: str | None, at: datetime
              ) -> StationFirmware | None:
    """A boot: the latest update, unless it failed or was refused, gets the version the
    station booted with, if it is a new one. Its statuses need not have come yet: the
    boot is answered at once, while they are applied from the OCPP stream."""
    if record is None or not record.updates or firmware is None:
        return None
    latest = record.updates[-1]
    if latest.firmware_after is not None or firmware == latest.firmware_before:
        return None
    if outcome(latest) not in (INSTALLED, None):  # it failed, or was refused
        return None
    return _changed(record, latest.request_id, lambda update: update.model_copy(
        update={"firmware_after": firmware, "booted_at": at}))


def outcome(update: FirmwareUpdate) -> str | None:
    """Installed, the failure, the station's refusal, or None while it goes."""
    if update.answer in REFUSED:
        return update.answer
    for reported in reversed(update.statuses):
        if reported.status in FAILED or reported.status == INSTALLED:
            return reported.status
    return INSTALLED if update.firmware_after is not None else None


def state(update: FirmwareUpdate) -> str:
    if outcome(update) is not None:
        return DONE
    return IN_PROGRESS if update.statuses else REQUESTED


def _changed(record: StationFirmware | None, request_id: int,
             change: Callable[[FirmwareUpdate], FirmwareUpdate | None]
             ) -> StationFirmware | None:
    if record is None:
        return None
    updates = []
    found = False
    for update in record.updates:
        if update.request_id == request_id:
            changed = change(update)
            if changed is None:
                return None
            update, found = changed, True
        updates.append(update)
    return record.model_copy(update={"updates": updates}) if found else None
