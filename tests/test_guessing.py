"""Password guessing against a profile-1 edge: unknown ids answer as wrong passwords
do, guesses are limited per id and per address, and honest stations keep being
answered while 256 guessers try their luck. (How fast they are answered meanwhile is
measured by benchmarks/password_guessing.py, not asserted here.)"""
import asyncio
import base64
import uuid

import orjson
import pytest
import websockets

from conftest import descendants, extra_edge
from chargebus.security.passwords import hash_password
from chargebus.state.records import StationAccess, StationAdmission

pytestmark = pytest.mark.asyncio(loop_scope="session")

PASSWORD = "honest-password-0123456789"
HONEST, VICTIMS, GHOSTS, GUESSERS = 100, 8, 8, 256
ATTEMPTS_EACH = 20  # per guesser, at least
LOCKOUT_FAILURES, ADDRESS_FREE_FAILURES = 10, 50
LIMITS = {"CHARGEBUS_EDGE_SECURITY_PROFILE": "1", "CHARGEBUS_UNKNOWN_STATIONS": "reject",
          "CHARGEBUS_EDGE_AUTH_DELAY_SECONDS": "0.01",
          "CHARGEBUS_EDGE_AUTH_MAX_DELAY_SECONDS": "0.05",
          "CHARGEBUS_EDGE_AUTH_LOCKOUT_FAILURES": str(LOCKOUT_FAILURES),
          "CHARGEBUS_EDGE_AUTH_LOCKOUT_SECONDS": "300",
          "CHARGEBUS_EDGE_AUTH_ADDRESS_FREE_FAILURES": str(ADDRESS_FREE_FAILURES),
          "CHARGEBUS_EDGE_AUTH_ADDRESS_MAX_DELAY_SECONDS": "0.05"}
STORM_DEADLINE = 180.0  # seconds: a safety net, far beyond what the storm takes


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def upgrade_answer(port: int, station_id: str, authorization: str,
                         version: str = "13", extra: str = "") -> bytes:
    """The edge's whole answer to one upgrade request, as bytes on the wire; ``extra``
    is more header lines, each ending in CRLF."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"GET /ocpp/{station_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n"
            f"Sec-WebSocket-Protocol: ocpp1.6\r\nAuthorization: {authorization}\r\n{extra}\r\n"
            .encode())
        answer = await asyncio.wait_for(reader.read(4096), 60)
        if answer.startswith(b"HTTP/1.1 101"):
            return answer
        while chunk := await asyncio.wait_for(reader.read(4096), 60):
            answer += chunk
        return answer
    finally:
        writer.close()


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def count(edge, name: str, **labels) -> float:
    return edge.metrics().get((name, tuple(sorted(labels.items()))), 0)


async def register(stores, station_ids, password_hash: str) -> None:
    for station_id in station_ids:
        await stores.access.put(StationAccess(station_id=station_id,
                                              password_hash=password_hash), station_id)
        await stores.admission.put(StationAdmission(station_id=station_id), station_id)


class HonestStation:
    def __init__(self, url: str, station_id: str):
        self.url, self.station_id = url, station_id
        self.sent = self.answered = 0

    async def heartbeats(self, socket, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sent += 1
            await socket.send(f'[2,"hb-{self.sent}","Heartbeat",{{}}]')
            answer = orjson.loads(await asyncio.wait_for(socket.recv(), 60))
            if answer[:2] == [3, f"hb-{self.sent}"]:
                self.answered += 1
            await asyncio.sleep(0.05)


async def test_guessers_get_nothing_and_honest_stations_are_answered(system, stores):
    run = uuid.uuid4().hex[:6]
    honest = [f"HONEST-{run}-{i}" for i in range(HONEST)]
    victims = [f"VICTIM-{run}-{i}" for i in range(VICTIMS)]
    ghosts = [f"GHOST-{run}-{i}" for i in range(GHOSTS)]  # no access record
    neighbour, probe = f"NEIGHBOUR-{run}", f"PROBE-{run}"
    await register(stores, honest + victims + [neighbour, probe], hash_password(PASSWORD))

    with extra_edge(system, f"edge-guess-{run}", LIMITS) as edge:
        # An unknown id and a wrong password: the same bytes.
        unknown = await upgrade_answer(edge.port, f"NOBODY-{run}", basic(f"NOBODY-{run}", PASSWORD))
        wrong = await upgrade_answer(edge.port, probe, basic(probe, PASSWORD + "x"))
        assert status_of(unknown) == 401 and unknown == wrong
        assert b'WWW-Authenticate: Basic realm="chargebus"' in wrong

        stations = [HonestStation(edge.station_url(name), name) for name in honest]
        sockets = [await websockets.connect(s.url, subprotocols=["ocpp1.6"],
                                            additional_headers={"Authorization": basic(
                                                s.station_id, PASSWORD)})
                   for s in stations]
        stop = asyncio.Event()
        heartbeats = [asyncio.create_task(s.heartbeats(socket, stop))
                      for s, socket in zip(stations, sockets)]

        targets = victims + ghosts
        answers: list[list[int]] = [[] for _ in range(GUESSERS)]
        guessing = asyncio.Event()

        async def guess(index: int) -> None:
            target = targets[index % len(targets)]
            while not (guessing.is_set() and len(answers[index]) >= ATTEMPTS_EACH):
                password = f"guess-{index}-{len(answers[index])}-0123456789"
                answers[index].append(status_of(
                    await upgrade_answer(edge.port, target, basic(target, password))))

        async def all_locked_out() -> None:
            while count(edge, "chargebus_edge_auth_lockouts_total") < len(targets):
                await asyncio.sleep(0.2)
            guessing.set()

        guessers = [asyncio.create_task(guess(i)) for i in range(GUESSERS)]
        await asyncio.wait_for(asyncio.gather(all_locked_out(), *guessers), STORM_DEADLINE)
        stop.set()
        await asyncio.gather(*heartbeats)

        statuses = [status for each in answers for status in each]
        assert set(statuses) <= {401, 429}  # no guess got through
        assert all(len(each) >= ATTEMPTS_EACH for each in answers)
        # Each id was checked until it was locked out, never after, known or not.
        assert count(edge, "chargebus_edge_refused_total", reason="bad_credentials") \
            == VICTIMS * LOCKOUT_FAILURES + 1
        assert count(edge, "chargebus_edge_refused_total", reason="unknown_station") \
            == GHOSTS * LOCKOUT_FAILURES + 1
        assert statuses.count(401) == len(targets) * LOCKOUT_FAILURES
        assert count(edge, "chargebus_edge_auth_lockouts_total") == len(targets)
        assert count(edge, "chargebus_edge_password_checks_total", result="wrong") \
            == len(targets) * LOCKOUT_FAILURES + 2
        too_soon = sum(count(edge, "chargebus_edge_refused_total", reason=reason)
                       for reason in ("delayed", "locked_out", "address_busy"))
        assert too_soon == statuses.count(429)
        assert all(s.answered == s.sent > 0 for s in stations)

        # The address has failed too often now: its attempts are held (and a few at a
        # time checked), but never refused for it. A locked-out station is refused with
        # its right password; a new station behind the same address (a site's NAT) is
        # held, then admitted; a station whose password verified before is not held.
        held = count(edge, "chargebus_edge_auth_held_total")
        answers = [await upgrade_answer(edge.port, victims[0], basic(victims[0], PASSWORD)),
                   await upgrade_answer(edge.port, neighbour, basic(neighbour, PASSWORD))]
        assert [status_of(answer) for answer in answers] == [429, 101]
        assert b"Retry-After: " in answers[0]
        assert count(edge, "chargebus_edge_auth_held_total") == held + 2
        await sockets[0].close()
        again = await upgrade_answer(edge.port, honest[0], basic(honest[0], PASSWORD))
        assert status_of(again) == 101
        assert count(edge, "chargebus_edge_auth_held_total") == held + 2
        for socket in sockets:
            await socket.close()


async def test_a_locked_out_station_is_admitted_once_the_lockout_ends(system, stores):
    station_id = f"LOCKED-{uuid.uuid4().hex[:6]}"
    await register(stores, [station_id], hash_password(PASSWORD))
    with extra_edge(system, f"edge-lockout-{station_id}", LIMITS | {
            "CHARGEBUS_EDGE_AUTH_FREE_FAILURES": "0",
            "CHARGEBUS_EDGE_AUTH_LOCKOUT_FAILURES": "1",
            "CHARGEBUS_EDGE_AUTH_LOCKOUT_SECONDS": "1"}) as edge:
        wrong = await upgrade_answer(edge.port, station_id,
                                     basic(station_id, "wrong-password-1234"))
        assert status_of(wrong) == 401
        answers = []
        while not answers or status_of(answers[-1]) == 429:
            answers.append(await upgrade_answer(edge.port, station_id,
                                                basic(station_id, PASSWORD)))
            await asyncio.sleep(0.1)
        assert status_of(answers[-1]) == 101
        assert count(edge, "chargebus_edge_auth_lockouts_total") == 1
        assert count(edge, "chargebus_edge_refused_total", reason="locked_out") \
            == len(answers) - 1
        # The workers hash (the edge may not read the hashes): no hasher beside the edge.
        assert descendants(edge.process.pid) == []


async def test_what_is_refused_before_the_credentials_costs_no_check(system, stores):
    station_id = f"EARLY-{uuid.uuid4().hex[:6]}"
    await register(stores, [station_id], hash_password(PASSWORD))
    with extra_edge(system, f"edge-early-{station_id}", LIMITS) as edge:
        wrong = basic(station_id, "wrong-password-1234")
        answers = [
            await upgrade_answer(edge.port, station_id, wrong, version="8"),
            await upgrade_answer(edge.port, station_id, wrong, extra=f"X-Pad: {'a' * 9000}\r\n"),
            await upgrade_answer(edge.port, f"%20{station_id}", wrong),  # an id with a space
            await upgrade_answer(edge.port, f"a {station_id}", wrong)]  # no request line
        assert [status_of(answer) for answer in answers] == [426, 431, 400, 400]
        assert b"Sec-WebSocket-Version: 13" in answers[0]
        assert count(edge, "chargebus_edge_refused_total", reason="bad_station_id") == 1
        assert count(edge, "chargebus_edge_password_checks_total", result="wrong") == 0
        assert status_of(await upgrade_answer(edge.port, station_id, wrong)) == 401
        assert count(edge, "chargebus_edge_password_checks_total", result="wrong") == 1


async def test_unknown_stations_under_pending_need_no_password(system):
    """As under profile 0: such an edge tells ids apart by design (its workers answer
    the stranger's boot Pending)."""
    station_id = f"STRANGER-{uuid.uuid4().hex[:6]}"
    with extra_edge(system, f"edge-pending-{station_id}", {
            "CHARGEBUS_EDGE_SECURITY_PROFILE": "1",
            "CHARGEBUS_UNKNOWN_STATIONS": "pending"}) as edge:
        async with websockets.connect(edge.station_url(station_id),
                                      subprotocols=["ocpp1.6"]) as socket:
            await socket.send('[2,"hb-1","Heartbeat",{}]')
            assert orjson.loads(await socket.recv())[:2] == [3, "hb-1"]
        assert count(edge, "chargebus_edge_password_checks_total", result="wrong") == 0
