"""The transactions under way, with the energy so far: the transactions' own records,
and the latest register reading the meter data has of each."""
from nats.aio.client import Client
from nats.errors import NoRespondersError
from pydantic import BaseModel

from chargebus.bus import queryreplies
from chargebus.meter.analytics import Analytics
from chargebus.ocpp.clock import utc_now
from chargebus.state.fleet import SessionView, active_transactions, session_views
from chargebus.state.records import Transaction
from chargebus.state.stores import Stores

# How long the meter data may take to answer before the list goes without it.
REGISTERS_WAIT = 10.0


async def active_sessions(nc: Client, stores: Stores, station_id: str | None = None
                          ) -> tuple[list[SessionView], str | None]:
    """The sessions, oldest first, and why their energy is from the transactions' own
    events only, where the meter data did not answer."""
    transactions = [record for record in await active_transactions(stores)
                    if station_id in (None, record.station_id)]
    partial = None
    try:
        registers = await Analytics.over_nats(nc, REGISTERS_WAIT).latest_registers(
            [(record.station_id, record.transaction_id) for record in transactions])
    except (TimeoutError, NoRespondersError, queryreplies.QueryFailed) as error:
        partial = f"no meter data ({error or 'no answer'})"
        registers = {}
    return session_views(transactions, utc_now(), registers), partial


class TransactionView(BaseModel):
    """A transaction's record and its energy so far (the last register reading known
    minus the first). Cost is not kept yet: chargebus has no tariffs."""

    transaction: Transaction
    energy_wh: float | None = None

    @classmethod
    def of(cls, record: Transaction) -> "TransactionView":
        return cls(transaction=record, energy_wh=record.energy_wh)
