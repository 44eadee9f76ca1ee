"""/analytics and /station-events: the queries of `chargebus analytics` and
`chargebus events` over the meter data (chargebus.meter.analytics), as JSON rows or CSV
(``format=csv``). A key limited to some stations gets the rows of those only: rows of a
station it does not reach, and of a site it is not given, are left out."""
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from nats.errors import NoRespondersError

from chargebus.bus.queryreplies import QueryFailed
from chargebus.meter.analytics import Analytics
from chargebus.meter.rows import as_csv
from chargebus.meter.rules import DEFAULT_MEASURAND
from chargebus.meter.stationevents import event_action_names
from chargebus.ocpp.clock import Moment, utc_now
from chargebus.security import apikeys
from chargebus.security.apikeys import Scope
from chargebus.services.api.access import requires
from chargebus.services.api.context import ApiContext, context
from chargebus.services.api.problems import ApiProblem, documented
from chargebus.services.api.routes.stations import StationId
from chargebus.services.api.routes.transactions import StationFilter
from chargebus.state.records import ApiKey

router = APIRouter(tags=["analytics"])

Reader = Annotated[ApiKey, Depends(requires(Scope.READ))]
Context = Annotated[ApiContext, Depends(context)]
Since = Annotated[Moment | None, Query(description="RFC 3339 (default: 7 days before until)")]
Until = Annotated[Moment | None, Query(description="RFC 3339 (default: now)")]
Format = Annotated[Literal["json", "csv"], Query(description="rows as JSON, or CSV")]
DEFAULT_WINDOW = timedelta(days=7)
CSV = "text/csv"
ROWS: dict[int | str, dict[str, Any]] = {
    200: {"description": "The rows", "content": {CSV: {"schema": {"type": "string"}}}},
    **documented(401, 403, 404, 422, 429, 502, 503)}

Query_ = Callable[[Analytics], Awaitable[list[dict]]]


async def _rows(api: ApiContext, key: ApiKey, query: Query_, output: str) -> Any:
    analytics = Analytics.over_nats(api.nc, timeout=api.settings.query_timeout_seconds + 30)
    try:
        rows = await query(analytics)
    except QueryFailed as error:
        raise ApiProblem(502, "query-failed", "The meter data could not answer",
                         str(error)) from None
    except (TimeoutError, NoRespondersError):
        raise ApiProblem(503, "meter-data-unavailable", "No answer from the meter data",
                         "the sink did not answer; is it running?") from None
    if apikeys.limited(key):
        rows = [row for row in rows if _in_reach(api, key, row)]
    if output == "csv":
        return Response(as_csv(rows), media_type=CSV)
    return rows


def _in_reach(api: ApiContext, key: ApiKey, row: dict) -> bool:
    station = row.get("station")
    if station is not None:
        return api.reaches(key, str(station))
    return row.get("site") in key.sites


def _window(since: Any, until: Any) -> tuple[Any, Any]:
    until = until or utc_now()
    since = since or until - DEFAULT_WINDOW
    if since >= until:
        raise ApiProblem(422, "invalid-request", "Invalid request",
                         f"query.since: {since.isoformat()} is not before until "
                         f"{until.isoformat()}",
                         errors=[{"field": "query.since", "message": "not before until"}])
    return since, until


@router.get("/analytics/energy", response_model=list[dict[str, Any]], responses=ROWS,
            summary="Energy imported per station or site and day (Wh)")
async def energy(key: Reader, api: Context, since: Since = None, until: Until = None,
                 by: Annotated[Literal["station", "site"], Query()] = "station",
                 format: Format = "json") -> Any:
    start, end = _window(since, until)
    return await _rows(api, key, lambda a: a.energy(by, start, end), format)


@router.get("/analytics/peak", response_model=list[dict[str, Any]], responses=ROWS,
            summary="Peak demand per site in 15-minute slots (W)")
async def peak(key: Reader, api: Context, since: Since = None, until: Until = None,
               format: Format = "json") -> Any:
    start, end = _window(since, until)
    return await _rows(api, key, lambda a: a.peak(start, end), format)


@router.get("/analytics/sessions", response_model=list[dict[str, Any]], responses=ROWS,
            summary="Finished transactions with energy and duration")
async def sessions(key: Reader, api: Context, since: Since = None, until: Until = None,
                   station_id: StationFilter = None, format: Format = "json") -> Any:
    if station_id is not None:
        api.station(key, station_id)
    start, end = _window(since, until)
    return await _rows(api, key, lambda a: a.sessions(start, end, station_id), format)


@router.get("/analytics/silent", response_model=list[dict[str, Any]], responses=ROWS,
            summary="Stations that sent no meter data for this many minutes")
async def silent(key: Reader, api: Context,
                 minutes: Annotated[int, Query(ge=1, le=525_600)] = 60,
                 format: Format = "json") -> Any:
    return await _rows(api, key, lambda a: a.silent(minutes, utc_now()), format)


@router.get("/stations/{station_id}/series", response_model=list[dict[str, Any]],
            responses=ROWS, tags=["stations"],
            summary="One measurand of one station over time")
async def series(station_id: StationId, key: Reader, api: Context, since: Since = None,
                 until: Until = None,
                 measurand: Annotated[str, Query(min_length=1, max_length=64)]
                 = DEFAULT_MEASURAND, format: Format = "json") -> Any:
    api.station(key, station_id)
    start, end = _window(since, until)
    return await _rows(api, key, lambda a: a.series(station_id, measurand, start, end),
                       format)


Action = Literal[tuple(event_action_names())]  # type: ignore[valid-type]


@router.get("/station-events", response_model=list[dict[str, Any]], responses=ROWS,
            tags=["stations"],
            summary="The stations' notifications that are no meter data, newest first")
async def station_events(
        key: Reader, api: Context, station_id: StationFilter = None,
        action: Annotated[list[Action] | None, Query()] = None,  # type: ignore[valid-type]
        type: Annotated[str | None, Query(max_length=128, description="the event type")]
        = None, since: Annotated[Moment | None, Query()] = None,
        until: Annotated[Moment | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
        format: Format = "json") -> Any:
    if station_id is not None:
        api.station(key, station_id)
    if since is not None:
        _window(since, until)
    return await _rows(api, key, lambda a: a.events(
        station_id, list(action or []), type, since, until, limit, payload=True), format)


@router.get("/station-events/faults", response_model=list[dict[str, Any]], responses=ROWS,
            tags=["stations"], summary="The stations with a fault")
async def faults(key: Reader, api: Context,
                 hours: Annotated[int, Query(ge=1, le=24 * 366)] = 24,
                 format: Format = "json") -> Any:
    return await _rows(api, key, lambda a: a.faults(hours, utc_now()), format)


@router.get("/station-events/failed-updates", response_model=list[dict[str, Any]],
            responses=ROWS, tags=["firmware"],
            summary="The failed firmware updates per model")
async def failed_updates(key: Reader, api: Context,
                         days: Annotated[int, Query(ge=1, le=3660)] = 7,
                         format: Format = "json") -> Any:
    return await _rows(api, key, lambda a: a.failed_updates(days, utc_now()), format)
