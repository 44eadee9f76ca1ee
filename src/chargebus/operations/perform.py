"""Perform an operation (chargebus.domain.operations) on a station, whatever its version:
the checks chargebus makes before it sends anything, the call in the station's version
through the edge that holds it, and the answer read back.

The command line and the HTTP API build an Operation and call ``perform``; no operation
logic lives in either.
"""
import asyncio
import time
from dataclasses import dataclass

from nats.aio.client import Client
from pydantic import BaseModel

from chargebus.domain.model import AuthorizationStatus, IdToken
from chargebus.domain import reservations, sessions
from chargebus.domain.operations import (CancelReservation, CustomerInformation,
                                         GetChargingProfiles,
                                         GetDisplayMessages, NotInVersion,
                                         Operation, OperationResult, ReadDeviceModel,
                                         ReadMonitors, RequestLog,
                                         ReserveNow, StartCharging, UpdateFirmware)
from chargebus.ocpp import OcppVersion, codec
from chargebus.ocpp.clock import utc_now
from chargebus.ocpp.converters import operations_of
from chargebus.operations import audit, keeping
from chargebus.operations.commands import DEFAULT_TIMEOUT, Outcome, call_present
from chargebus.state.records import RemoteStart, Reservation
from chargebus.state.stores import Stores, active_key, remote_start_key, token_key


class PerformedView(BaseModel):
    """Performed.as_json, as a model: what the HTTP API documents and checks."""

    station_id: str
    operation: str
    request: dict
    version: str | None = None
    action: str | None = None
    outcome: Outcome
    taken: bool
    reason: str | None = None
    error: dict | None = None
    result: OperationResult | None = None


@dataclass(frozen=True, slots=True)
class Performed:
    """How an operation ended: ``result`` where the station answered it (``outcome``
    RESULT), else ``reason`` (and ``error`` for the station's CALLERROR)."""

    station_id: str
    operation: Operation
    outcome: Outcome
    version: OcppVersion | None = None
    action: str | None = None
    result: OperationResult | None = None
    reason: str | None = None
    error: dict | None = None

    @property
    def taken(self) -> bool:
        return self.result is not None and self.result.taken

    def as_json(self) -> dict:
        """What was asked, how it ended and the station's answer, as JSON values."""
        return {"station_id": self.station_id, "operation": self.operation.NAME,
                "request": self.operation.model_dump(mode="json", exclude_none=True),
                "version": self.version.value if self.version else None,
                "action": self.action, "outcome": self.outcome.value, "taken": self.taken,
                "reason": self.reason, "error": self.error,
                "result": self.result.model_dump(mode="json", exclude_none=True)
                if self.result else None}


async def perform(nc: Client, station_id: str, operation: Operation, *, sender: str,
                  timeout: float = DEFAULT_TIMEOUT, force: bool = False) -> Performed:
    """Send ``operation`` to the station and wait for its answer. ``force`` sends a
    remote start whose token chargebus would refuse."""
    started = time.perf_counter()
    js = nc.jetstream()
    stores = Stores(js)

    async def ended(outcome: Outcome, reason: str, version: OcppVersion | None = None,
                    action: str | None = None, payload: dict | None = None) -> Performed:
        await audit.record(js, audit.ended_before_an_edge(
            station_id, action or operation.NAME, payload, sender, outcome.value, reason,
            started, version.value if version else None))
        return Performed(station_id, operation, outcome, version, action, reason=reason)

    presence = await stores.presence.get(station_id)
    if presence is None:
        return await ended(Outcome.OFFLINE, f"{station_id} has never connected")
    version = presence.version
    if isinstance(operation, StartCharging | ReserveNow):
        refusal, operation = await _for_token(stores, operation, force)
        if refusal is not None:
            return await ended(Outcome.REFUSED, refusal, version)
    if (isinstance(operation, ReadDeviceModel | GetChargingProfiles | UpdateFirmware
                   | GetDisplayMessages | CustomerInformation | ReadMonitors | RequestLog)
            and operation.request_id is None):
        operation = operation.model_copy(update={"request_id": await stores.next_operation_id()})
    convert = operations_of(version)
    try:
        action, payload = convert.request(operation)
    except NotInVersion as missing:
        return await ended(Outcome.REFUSED, str(missing), version)
    try:
        codec.call(codec.dialect_of(version), "0", action, payload)
    except codec.InvalidOutgoing as invalid:
        return await ended(Outcome.REFUSED, f"the {action} breaks the {version} schema: "
                                            f"{invalid}", version, action, payload)
    if isinstance(operation, StartCharging):
        # Kept before it is sent: the station may start the transaction before its answer
        # to the request has come back here.
        assert operation.remote_start_id is not None  # _for_token gave it one
        key = remote_start_key(station_id, operation.remote_start_id)
        await stores.remote_starts.put(RemoteStart(
            station_id=station_id, remote_start_id=operation.remote_start_id,
            id_token=operation.id_token.value, evse_id=operation.evse_id, sender=sender,
            requested_at=utc_now()), *key)
    sent = keeping.Sent(stores, station_id, version, action, sender)
    await keeping.before_sending(sent, operation)
    if isinstance(operation, ReserveNow):
        # Kept before it is sent, as a remote start is: a start may use it at once.
        assert operation.reservation_id is not None  # _for_token gave it one
        reservation = Reservation(
            reservation_id=operation.reservation_id, station_id=station_id,
            evse_id=operation.evse_id, id_token=operation.id_token.value,
            group_id=operation.group_id_token.value if operation.group_id_token else None,
            expires_at=operation.expires_at, made_by=sender, requested_at=utc_now())
        await stores.reservations.modify(
            lambda listing: reservations.with_reservation(listing, reservation, utc_now()),
            station_id)
    reply = await call_present(nc, station_id, presence, action, payload, timeout, sender)
    answer = reply.body.get("status") if reply.outcome is Outcome.RESULT else reply.outcome
    if isinstance(operation, StartCharging):
        await stores.remote_starts.modify(
            lambda current: current.model_copy(update={"answer": answer}) if current else None,
            *key)
    if isinstance(operation, ReserveNow | CancelReservation) and answer is not None:
        status = (reservations.CANCELLED if isinstance(operation, CancelReservation)
                  else str(answer))
        if status != reservations.CANCELLED or answer == reservations.ACCEPTED:
            reservation_id = operation.reservation_id
            assert reservation_id is not None  # given above, or by the operator
            await stores.reservations.modify(
                lambda listing: reservations.with_status(listing, reservation_id, status,
                                                         utc_now()),
                station_id)
    result = convert.result(operation, reply.body) if reply.outcome is Outcome.RESULT else None
    await keeping.answered(sent, operation, result, reply.outcome.value)
    if result is not None:
        return Performed(station_id, operation, reply.outcome, version, action, result=result)
    if reply.outcome is Outcome.ERROR:
        return Performed(station_id, operation, reply.outcome, version, action,
                         reason=f"{reply.body.get('errorCode')}: "
                                f"{reply.body.get('errorDescription') or ''}".rstrip(": "),
                         error=reply.body)
    return Performed(station_id, operation, reply.outcome, version, action,
                     reason=reply.body.get("reason"))


async def transaction_of(nc: Client, started: Performed, timeout: float,
                         poll: float = 0.25) -> str | None:
    """The transaction a remote start began, once the workers have linked it, or None
    if none did within ``timeout`` seconds."""
    operation = started.operation
    if not isinstance(operation, StartCharging) or operation.remote_start_id is None:
        return None
    if started.result is not None and started.result.transaction_id:  # 2.x: one already ran
        return started.result.transaction_id
    remote_starts = Stores(nc.jetstream()).remote_starts
    key = remote_start_key(started.station_id, operation.remote_start_id)
    deadline = time.monotonic() + timeout
    while True:
        remote = await remote_starts.get(*key)
        if remote is not None and remote.transaction_id is not None:
            return remote.transaction_id
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(poll)


async def _for_token(stores: Stores, operation: StartCharging | ReserveNow, force: bool
                     ) -> tuple[str | None, StartCharging | ReserveNow]:
    """Authorize the token of a remote start or a reservation before it is sent (what
    OCPP calls AuthorizeRemoteStart on the station's side, done here: a station that
    trusts remote starts would let a blocked token charge), and give the operation its
    id (remoteStartId, reservation id) and the token's type where chargebus knows it."""
    value = operation.id_token.value
    token = await stores.tokens.get(token_key(value))
    if not force:
        active = await stores.active.get(*active_key(value))
        decision = sessions.authorization(token, list(active.transactions) if active else [],
                                          utc_now())
        if decision.status is not AuthorizationStatus.ACCEPTED:
            why = ("unknown to chargebus" if token is None else decision.status.value)
            return f"token {value} is {why} (--force sends it all the same)", operation
    changes: dict = {}
    if operation.id_token.type is None and token is not None and token.type is not None:
        changes["id_token"] = IdToken(value=value, type=token.type)
    if isinstance(operation, StartCharging) and operation.remote_start_id is None:
        changes["remote_start_id"] = await stores.next_operation_id()
    if isinstance(operation, ReserveNow) and operation.reservation_id is None:
        changes["reservation_id"] = await stores.next_operation_id()
    return None, operation.model_copy(update=changes) if changes else operation
