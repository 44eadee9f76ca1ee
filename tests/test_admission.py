"""How many transactions a token has at once, at full rate, with three worker processes:
a token handed on as soon as its stop is answered is never ConcurrentTx, of starts sent
at once exactly the token's limit is accepted, every count converges to nothing once
the transactions are over, and one whose start was never recorded is dropped."""
import asyncio
import contextlib
import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import orjson
import pytest

from conftest import ended, eventually, service_process
from test_workers import Station, new_id
from chargebus.bus import events, subjects
from chargebus.bus.events import CallContext
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.clock import ocpp_timestamp, utc_now
from chargebus.state.stores import active_key

pytestmark = pytest.mark.asyncio(loop_scope="session")

VERSIONS = ("ocpp1.6", "ocpp2.0.1")
# A station's transactions happen one a minute from an hour ago: a 1.6 start is known
# again by its time, so no two may share one.
BEGIN = utc_now() - timedelta(hours=1)

RELAYS, RELAY_STATIONS, LAPS = 8, 5, 3  # shared tokens, the stations each passes through
BUSY_STATIONS, BUSY_ROUNDS = 40, 6  # stations on a token of their own, back to back
CONTENDED = (1, 1, 2, 2)  # the limits of tokens that stations start at once
CONTENDERS, CONTENTION_ROUNDS = 6, 5
SETTLED_TIMEOUT = 180.0


@pytest.fixture(scope="module")
def workers(system):
    """Two more worker processes on the system: three share every answer and record."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(service_process("workers", system, {}))
               for _ in range(2)]


def import_tokens(system, tmp_path, limits: dict[str, int]) -> None:
    table = tmp_path / f"tokens-{new_id('t')}.csv"
    table.write_text("id_token,status,expires_at,parent_id,type,max_active\n" + "".join(
        f"{token},Accepted,,,ISO14443,{limit}\n" for token, limit in limits.items()))
    done = system.cli("tokens", "import", str(table))
    assert done.returncode == 0, done.stderr


@dataclass
class Started:
    """A transaction started, the status its token was answered and (2.x) the seqNo its
    next event takes."""

    transaction_id: str
    status: str
    next_seq: int = 1


class Charger:
    """A station charging one transaction after another; ``statuses`` holds every
    token status it was answered, ``transactions`` the ids of its transactions."""

    def __init__(self, system, version: str):
        self.station_id = new_id("ADM" + version.removeprefix("ocpp").replace(".", ""))
        self.version = version
        self.station = Station(system.station_url(self.station_id), version)
        self.statuses: Counter = Counter()
        self.transactions: list[str] = []
        self._numbers = itertools.count()

    async def __aenter__(self):
        await self.station.__aenter__()
        return self

    async def __aexit__(self, *exc_info):
        await self.station.__aexit__(*exc_info)

    async def call(self, action: str, payload: dict) -> dict:
        answer = await self.station.call(action, payload)
        info = answer.get("idTagInfo") or answer.get("idTokenInfo")
        if info:
            self.statuses[info["status"]] += 1
        return answer

    async def charge(self, token: str) -> None:
        """Authorize, start, maybe a meter value, stop: each of the ways the version has."""
        number = next(self._numbers)
        await self.authorize(token)
        transaction = await self.start(token, number, cable_first=number % 3 == 1)
        if number % 2 == 0:
            await self.meter_value(transaction, number)
        await self.stop(transaction, number, token if number % 3 != 0 else None)

    async def authorize(self, token: str) -> str:
        if self.version == "ocpp1.6":
            return (await self.call("Authorize", {"idTag": token}))["idTagInfo"]["status"]
        answer = await self.call("Authorize", {"idToken": self._token(token)})
        return answer["idTokenInfo"]["status"]

    async def start(self, token: str, number: int, cable_first: bool = False) -> Started:
        """The transaction's start, and the status its token got (2.x: where the EV is
        plugged in first, the token comes in the event after)."""
        moment = self._moment(number)
        if self.version == "ocpp1.6":
            answer = await self.call("StartTransaction", {
                "connectorId": 1, "idTag": token, "meterStart": 0, "timestamp": moment})
            started = Started(str(answer["transactionId"]), answer["idTagInfo"]["status"])
        else:
            transaction_id = new_id("tx")
            payload = self._event("Started", transaction_id, 0, moment, 0, "Authorized")
            payload["evse"] = {"id": 1, "connectorId": 1}
            if cable_first:
                payload["triggerReason"] = "CablePluggedIn"
                await self.call("TransactionEvent", payload)
                payload = self._event("Updated", transaction_id, 1, moment, 0, "Authorized")
            payload["idToken"] = self._token(token)
            answer = await self.call("TransactionEvent", payload)
            started = Started(transaction_id, answer["idTokenInfo"]["status"], 2 if cable_first
                              else 1)
        self.transactions.append(started.transaction_id)
        return started

    async def meter_value(self, started: Started, number: int) -> None:
        moment = self._moment(number, seconds=10)
        if self.version == "ocpp1.6":
            await self.call("MeterValues", {
                "connectorId": 1, "transactionId": int(started.transaction_id),
                "meterValue": [{"timestamp": moment, "sampledValue": [{"value": "100"}]}]})
        else:
            await self.call("TransactionEvent", self._event(
                "Updated", started.transaction_id, started.next_seq, moment, 100,
                "MeterValuePeriodic"))
            started.next_seq += 1

    async def stop(self, started: Started, number: int, token: str | None = None,
                   refused: bool = False) -> None:
        """The end, with the token that stops it or without; a refused transaction is
        ended as the station was told to."""
        moment = self._moment(number, seconds=30)
        if self.version == "ocpp1.6":
            payload = {"transactionId": int(started.transaction_id), "meterStop": 500,
                       "timestamp": moment, "reason": "DeAuthorized" if refused else "Local"}
            if token:
                payload["idTag"] = token
            await self.call("StopTransaction", payload)
            return
        trigger = "Deauthorized" if refused else "StopAuthorized" if token else "EVDeparted"
        payload = self._event("Ended", started.transaction_id, started.next_seq, moment, 500,
                              trigger)
        payload["transactionInfo"]["stoppedReason"] = "DeAuthorized" if refused else "Local"
        if token:
            payload["idToken"] = self._token(token)
        await self.call("TransactionEvent", payload)

    def _moment(self, number: int, seconds: int = 0) -> str:
        return ocpp_timestamp(BEGIN + timedelta(minutes=number, seconds=seconds))

    @staticmethod
    def _token(token: str) -> dict:
        return {"idToken": token, "type": "ISO14443"}

    @staticmethod
    def _event(kind: str, transaction_id: str, seq: int, moment: str, wh: float,
               trigger: str) -> dict:
        return {"eventType": kind, "timestamp": moment, "triggerReason": trigger, "seqNo": seq,
                "transactionInfo": {"transactionId": transaction_id},
                "meterValue": [{"timestamp": moment, "sampledValue": [
                    {"value": wh, "measurand": "Energy.Active.Import.Register"}]}]}


async def counted(stores, token: str) -> set[str]:
    listing = await stores.active.get(*active_key(token))
    return set(listing.transactions) if listing else set()


async def all_ended(stores, chargers: list[Charger]) -> bool:
    for charger in chargers:
        for transaction_id in charger.transactions:
            if await ended(stores, charger.station_id, transaction_id) is None:
                return False
    return True


async def settle(stores, chargers: list[Charger], tokens) -> None:
    """Once the consumers have applied every event, the counts are still empty: the
    record of a start applied after its stop counts nothing again."""
    assert await eventually(lambda: all_ended(stores, chargers), SETTLED_TIMEOUT, 1.0)
    for token in tokens:
        assert await counted(stores, token) == set(), token


async def test_a_token_handed_on_at_its_stop_is_never_concurrent(system, workers, stores,
                                                                  tmp_path):
    """Each shared token goes round its stations, the next one's Authorize right after
    the last one's stop is answered; the other stations charge back to back on a token
    of their own, which each takes again right after its own stop. Every token is free
    whenever it is presented, so every answer is Accepted."""
    shared = [new_id("RELAY") for _ in range(RELAYS)]
    own = [new_id("OWN") for _ in range(BUSY_STATIONS)]
    import_tokens(system, tmp_path, dict.fromkeys(shared + own, 1))
    async with contextlib.AsyncExitStack() as stack:
        rings = [[await stack.enter_async_context(Charger(system, VERSIONS[(relay + seat) % 2]))
                  for seat in range(RELAY_STATIONS)] for relay in range(RELAYS)]
        busy = [await stack.enter_async_context(Charger(system, VERSIONS[index % 2]))
                for index in range(BUSY_STATIONS)]

        async def relay(token: str, ring: list[Charger]) -> None:
            for _ in range(LAPS):
                for charger in ring:
                    await charger.charge(token)

        async def back_to_back(token: str, charger: Charger) -> None:
            for _ in range(BUSY_ROUNDS):
                await charger.charge(token)

        await asyncio.gather(*itertools.chain(
            (relay(token, ring) for token, ring in zip(shared, rings)),
            (back_to_back(token, charger) for token, charger in zip(own, busy))))
    chargers = [charger for ring in rings for charger in ring] + busy
    statuses = sum((charger.statuses for charger in chargers), Counter())
    # Authorize, the start and (1.6, or a 2.x stop with a token) the stop of each.
    transactions = RELAYS * RELAY_STATIONS * LAPS + BUSY_STATIONS * BUSY_ROUNDS
    assert sum(len(charger.transactions) for charger in chargers) == transactions
    assert set(statuses) == {"Accepted"} and statuses["Accepted"] >= 2 * transactions
    # Every stop is answered: nothing counts any more, before the records are complete.
    for token in shared + own:
        assert await counted(stores, token) == set(), token
    await settle(stores, chargers, shared + own)


async def test_starts_at_once_accept_exactly_the_limit(system, workers, stores, tmp_path):
    """Stations of both versions start one token at the same moment, round after round,
    for tokens of a limit of one and of two: exactly the limit is accepted each round
    (no more across the workers, and no fewer: the last round's stops freed it)."""
    tokens = {new_id("RUSH"): limit for limit in CONTENDED}
    import_tokens(system, tmp_path, tokens)
    async with contextlib.AsyncExitStack() as stack:
        groups = {token: [await stack.enter_async_context(Charger(system, VERSIONS[seat % 2]))
                          for seat in range(CONTENDERS)] for token in tokens}

        async def rush(token: str, chargers: list[Charger], number: int) -> list[int]:
            starts = await asyncio.gather(*(charger.start(token, number)
                                            for charger in chargers))
            accepted = [charger for charger, started in zip(chargers, starts)
                        if started.status == "Accepted"]
            references = {f"{charger.station_id}/{started.transaction_id}"
                          for charger, started in zip(chargers, starts)
                          if started.status == "Accepted"}
            assert await counted(stores, token) == references
            await asyncio.gather(*(charger.stop(started, number,
                                                refused=started.status != "Accepted")
                                   for charger, started in zip(chargers, starts)))
            assert await counted(stores, token) == set()
            return [len(accepted), len(chargers) - len(accepted)]

        for number in range(CONTENTION_ROUNDS):
            outcomes = await asyncio.gather(*(rush(token, chargers, number)
                                              for token, chargers in groups.items()))
            assert outcomes == [[limit, CONTENDERS - limit] for limit in tokens.values()]
    chargers = [charger for group in groups.values() for charger in group]
    statuses = sum((charger.statuses for charger in chargers), Counter())
    refused = CONTENTION_ROUNDS * sum(CONTENDERS - limit for limit in tokens.values())
    assert statuses["ConcurrentTx"] == refused
    await settle(stores, chargers, tokens)


async def test_a_count_whose_start_was_never_recorded_is_dropped(system, workers, bus, stores,
                                                                 tmp_path):
    """A start answered but never recorded (the edge could not publish it, the station
    never sent it again) counts against its token until a sweep finds no record of it
    for the grace."""
    token = new_id("LOST")
    import_tokens(system, tmp_path, {token: 1})
    station_id = new_id("GONE")
    context = CallContext(station_id, OcppVersion.V16, "StartTransaction", "lost-1", "edge-1",
                          ocpp_timestamp())
    # What the edge asks the workers; it then records the call, which this test does not.
    reply = await bus.request(subjects.worker_request("StartTransaction"), orjson.dumps({
        "connectorId": 1, "idTag": token, "meterStart": 0, "timestamp": ocpp_timestamp()}),
        timeout=10, headers=context.headers())
    assert events.FAULT not in (reply.headers or {}), reply.data
    answer = orjson.loads(reply.data)
    assert answer["idTagInfo"]["status"] == "Accepted"
    reference = f"{station_id}/{answer['transactionId']}"
    assert await counted(stores, token) == {reference}
    async with Charger(system, "ocpp1.6") as other:
        assert await other.authorize(token) == "ConcurrentTx"
        # A worker whose sweep gives a count without a record one second.
        with service_process("workers", system, {
                "CHARGEBUS_CLAIM_GRACE_SECONDS": "1", "CHARGEBUS_STALE_CHECK_SECONDS": "0.2"}):
            assert await eventually(lambda: _free(stores, token))
        assert await other.authorize(token) == "Accepted"


async def _free(stores, token: str) -> bool:
    return not await counted(stores, token)
