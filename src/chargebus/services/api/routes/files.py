"""/log-requests and /files: the stations' log and diagnostics requests with the files
their uploads left, and the files the file service holds, each fetched through a URL of
the file service that opens it alone for ten minutes (chargebus.manage.stationlogs, as
`chargebus logs` and `chargebus files`). Firmware images belong to the whole network: a
key limited to some stations sees only its stations' uploads."""
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import RedirectResponse

from chargebus.files import grants
from chargebus.manage import stationlogs
from chargebus.manage.stationlogs import LogRequestView
from chargebus.ocpp.clock import utc_now
from chargebus.security import apikeys
from chargebus.security.apikeys import Scope
from chargebus.services.api.access import requires, sender
from chargebus.services.api.context import ApiContext, context
from chargebus.services.api.problems import documented, not_found
from chargebus.services.api.routes.transactions import StationFilter
from chargebus.state.records import ApiKey, StoredFile

router = APIRouter(tags=["files"])

Reader = Annotated[ApiKey, Depends(requires(Scope.READ))]
Context = Annotated[ApiContext, Depends(context)]


def _sees(api: ApiContext, key: ApiKey, stored: StoredFile) -> bool:
    if stored.station_id is None:
        return not apikeys.limited(key)
    return api.reaches(key, stored.station_id)


@router.get("/log-requests", response_model=list[LogRequestView],
            responses=documented(401, 403, 404, 422, 429),
            summary="The stations' log and diagnostics requests, newest first, with their "
                    "files")
async def log_requests(key: Reader, api: Context, station_id: StationFilter = None
                       ) -> list[LogRequestView]:
    if station_id is not None:
        api.station(key, station_id)
    return [request for request in await stationlogs.requests(api.stores, station_id)
            if api.reaches(key, request.station_id)]


@router.get("/files", response_model=list[StoredFile], responses=documented(401, 403, 422, 429),
            summary="The files the file service holds, newest first")
async def list_files(key: Reader, api: Context,
                     purpose: Annotated[str | None, Query(max_length=32,
                                        description="firmware, diagnostics or log")] = None
                     ) -> list[StoredFile]:
    held = sorted(await api.stores.files.all(), key=lambda each: each.stored_at, reverse=True)
    return [stored for stored in held
            if (purpose is None or stored.purpose == purpose) and _sees(api, key, stored)]


@router.get("/files/{file_id}/download", status_code=303, response_class=RedirectResponse,
            responses={303: {"description": "To a URL of the file service that opens this "
                                            "file alone, for ten minutes"},
                       **documented(401, 403, 404, 422, 429)},
            summary="Fetch a held file")
async def download(file_id: Annotated[str, Path(pattern=grants.GRANT_ID.pattern)],
                   key: Reader, api: Context) -> RedirectResponse:
    stored = await api.stores.files.get(file_id)
    if stored is None or not _sees(api, key, stored):
        raise not_found(f"no file {file_id}")
    url = await stationlogs.download_url(api.stores, api.settings, stored,
                                         sender(key), utc_now())
    return RedirectResponse(url, status_code=303)

