"""/stations: the fleet, a page at a time, and one station."""
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from chargebus.domain.devicemodel import Component
from chargebus.manage import stations
from chargebus.ocpp import OcppVersion
from chargebus.security import apikeys
from chargebus.security.apikeys import Scope
from chargebus.services.api.access import requires
from chargebus.services.api.context import ApiContext, context
from chargebus.services.api.paging import DEFAULT_LIMIT, After, Limit, Page
from chargebus.services.api.problems import documented, not_found
from chargebus.state.fleet import StationView, matches
from chargebus.state.identifiers import MAX_STATION_ID_LENGTH, STATION_ID_PATTERN
from chargebus.state.records import ApiKey
from chargebus.state.stores import components_of

router = APIRouter(prefix="/stations", tags=["stations"])

StationId = Annotated[str, Path(pattern=f"^{STATION_ID_PATTERN}$", min_length=1,
                                max_length=MAX_STATION_ID_LENGTH,
                                description="the station's id (its OCPP identity)")]
Reader = Annotated[ApiKey, Depends(requires(Scope.READ))]
Context = Annotated[ApiContext, Depends(context)]


@router.get("", response_model=Page[StationView], responses=documented(401, 403, 422, 429),
            summary="The stations, in the order of their ids")
async def list_stations(
        key: Reader, api: Context, limit: Limit = DEFAULT_LIMIT, after: After = None,
        online: Annotated[bool | None, Query(description="online (true) or not")] = None,
        status: Annotated[str | None, Query(max_length=64,
                          description="with a connector in this status, e.g. Faulted")] = None,
        version: Annotated[OcppVersion | None, Query(description="speaking this")] = None,
        site: Annotated[str | None, Query(max_length=128, description="at this site")] = None,
) -> Response:
    items: list[dict] = []
    last = None
    limited = apikeys.limited(key)
    for view in api.fleet.after(after):
        if site is not None and view.site != site:
            continue
        if limited and not apikeys.reaches(key, view.station_id, view.site):
            continue
        if not matches(view, online, status, version):
            continue
        if len(items) == limit:
            last = items[-1]["station_id"]
            break
        dumped = api.fleet.dumped(view.station_id)
        if dumped is not None:
            items.append(dumped)
    # Serialized here: the views are JSON already, and a page may hold 10,000 of them.
    return Response(orjson.dumps({"items": items, "next": last}),
                    media_type="application/json")


@router.get("/{station_id}", response_model=stations.StationDetail,
            responses=documented(401, 403, 404, 422, 429),
            summary="One station: boot, connectors, connection, admission, firmware")
async def get_station(station_id: StationId, key: Reader, api: Context
                      ) -> stations.StationDetail:
    api.station(key, station_id)
    found = await stations.detail(api.stores, station_id)
    if found is None:
        raise not_found(f"nothing is known of station {station_id}")
    return found


@router.get("/{station_id}/configuration", response_model=list[Component],
            responses=documented(401, 403, 404, 422, 429),
            summary="The configuration chargebus holds of a station: 1.6 keys, or the 2.x "
                    "device model's components (POST .../configuration/fetch reads it in)")
async def configuration(station_id: StationId, key: Reader, api: Context) -> list[Component]:
    api.station(key, station_id)
    return await api.stores.components.all(*components_of(station_id))
