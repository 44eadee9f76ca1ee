"""The stations' log and diagnostics requests as an operator follows them: each with
its state and the files its uploads left, and a short-lived URL to fetch a held file."""
from datetime import datetime, timedelta

from pydantic import Field

from chargebus.domain import stationlogs
from chargebus.files import grants
from chargebus.runtime.config import Settings
from chargebus.state.records import LogRequest, StoredFile
from chargebus.state.stores import Stores

# How long a URL the command line or the API hands its user for one file stays open.
OWN_URL = timedelta(minutes=10)


class LogRequestView(LogRequest):
    station_id: str
    state: str  # chargebus.domain.stationlogs.state_of
    files: list[StoredFile] = Field(default_factory=list)


async def requests(stores: Stores, station_id: str | None = None) -> list[LogRequestView]:
    """Newest first per station: one station's, or every station's."""
    if station_id is not None:
        one = await stores.station_logs.get(station_id)
        records = [one] if one else []
    else:
        records = await stores.station_logs.all()
    files = [each for each in await stores.files.all() if each.station_id is not None]
    return [LogRequestView(**request.model_dump(), station_id=record.station_id,
                           state=stationlogs.state_of(request),
                           files=[each for each in files
                                  if each.station_id == record.station_id
                                  and each.request_id == request.request_id])
            for record in records for request in reversed(record.requests)]


async def download_url(stores: Stores, settings: Settings, stored: StoredFile, sender: str,
                       now: datetime) -> str:
    """A URL of the file service that opens this one file for OWN_URL."""
    issued = await grants.issue(stores, kind="download", purpose=stored.purpose,
                                key=stored.key, name=stored.name, max_bytes=stored.size,
                                lifetime=OWN_URL, issued_by=sender, now=now)
    return grants.http_url(settings, issued, stored.name)
