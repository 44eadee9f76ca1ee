"""Reservations as the workers keep them (chargebus.domain.reservations): whether a
start may use a reserved EVSE, the reservation a start used, and the station's own word
that one ended (2.x ReservationStatusUpdate)."""
import functools

import orjson

from chargebus.bus.client import BusMsg
from chargebus.bus.consumers import UNUSABLE, DeadLetters
from chargebus.bus.events import CallContext
from chargebus.domain import reservations
from chargebus.domain.model import IdToken
from chargebus.ocpp.clock import utc_now
from chargebus.ocpp.converters import converter
from chargebus.state.records import Reservation, StationReservations
from chargebus.state.stores import Stores, token_key


class Reservations:
    def __init__(self, stores: Stores, dead_letters: DeadLetters):
        self._stores = stores
        self._dead_letters = dead_letters

    async def for_start(self, context: CallContext, payload: dict, id_token: IdToken
                        ) -> tuple[bool, Reservation | None]:
        """Whether the start may go on, and the reservation it uses (reservations.for_start)."""
        reservation_id, evse_id = converter(context.version).reservation_of(
            context.action, payload)
        listing = await self._stores.reservations.get(context.station_id)
        now = utc_now()
        if listing is None or not any(reservations.in_force(each, now)
                                      for each in listing.reservations):
            return True, None  # most starts: one read
        token = await self._stores.tokens.get(token_key(id_token.value))
        return reservations.for_start(listing, evse_id, id_token.value,
                                      token.parent_id if token else None, reservation_id, now)

    async def used(self, reservation: Reservation, transaction_id: str) -> None:
        await self._stores.reservations.modify(
            lambda listing: reservations.with_status(
                listing, reservation.reservation_id, reservations.USED, utc_now(),
                transaction_id),
            reservation.station_id)

    async def record_updates(self, batch: list[BusMsg]) -> None:
        """The stations' ReservationStatusUpdates."""
        for msg in batch:
            try:
                context = CallContext.from_headers(msg.headers)
                reservation_id, status = converter(context.version).reservation_update(
                    orjson.loads(msg.data))
            except UNUSABLE as error:
                await self._dead_letters.send(msg, f"no usable reservation update: {error!r}")
                continue
            await self._stores.reservations.modify(
                functools.partial(_ended, reservation_id=reservation_id, status=status),
                context.station_id)


def _ended(listing: StationReservations | None, reservation_id: int, status: str
           ) -> StationReservations | None:
    return reservations.with_status(listing, reservation_id, status, utc_now())
