"""/reservations and /audit: what chargebus made and what it was told to do."""
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from chargebus.manage import reservations
from chargebus.ocpp.clock import Moment, utc_now
from chargebus.operations import audit
from chargebus.security.apikeys import Scope
from chargebus.services.api.access import network_wide, requires
from chargebus.services.api.context import ApiContext, context
from chargebus.services.api.problems import documented
from chargebus.services.api.routes.transactions import StationFilter
from chargebus.state.records import ApiKey

router = APIRouter()

Reader = Annotated[ApiKey, Depends(requires(Scope.READ))]
Context = Annotated[ApiContext, Depends(context)]
DEFAULT_SINCE = timedelta(days=1)

Since = Annotated[Moment | None, Query(description="RFC 3339; default a day ago")]
RecordLimit = Annotated[int, Query(ge=1, le=10_000, description="the last this many")]


@router.get("/reservations", response_model=list[reservations.ReservationView],
            responses=documented(401, 403, 422, 429), tags=["reservations"],
            summary="The reservations chargebus made, oldest first")
async def list_reservations(
        key: Reader, api: Context, station_id: StationFilter = None,
        ended: Annotated[bool, Query(description="also those ended in the last day")] = False,
) -> list[reservations.ReservationView]:
    if station_id is not None:
        api.station(key, station_id)
    return [view for view in await reservations.listing(api.stores, station_id, ended)
            if api.reaches(key, view.station_id)]


@router.get("/audit/commands", response_model=list[audit.CommandRecord],
            responses=documented(401, 403, 422, 429), tags=["audit"],
            summary="The calls sent to stations, whoever sent them, and how they ended")
async def commands(key: Reader, api: Context, station_id: StationFilter = None,
                   since: Since = None, limit: RecordLimit = 100) -> list[audit.CommandRecord]:
    if station_id is not None:
        api.station(key, station_id)
    records = await audit.read(api.js, station_id, _since(since), limit)
    return [record for record in records if api.reaches(key, record.station_id)]


@router.get("/audit/changes", response_model=list[audit.ChangeRecord],
            responses=documented(401, 403, 422, 429), tags=["audit"],
            summary="The changes made to tokens and the rest that are no calls to stations")
async def changes(key: Reader, api: Context, since: Since = None, limit: RecordLimit = 100
                  ) -> list[audit.ChangeRecord]:
    network_wide(key, "the trail of changes")
    return await audit.read_changes(api.js, _since(since), limit)


def _since(since: datetime | None) -> datetime:
    return since or utc_now() - DEFAULT_SINCE
