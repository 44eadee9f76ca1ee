"""Reservations as state: made for an authorized token, honoured when a start comes (the
reserved token or its group may use it, another token may not), ended by use, expiry,
cancellation or the station's word; the rules alone, then against 1.6, 2.0.1 and 2.1
stations."""
import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from ocpp.v21 import call as call21

from conftest import eventually
from test_operations import VERSIONS, Connected, _token
from chargebus.domain import reservations
from chargebus.domain.model import IdToken
from chargebus.domain.operations import CancelReservation, ReserveNow
from chargebus.ocpp.clock import utc_now
from chargebus.state.records import Reservation, StationReservations, Token
from chargebus.state.stores import Stores, token_key

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # the rules take the time; none is read


def _reservation(reservation_id: int, **changes) -> Reservation:
    return Reservation(reservation_id=reservation_id, station_id="CP-1", evse_id=1,
                       id_token="04A2", group_id="FLEET", expires_at=NOW + timedelta(minutes=5),
                       made_by="cli:ops", requested_at=NOW - timedelta(minutes=1),
                       status="Accepted").model_copy(update=changes)


def _listing(*held: Reservation) -> StationReservations:
    return StationReservations(station_id="CP-1", reservations=list(held))


def test_a_reservation_is_in_force_from_its_acceptance_to_its_expiry():
    assert reservations.state(_reservation(1, status=None), NOW) == "Requested"
    assert reservations.in_force(_reservation(1), NOW)
    expired = _reservation(1, expires_at=NOW)
    assert reservations.state(expired, NOW) == "Expired"
    assert not reservations.in_force(expired, NOW)
    assert reservations.state(_reservation(1, status="Occupied"), NOW) == "Occupied"


def test_a_start_on_a_reserved_evse_needs_the_token_or_its_group():
    listing = _listing(_reservation(7))
    held = listing.reservations[0]
    assert reservations.for_start(listing, 1, "04a2", None, None, NOW) == (True, held)
    assert reservations.for_start(listing, 1, "OTHER", "fleet", 7, NOW) == (True, held)
    assert reservations.for_start(listing, 1, "OTHER", None, None, NOW) == (False, None)
    assert reservations.for_start(listing, 1, "OTHER", "ELSE", 7, NOW) == (False, None)
    # Another EVSE, no reservation named: free.
    assert reservations.for_start(listing, 2, "OTHER", None, None, NOW) == (True, None)
    # Named but not in force (unknown, expired, used): the station found it free.
    assert reservations.for_start(listing, 2, "OTHER", None, 99, NOW) == (True, None)
    assert reservations.for_start(_listing(_reservation(7, expires_at=NOW)), 1, "OTHER",
                                  None, 7, NOW) == (True, None)
    assert reservations.for_start(_listing(_reservation(7, status="Used")), 1, "OTHER",
                                  None, None, NOW) == (True, None)


def test_an_ended_reservation_stays_ended_and_old_ones_are_dropped():
    listing = _listing(_reservation(7))
    used = reservations.with_status(listing, 7, reservations.USED, NOW, "tx-1")
    assert (used.reservations[0].status, used.reservations[0].transaction_id) == ("Used", "tx-1")
    assert reservations.with_status(used, 7, reservations.CANCELLED, NOW) is None
    assert reservations.with_status(listing, 8, reservations.USED, NOW) is None
    later = NOW + reservations.KEPT_AFTER_END + timedelta(seconds=1)
    fresh = reservations.with_reservation(used, _reservation(9), later)
    assert [each.reservation_id for each in fresh.reservations] == [9]


async def _start(connected: Connected, token: str, evse_id: int,
                 reservation_id: int | None) -> str:
    """The station starts a transaction; the status chargebus answers its token with."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    if connected.is_16:
        answer = await connected.station.call(call16.StartTransaction(
            connector_id=evse_id, id_tag=token, meter_start=0, timestamp=now,
            reservation_id=reservation_id))
        return answer.id_tag_info["status"]
    calls = call201 if connected.subprotocol == "ocpp2.0.1" else call21
    answer = await connected.station.call(calls.TransactionEvent(
        event_type="Started", timestamp=now, trigger_reason="Authorized", seq_no=0,
        transaction_info={"transaction_id": f"tx-{uuid.uuid4().hex[:10]}"},
        evse={"id": evse_id, "connector_id": 1},
        id_token={"id_token": token, "type": "ISO14443"}, reservation_id=reservation_id))
    return answer.id_token_info["status"]


async def _state(bus, station_id: str, reservation_id: int) -> Reservation | None:
    listing = await Stores(bus.jetstream()).reservations.get(station_id)
    return next((each for each in (listing.reservations if listing else [])
                 if each.reservation_id == reservation_id), None)


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("subprotocol", VERSIONS)
async def test_a_reservation_across_two_tokens_and_an_expiry(system, bus, subprotocol):
    holder = await _token(bus, max_active=0)
    stranger = await _token(bus, max_active=0)
    late = await _token(bus, max_active=0)
    async with Connected(system, bus, subprotocol) as connected:
        made = await connected.perform(ReserveNow(id_token=IdToken(value=holder),
                                                  expires_at=utc_now() + timedelta(minutes=5),
                                                  evse_id=1))
        reservation_id = made.operation.reservation_id
        in_force = await _state(bus, connected.station_id, reservation_id)
        # Another token may not use it, whether it names it or not.
        named = await _start(connected, stranger, 1, reservation_id)
        unnamed = await _start(connected, stranger, 1, None)
        elsewhere = await _start(connected, stranger, 2, None)
        # The reserved token may, and uses it.
        own = await _start(connected, holder, 1, reservation_id)
        used = await _state(bus, connected.station_id, reservation_id)
        after_use = await _start(connected, stranger, 1, None)
        # One that expires holds the EVSE until then only.
        short = await connected.perform(ReserveNow(id_token=IdToken(value=holder),
                                                   expires_at=utc_now() + timedelta(seconds=2),
                                                   evse_id=2))
        before_expiry = await _start(connected, late, 2, None)
        await asyncio.sleep(2.5)
        after_expiry = await _start(connected, late, 2, None)
        listed = await asyncio.to_thread(system.cli, "reservations", "list",
                                         connected.station_id, "--all")
    assert made.taken and in_force.status == "Accepted" and in_force.made_by == "test"
    assert (named, unnamed, elsewhere) == ("Invalid", "Invalid", "Accepted")
    assert own == "Accepted" and (used.status, used.transaction_id is not None) == ("Used", True)
    assert after_use == "Accepted"
    assert short.taken and (before_expiry, after_expiry) == ("Invalid", "Accepted")
    lines = listed.stdout.splitlines()
    assert listed.returncode == 0 and len(lines) == 2
    assert lines[0].startswith(f"{reservation_id} {connected.station_id} evse 1 {holder} until ")
    assert " Used transaction " in lines[0] and lines[0].endswith(" by test")
    assert " Expired by test" in lines[1]


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("subprotocol", VERSIONS)
async def test_the_group_of_the_reserved_token_may_use_it(system, bus, subprotocol):
    holder = await _token(bus)
    member = await _token(bus)
    stores = Stores(bus.jetstream())
    await stores.tokens.put(Token(id_token=member, parent_id="FLEET-7"), token_key(member))
    async with Connected(system, bus, subprotocol) as connected:
        made = await connected.perform(ReserveNow(
            id_token=IdToken(value=holder), group_id_token=IdToken(value="FLEET-7"),
            expires_at=utc_now() + timedelta(minutes=5), evse_id=1))
        started = await _start(connected, member, 1, made.operation.reservation_id)
    assert made.taken and started == "Accepted"


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("subprotocol", VERSIONS)
async def test_cancelled_and_ended_by_the_station(system, bus, subprotocol):
    holder = await _token(bus)
    async with Connected(system, bus, subprotocol) as connected:
        until = utc_now() + timedelta(minutes=5)
        first = await connected.perform(ReserveNow(id_token=IdToken(value=holder),
                                                   expires_at=until, evse_id=1))
        second = await connected.perform(ReserveNow(id_token=IdToken(value=holder),
                                                    expires_at=until, evse_id=2))
        rejected = await connected.perform(ReserveNow(id_token=IdToken(value=holder),
                                                      expires_at=until, evse_id=9))
        await connected.perform(CancelReservation(reservation_id=first.operation.reservation_id))
        if not connected.is_16:
            calls = call201 if connected.subprotocol == "ocpp2.0.1" else call21
            await connected.station.call(calls.ReservationStatusUpdate(
                reservation_id=second.operation.reservation_id,
                reservation_update_status="Removed"))

        async def ended():
            found = await _state(bus, connected.station_id, second.operation.reservation_id)
            return found if connected.is_16 or found.status == "Removed" else None
        second_state = await eventually(ended)
        cancelled = await _state(bus, connected.station_id, first.operation.reservation_id)
        refused = await _state(bus, connected.station_id, rejected.operation.reservation_id)
        listed = await asyncio.to_thread(system.cli, "reservations", "list",
                                         connected.station_id)
    assert cancelled.status == "Cancelled" and cancelled.ended_at is not None
    assert refused.status == "Unavailable" and not rejected.taken
    if connected.is_16:
        assert second_state.status == "Accepted"
        assert [line.split()[0] for line in listed.stdout.splitlines()] == [
            str(second.operation.reservation_id)]
    else:
        assert second_state.status == "Removed" and listed.stdout == ""


@pytest.mark.asyncio(loop_scope="session")
async def test_a_transaction_under_way_is_not_refused_for_a_later_reservation(system, bus):
    charging = await _token(bus, max_active=0)
    other = await _token(bus, max_active=0)
    async with Connected(system, bus, "ocpp2.0.1") as connected:
        transaction_id = f"tx-{uuid.uuid4().hex[:10]}"

        async def event(kind: str, seq_no: int, reason: str) -> str:
            answer = await connected.station.call(call201.TransactionEvent(
                event_type=kind, timestamp=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                trigger_reason=reason, seq_no=seq_no,
                transaction_info={"transaction_id": transaction_id},
                evse={"id": 1, "connector_id": 1},
                id_token={"id_token": charging, "type": "ISO14443"}))
            return answer.id_token_info["status"]
        started = await event("Started", 0, "Authorized")
        await connected.perform(ReserveNow(id_token=IdToken(value=other), evse_id=1,
                                           expires_at=utc_now() + timedelta(minutes=5)))
        updated = await event("Updated", 1, "MeterValuePeriodic")
    assert (started, updated) == ("Accepted", "Accepted")
