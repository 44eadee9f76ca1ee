"""/stations/{id}/local-list: a station's local authorization list as chargebus keeps it,
its tokens changed (a version each), and sent (chargebus.operations.locallists, as
`chargebus locallist`)."""
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from chargebus.domain.locallists import NotInList, TooLongForStation
from chargebus.domain.model import AuthorizationStatus, TokenType
from chargebus.ocpp.clock import Moment
from chargebus.operations.commands import DEFAULT_TIMEOUT, Outcome
from chargebus.operations.locallists import (NoVersionKnown, WouldEmptyStation, edit_entries,
                                             send)
from chargebus.security.apikeys import Scope
from chargebus.services.api.access import requires, sender
from chargebus.services.api.context import ApiContext, context
from chargebus.services.api.problems import ApiProblem, documented, not_found
from chargebus.services.api.routes.stations import StationId
from chargebus.services.api.routes.tokens import TokenId
from chargebus.state.identifiers import MAX_TOKEN_ID_LENGTH
from chargebus.state.records import ApiKey, LocalList, LocalListEntry

router = APIRouter(prefix="/stations/{station_id}/local-list", tags=["local lists"])

Reader = Annotated[ApiKey, Depends(requires(Scope.READ))]
Operator = Annotated[ApiKey, Depends(requires(Scope.OPERATE))]
Context = Annotated[ApiContext, Depends(context)]


class EntryFields(BaseModel):
    """A token's entry in a local list, as given to PUT: a time only as RFC 3339 text."""

    status: AuthorizationStatus
    expires_at: Moment | None = None
    parent_id: str | None = Field(default=None, min_length=1, max_length=MAX_TOKEN_ID_LENGTH)
    type: TokenType | None = None


class SendResult(BaseModel):
    accepted: bool
    version: int
    full: bool
    outcome: Outcome
    answer: dict  # the station's, or why there is none


def _refused(error: Exception) -> ApiProblem:
    return ApiProblem(422, "local-list-refused", "Refused", str(error))


@router.get("", response_model=LocalList, responses=documented(401, 403, 404, 422, 429),
            summary="The list chargebus keeps for the station, and what it last confirmed")
async def get_list(station_id: StationId, key: Reader, api: Context) -> LocalList:
    api.station(key, station_id)
    found = await api.stores.local_lists.get(station_id)
    if found is None:
        raise not_found(f"{station_id} has no local list")
    return found


@router.put("/entries/{id_token}", response_model=LocalList,
            responses=documented(401, 403, 404, 422, 429),
            summary="Add or change a token in the list (its next version)")
async def put_entry(station_id: StationId, id_token: TokenId, fields: EntryFields,
                    key: Operator, api: Context) -> LocalList:
    api.station(key, station_id)
    entry = LocalListEntry(**fields.model_dump())
    try:
        return await edit_entries(api.stores, api.js, station_id, {id_token: entry}, [],
                                  sender(key))
    except TooLongForStation as error:
        raise _refused(error) from None


@router.delete("/entries/{id_token}", response_model=LocalList,
               responses=documented(401, 403, 404, 422, 429),
               summary="Remove a token from the list (its next version)")
async def delete_entry(station_id: StationId, id_token: TokenId, key: Operator, api: Context
                       ) -> LocalList:
    api.station(key, station_id)
    try:
        return await edit_entries(api.stores, api.js, station_id, {}, [id_token],
                                  sender(key))
    except NotInList as error:
        raise not_found(str(error)) from None


@router.post("/send", response_model=SendResult, responses=documented(401, 403, 404, 422, 429),
             summary="Send the list: what changed since the station confirmed, or in full")
async def send_list(station_id: StationId, key: Operator, api: Context,
                    full: Annotated[bool, Query(description="the whole list")] = False,
                    timeout: Annotated[float, Query(gt=0, le=300)] = DEFAULT_TIMEOUT
                    ) -> SendResult:
    api.station(key, station_id)
    try:
        outcome = await send(api.nc, api.stores, station_id, full, timeout)
    except (NoVersionKnown, TooLongForStation, WouldEmptyStation) as error:
        raise _refused(error) from None
    return SendResult(accepted=outcome.accepted, version=outcome.version, full=outcome.full,
                      outcome=outcome.reply.outcome, answer=outcome.reply.body)
