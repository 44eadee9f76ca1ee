"""/sites: the sites the load manager divides, their temporary limits and its allocation;
/stations/{id}/charging-profiles and /composite-schedule: the profiles chargebus keeps of
a station and the composite schedule it computes from them (chargebus.manage.charging,
as `chargebus charging`). Defining and removing sites takes an admin key; limits an
operate key that reaches the site."""
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field, model_validator

from chargebus.domain.composite import CompositeSchedule
from chargebus.domain.profiles import RateUnit
from chargebus.domain.topology import Site
from chargebus.manage import charging
from chargebus.ocpp.clock import Moment, utc_now
from chargebus.security import apikeys
from chargebus.security.apikeys import Scope
from chargebus.services.api.access import requires, requires_network_wide, sender
from chargebus.services.api.context import ApiContext, context
from chargebus.services.api.problems import ApiProblem, documented, not_found
from chargebus.services.api.routes.stations import StationId
from chargebus.state.records import (ApiKey, GroupLimit, SiteAllocation, SiteRecord,
                                     StationProfiles)
from chargebus.state.stores import allocation_key, site_key, sites

router = APIRouter(tags=["charging"])

Reader = Annotated[ApiKey, Depends(requires(Scope.READ))]
Operator = Annotated[ApiKey, Depends(requires(Scope.OPERATE))]
Context = Annotated[ApiContext, Depends(context)]
SiteId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]+$", max_length=128)]


Admin = Annotated[ApiKey, Depends(requires_network_wide(Scope.ADMIN, "site definitions"))]


def _site_in_reach(key: ApiKey, site_id: str) -> None:
    if apikeys.limited(key) and site_id not in key.sites:
        raise not_found(f"no site {site_id}")


class LimitRequest(BaseModel):
    """A temporary limit: ``minutes`` from ``starts`` (default now), or until ``ends``."""

    group: str | None = Field(default=None, min_length=1, max_length=128,
                              description="the group (default: the site's own)")
    amperes: float = Field(ge=0, le=100_000, description="per phase")
    starts: Moment | None = None
    ends: Moment | None = None
    minutes: int | None = Field(default=None, ge=1, le=525_600)

    @model_validator(mode="after")
    def _one_end(self) -> "LimitRequest":
        if (self.ends is None) == (self.minutes is None):
            raise ValueError("a limit takes either ends or minutes")
        return self


def _refused(error: charging.SiteRefused) -> ApiProblem:
    return ApiProblem(422, "site-refused", "Refused", str(error))


@router.get("/sites", response_model=list[SiteRecord], responses=documented(401, 403, 422, 429),
            summary="The sites, by id")
async def list_sites(key: Reader, api: Context) -> list[SiteRecord]:
    records = sorted(await api.stores.sites.all(*sites()), key=lambda each: each.site.site_id)
    return [record for record in records
            if not apikeys.limited(key) or record.site.site_id in key.sites]


@router.get("/sites/{site_id}", response_model=SiteRecord,
            responses=documented(401, 403, 404, 422, 429), summary="One site")
async def get_site(site_id: SiteId, key: Reader, api: Context) -> SiteRecord:
    _site_in_reach(key, site_id)
    found = await api.stores.sites.get(*site_key(site_id))
    if found is None:
        raise not_found(f"no site {site_id}")
    return found


@router.put("/sites/{site_id}", response_model=SiteRecord,
            responses=documented(401, 403, 422, 429),
            summary="Define a site, or change its definition")
async def put_site(site_id: SiteId, site: Site, key: Admin, api: Context) -> SiteRecord:
    if site.site_id != site_id:
        raise ApiProblem(422, "invalid-request", "Invalid request",
                         f"body.site_id: {site.site_id} is not the site of the path, {site_id}",
                         errors=[{"field": "body.site_id", "message": "not the path's"}])
    try:
        await charging.define_site(api.stores, api.nc, site, sender(key), utc_now())
    except charging.SiteRefused as refused:
        raise _refused(refused) from None
    found = await api.stores.sites.get(*site_key(site_id))
    assert found is not None  # just written
    return found


@router.delete("/sites/{site_id}", status_code=204, response_class=Response,
               responses=documented(401, 403, 404, 422, 429), summary="Remove a site")
async def delete_site(site_id: SiteId, key: Admin, api: Context) -> Response:
    if not await charging.remove_site(api.stores, api.nc, site_id, sender(key)):
        raise not_found(f"no site {site_id}")
    return Response(status_code=204)


@router.get("/sites/{site_id}/allocation", response_model=SiteAllocation,
            responses=documented(401, 403, 404, 422, 429),
            summary="The load manager's division of the site: sessions, shares, queue, limits")
async def allocation(site_id: SiteId, key: Reader, api: Context) -> SiteAllocation:
    _site_in_reach(key, site_id)
    if await api.stores.sites.get(*site_key(site_id)) is None:
        raise not_found(f"no site {site_id}")
    found = await api.stores.allocations.get(*allocation_key(site_id))
    if found is None:
        raise not_found(f"the load manager has not divided {site_id} yet")
    return found


@router.post("/sites/{site_id}/limits", response_model=GroupLimit, status_code=201,
             responses=documented(401, 403, 404, 422, 429),
             summary="Limit the site, or a group of it, for a while")
async def set_limit(site_id: SiteId, request: LimitRequest, key: Operator, api: Context
                    ) -> GroupLimit:
    _site_in_reach(key, site_id)
    starts = request.starts or utc_now()
    ends = request.ends or starts + timedelta(minutes=request.minutes or 0)
    try:
        return await charging.set_limit(api.stores, api.nc, site_id, request.group,
                                        request.amperes, starts, ends, sender(key),
                                        utc_now())
    except charging.SiteRefused as refused:
        raise _refused(refused) from None


@router.delete("/sites/{site_id}/limits", status_code=204, response_class=Response,
               responses=documented(401, 403, 404, 422, 429),
               summary="Lift the site's temporary limits (those of one group, or all)")
async def lift_limits(site_id: SiteId, key: Operator, api: Context,
                      group: Annotated[str | None, Query(max_length=128)] = None) -> Response:
    _site_in_reach(key, site_id)
    if await api.stores.sites.get(*site_key(site_id)) is None:
        raise not_found(f"no site {site_id}")
    await charging.lift_limits(api.stores, api.nc, site_id, group, sender(key))
    return Response(status_code=204)


@router.get("/stations/{station_id}/charging-profiles", response_model=StationProfiles,
            responses=documented(401, 403, 404, 422, 429), tags=["stations"],
            summary="The charging profiles chargebus keeps of a station")
async def profiles(station_id: StationId, key: Reader, api: Context) -> StationProfiles:
    api.station(key, station_id)
    found = await api.stores.profiles.get(station_id)
    if found is None:
        raise not_found(f"chargebus knows no profile of {station_id}")
    return found


@router.get("/stations/{station_id}/composite-schedule", response_model=CompositeSchedule,
            responses=documented(401, 403, 404, 422, 429), tags=["stations"],
            summary="An EVSE's composite schedule as chargebus computes it (the station's "
                    "own: POST .../composite-schedule)")
async def composite(station_id: StationId, key: Reader, api: Context,
                    evse_id: Annotated[int, Query(ge=0, le=1000)],
                    duration: Annotated[int, Query(ge=1, le=31 * 86400)] = 86400,
                    unit: RateUnit = RateUnit.AMPERES) -> CompositeSchedule:
    api.station(key, station_id)
    return await charging.our_composite(api.stores, station_id, evse_id, duration, unit,
                                        utc_now())
