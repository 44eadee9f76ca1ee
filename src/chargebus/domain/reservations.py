"""The rules of reservations, version-neutral and free of I/O: which are in force, how
each event changes a station's list, and whether a start may use a reserved EVSE.

A reservation is in force from the station's Accepted until it expires, is cancelled,
is used by its token (or one of its group), or the station says it ended (2.x
ReservationStatusUpdate). A start with a token that is neither the reserved one nor
of its group is refused on a reserved EVSE, or wherever it names the reservation: OCPP
1.6 leaves that check to the Central System (StartTransaction's reservationId), and
chargebus makes it for 2.x TransactionEvents the same way.
"""
from datetime import datetime, timedelta

from chargebus.state.records import Reservation, StationReservations

ACCEPTED = "Accepted"
USED = "Used"
CANCELLED = "Cancelled"
EXPIRED = "Expired"
REQUESTED = "Requested"  # the station has not answered yet
# How long a reservation that ended stays listed.
KEPT_AFTER_END = timedelta(days=1)


def state(reservation: Reservation, now: datetime) -> str:
    """What the reservation is now: its status, or Expired once its time is past;
    "Requested" while the station has not answered."""
    if reservation.status == ACCEPTED and reservation.expires_at <= now:
        return EXPIRED
    return reservation.status or REQUESTED


def in_force(reservation: Reservation, now: datetime) -> bool:
    return state(reservation, now) == ACCEPTED


def with_reservation(listing: StationReservations | None, reservation: Reservation,
                     now: datetime) -> StationReservations:
    """The station's list with ``reservation`` put in (replacing one of its id), and
    without those ended more than KEPT_AFTER_END ago."""
    kept = [each for each in (listing.reservations if listing else [])
            if each.reservation_id != reservation.reservation_id and not _long_ended(each, now)]
    return StationReservations(station_id=reservation.station_id,
                               reservations=[*kept, reservation])


def with_status(listing: StationReservations | None, reservation_id: int, status: str,
                now: datetime, transaction_id: str | None = None
                ) -> StationReservations | None:
    """The list with one reservation's status changed; None where it has no such
    reservation, or the status is what it already says. An end is kept once."""
    if listing is None:
        return None
    for reservation in listing.reservations:
        if reservation.reservation_id != reservation_id:
            continue
        if reservation.status == status or reservation.status in (USED, CANCELLED, EXPIRED,
                                                                   "Removed"):
            return None
        ends = status != ACCEPTED
        changed = reservation.model_copy(update={
            "status": status, "ended_at": now if ends else None,
            "transaction_id": transaction_id or reservation.transaction_id})
        return with_reservation(listing, changed, now)
    return None


def for_start(listing: StationReservations | None, evse_id: int | None, id_token: str,
              group_id: str | None, reservation_id: int | None, now: datetime
              ) -> tuple[bool, Reservation | None]:
    """Whether a start by ``id_token`` (of group ``group_id``) on ``evse_id`` may go on,
    and the reservation it uses: the one it names, else one in force on its EVSE.
    A start that names no reservation in force (unknown, ended) is not refused for it:
    the station decided it was free."""
    reservations = [each for each in (listing.reservations if listing else [])
                    if in_force(each, now)]
    if reservation_id is not None:
        named = [each for each in reservations if each.reservation_id == reservation_id]
    else:
        named = [each for each in reservations
                 if evse_id is not None and each.evse_id == evse_id]
    if not named:
        return True, None
    reservation = named[0]
    return (True, reservation) if _holds(reservation, id_token, group_id) else (False, None)


def _holds(reservation: Reservation, id_token: str, group_id: str | None) -> bool:
    """OCPP compares tokens without regard to case."""
    if reservation.id_token.casefold() == id_token.casefold():
        return True
    return (reservation.group_id is not None and group_id is not None
            and reservation.group_id.casefold() == group_id.casefold())


def _long_ended(reservation: Reservation, now: datetime) -> bool:
    end = reservation.ended_at or (reservation.expires_at
                                   if reservation.status == ACCEPTED else None)
    return end is not None and now - end > KEPT_AFTER_END
