"""/events: the feed, a page at a time or live as server-sent events, resumable from
the id of the last event seen (``after``, or the Last-Event-ID header a browser's
EventSource sends when it reconnects); /webhooks: where it is posted."""
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from chargebus.feed import reading
from chargebus.feed.events import Kind, ServedEvent
from chargebus.manage import webhooks
from chargebus.ocpp.clock import utc_now
from chargebus.security.apikeys import Scope
from chargebus.services.api.access import requires, requires_network_wide, sender
from chargebus.services.api.context import ApiContext, context
from chargebus.services.api.problems import ApiProblem, documented, not_found
from chargebus.services.api.routes.transactions import StationFilter
from chargebus.state.records import ApiKey, Webhook

router = APIRouter(tags=["feed"])

Reader = Annotated[ApiKey, Depends(requires(Scope.READ))]
Context = Annotated[ApiContext, Depends(context)]
Kinds = Annotated[list[Kind] | None, Query(description="these kinds only (default: all)")]
# A live feed says it is still there this often (an SSE comment), so that proxies and
# clients keep the connection open.
KEEP_ALIVE_SECONDS = 15.0
EVENT_STREAM = "text/event-stream"


class EventPage(BaseModel):
    items: list[ServedEvent]
    next: int | None = None  # give it as `after` for the next page; None: none yet


@router.get("/events", response_model=EventPage, responses=documented(401, 403, 422, 429),
            summary="The feed's events after a place in it, oldest first")
async def events(key: Reader, api: Context,
                 after: Annotated[int, Query(ge=0, description="the id of the last event "
                                             "seen (0: from the oldest kept)")] = 0,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 station_id: StationFilter = None, kinds: Kinds = None) -> EventPage:
    if station_id is not None:
        api.station(key, station_id)
    found = await reading.page(api.js, after, limit, station_id)
    shown = [event for event in found
             if (not kinds or event.kind in kinds) and api.reaches(key, event.station_id)]
    return EventPage(items=shown, next=found[-1].id if found else None)


@router.get("/events/stream", response_class=StreamingResponse,
            responses={200: {"content": {EVENT_STREAM: {"schema": {"type": "string"}}},
                             "description": "Server-sent events: id (resume after it), "
                                            "event (the kind), data (the event as JSON)"},
                       **documented(401, 403, 422, 429)},
            summary="The feed, live, as server-sent events")
async def stream(key: Reader, api: Context,
                 after: Annotated[int | None, Query(ge=0, description="resume after this "
                                                    "id (default: from now on)")] = None,
                 station_id: StationFilter = None, kinds: Kinds = None,
                 last_event_id: Annotated[str | None, Header(max_length=20)] = None
                 ) -> StreamingResponse:
    if station_id is not None:
        api.station(key, station_id)
    if last_event_id is not None:
        if not last_event_id.isdigit():
            raise ApiProblem(422, "invalid-request", "Invalid request",
                             "header.last-event-id: an event id, a whole number")
        after = int(last_event_id)

    async def lines() -> AsyncIterator[bytes]:
        async for event in reading.follow(api.js, after, station_id, KEEP_ALIVE_SECONDS):
            if event is None:
                yield b": still here\n\n"
            elif (not kinds or event.kind in kinds) and api.reaches(key, event.station_id):
                yield (f"id: {event.id}\nevent: {event.kind}\ndata: ".encode()
                       + orjson.dumps(event.model_dump(mode="json")) + b"\n\n")

    return StreamingResponse(lines(), media_type=EVENT_STREAM,
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# -- webhooks ----------------------------------------------------------------------------

Admin = Annotated[ApiKey, Depends(requires_network_wide(Scope.ADMIN, "webhooks"))]


class WebhookRequest(BaseModel):
    url: str = Field(min_length=8, max_length=2048, description="http(s)://...")
    kinds: list[Kind] = Field(default=[], description="these kinds only (none: all)")
    stations: list[str] = Field(default=[], description="these stations only (none: all)")


class WebhookView(BaseModel):
    """A webhook as listed: without its secret, which is shown once, when it is made."""

    webhook_id: str
    url: str
    kinds: list[str]
    stations: list[str]
    start_seq: int
    created_by: str
    created_at: str

    @classmethod
    def of(cls, webhook: Webhook) -> "WebhookView":
        return cls(**webhook.model_dump(mode="json", exclude={"secret"}))


@router.post("/webhooks", response_model=Webhook, status_code=201, tags=["webhooks"],
             responses=documented(401, 403, 422, 429),
             summary="Post the feed's events to a URL; the answer holds its secret, once")
async def create_webhook(request: WebhookRequest, key: Admin, api: Context) -> Webhook:
    try:
        return await webhooks.create(api.stores, api.js, request.url, list(request.kinds),
                                     request.stations, sender(key), utc_now())
    except ValueError as error:
        raise ApiProblem(422, "invalid-request", "Invalid request", f"body.url: {error}",
                         errors=[{"field": "body.url", "message": str(error)}]) from None


@router.get("/webhooks", response_model=list[WebhookView], tags=["webhooks"],
            responses=documented(401, 403, 422, 429), summary="The webhooks")
async def list_webhooks(key: Admin, api: Context) -> list[WebhookView]:
    return [WebhookView.of(webhook) for webhook in await api.stores.webhooks.all()]


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response,
               tags=["webhooks"], responses=documented(401, 403, 404, 422, 429),
               summary="Stop posting to a webhook")
async def delete_webhook(webhook_id: Annotated[str, Path(pattern="^[0-9a-f]{16}$")],
                         key: Admin, api: Context) -> Response:
    if not await webhooks.remove(api.stores, api.js, webhook_id, sender(key)):
        raise not_found(f"no webhook {webhook_id}")
    return Response(status_code=204)
