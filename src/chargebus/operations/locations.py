"""Where a station fetches a firmware image or puts its logs, when that is chargebus's
own file service: an operation's location of ``chargebus-files:`` (grants.FILE_SERVICE)
becomes a URL of the file service just before it is sent, opening one grant for this
station alone. For the command line and the HTTP API alike.

    UpdateFirmware  chargebus-files:<image>    a download of that image, for this station
    RequestLog      chargebus-files:[ftp|http]  an upload folder for this request; FTP by
                                               default for a 1.6 GetDiagnostics (what most
                                               1.6 stations can do), HTTP otherwise
"""
from datetime import datetime, timedelta

from chargebus.domain.operations import LogType, Operation, RequestLog, UpdateFirmware
from chargebus.files import grants
from chargebus.ocpp import OcppVersion
from chargebus.runtime.config import Settings
from chargebus.state.stores import Stores

VIAS = ("ftp", "http")


def of_file_service(what: str = "") -> str:
    """The location that stands for the file service (an image's name, a way up)."""
    return grants.FILE_SERVICE + what


async def resolved(stores: Stores, settings: Settings, station_id: str,
                   operation: Operation, sender: str, now: datetime) -> Operation:
    """The operation with the file service's URL in place of its placeholder; ValueError
    (grants.ImageMissing among them) where there can be none."""
    location = getattr(operation, "location", None)
    if not isinstance(location, str) or not location.startswith(grants.FILE_SERVICE):
        return operation
    what = location.removeprefix(grants.FILE_SERVICE)
    if isinstance(operation, UpdateFirmware):
        if not what:
            raise ValueError(f"say which image: {grants.FILE_SERVICE}<name>")
        url = await grants.image_url(stores, settings, grants.check_name(what),
                                     station_id=station_id, issued_by=sender, now=now)
        return operation.model_copy(update={"location": url})
    if isinstance(operation, RequestLog):
        return await _upload(stores, settings, station_id, operation, what or None, sender,
                             now)
    raise ValueError(f"a {operation.NAME} takes no {grants.FILE_SERVICE} location")


async def _upload(stores: Stores, settings: Settings, station_id: str, operation: RequestLog,
                  via: str | None, sender: str, now: datetime) -> RequestLog:
    if via is not None and via not in VIAS:
        raise ValueError(f"the file service takes uploads by {' or '.join(VIAS)}, not {via!r}")
    presence = await stores.presence.get(station_id)
    via = via or ("ftp" if presence is not None and presence.version is OcppVersion.V16
                  and operation.log_type is LogType.DIAGNOSTICS else "http")
    if via == "ftp" and not settings.files_ftp_port:
        raise ValueError("the file service runs no FTP (CHARGEBUS_FILES_FTP_PORT=0): "
                         "upload by http")
    request_id = await stores.next_operation_id()
    issued = await grants.issue(
        stores, kind="upload",
        purpose=grants.DIAGNOSTICS if operation.log_type is LogType.DIAGNOSTICS else grants.LOG,
        station_id=station_id, request_id=request_id, max_bytes=settings.files_max_upload_bytes,
        lifetime=timedelta(minutes=settings.files_upload_minutes), issued_by=sender, now=now)
    location = (grants.ftp_url(settings, issued) if via == "ftp"
                else grants.http_url(settings, issued))
    return operation.model_copy(update={"location": location, "request_id": request_id})
