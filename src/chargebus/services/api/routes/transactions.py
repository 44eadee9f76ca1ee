"""/transactions: those under way with their energy, and every transaction chargebus
keeps the record of."""
import bisect
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from chargebus.manage.sessions import TransactionView, active_sessions
from chargebus.security.apikeys import Scope
from chargebus.services.api.access import requires
from chargebus.services.api.context import ApiContext, context
from chargebus.services.api.paging import DEFAULT_LIMIT, After, Limit, Page
from chargebus.services.api.problems import documented, not_found
from chargebus.services.api.routes.stations import StationId
from chargebus.state.fleet import SessionView
from chargebus.state.identifiers import STATION_ID_PATTERN
from chargebus.state.records import ApiKey, Transaction
from chargebus.state.stores import TRANSACTION_PREFIX, transaction_key, transactions_of

router = APIRouter(tags=["transactions"])

Reader = Annotated[ApiKey, Depends(requires(Scope.READ))]
Context = Annotated[ApiContext, Depends(context)]
StationFilter = Annotated[str | None, Query(pattern=f"^{STATION_ID_PATTERN}$",
                                            description="one station's")]


class ActiveSessions(BaseModel):
    items: list[SessionView]
    # Why the energy is from the transactions' own events only: the meter data did not
    # answer.
    partial: str | None = None


@router.get("/transactions/active", response_model=ActiveSessions,
            responses=documented(401, 403, 422, 429),
            summary="The transactions under way, oldest first, with the energy so far")
async def active(key: Reader, api: Context, station_id: StationFilter = None
                 ) -> ActiveSessions:
    if station_id is not None:
        api.station(key, station_id)
    views, partial = await active_sessions(api.nc, api.stores, station_id)
    return ActiveSessions(items=[view for view in views if api.reaches(key, view.station_id)],
                          partial=partial)


@router.get("/transactions", response_model=Page[TransactionView],
            responses=documented(401, 403, 422, 429),
            summary="The transactions chargebus keeps, by station and id")
async def list_transactions(
        key: Reader, api: Context, station_id: StationFilter = None,
        active: Annotated[bool | None, Query(description="under way (true) or ended")] = None,
        limit: Limit = DEFAULT_LIMIT, after: After = None) -> Page[TransactionView]:
    if station_id is not None:
        api.station(key, station_id)
        records = await api.stores.transactions.all(*transactions_of(station_id))
    else:
        records = await api.stores.transactions.all(TRANSACTION_PREFIX)
    chosen = sorted((record for record in records
                     if (active is None or record.active == active)
                     and api.reaches(key, record.station_id)),
                    key=_position)
    start = 0 if after is None else bisect.bisect_right([_position(r) for r in chosen], after)
    page = chosen[start:start + limit]
    more = start + limit < len(chosen)
    return Page[TransactionView](items=[TransactionView.of(record) for record in page],
                                 next=_position(page[-1]) if more and page else None)


@router.get("/stations/{station_id}/transactions/{transaction_id}",
            response_model=TransactionView,
            responses=documented(401, 403, 404, 422, 429), summary="One transaction")
async def get_transaction(station_id: StationId, transaction_id: str, key: Reader,
                          api: Context) -> TransactionView:
    api.station(key, station_id)
    found = await api.stores.transactions.get(*transaction_key(station_id, transaction_id))
    if found is None:
        raise not_found(f"no transaction {transaction_id} at {station_id}")
    return TransactionView.of(found)


def _position(record: Transaction) -> str:
    return f"{record.station_id}/{record.transaction_id}"
