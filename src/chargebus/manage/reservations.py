"""The reservations chargebus made, each with its state now."""
from chargebus.domain import reservations
from chargebus.ocpp.clock import utc_now
from chargebus.state.records import Reservation
from chargebus.state.stores import Stores


class ReservationView(Reservation):
    state: str  # chargebus.domain.reservations.state


async def listing(stores: Stores, station_id: str | None, ended_too: bool
                  ) -> list[ReservationView]:
    """Oldest first: those in force or awaiting the station's answer, and with
    ``ended_too`` those ended in the last day."""
    if station_id is not None:
        one = await stores.reservations.get(station_id)
        listings = [one] if one else []
    else:
        listings = await stores.reservations.all()
    now = utc_now()
    views = []
    for reservation in sorted((each for listing in listings for each in listing.reservations),
                              key=lambda each: each.requested_at):
        state = reservations.state(reservation, now)
        if ended_too or state in (reservations.ACCEPTED, reservations.REQUESTED):
            views.append(ReservationView(**reservation.model_dump(), state=state))
    return views

