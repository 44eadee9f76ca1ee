"""CSMS-to-station calls: from any NATS client (or `chargebus call`) to the edge that
holds the station's socket, one in flight per station, and the answer back."""
import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import orjson
import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201

from conftest import eventually, ocpp_station
from chargebus.ocpp import OcppVersion
from chargebus.operations.commands import Outcome, call_station
from chargebus.state.records import Presence
from chargebus.state.stores import Stores

pytestmark = pytest.mark.asyncio(loop_scope="session")


class ObedientStation16(ChargePoint16):
    @on("Reset")
    def on_reset(self, type):
        return result16.Reset(status="Accepted")

    @on("UnlockConnector")
    def on_unlock(self, connector_id):
        return result16.UnlockConnector(status="Unlocked" if connector_id == 1 else "NotSupported")


class ObedientStation201(ChargePoint201):
    @on("Reset")
    def on_reset(self, type, **options):
        return result201.Reset(status="Scheduled" if type == "OnIdle" else "Accepted")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def raw_station(system, bus, station_id: str):
    """A bare 1.6 socket, once the edge has it attached for calls."""
    async with websockets.connect(system.station_url(station_id),
                                  subprotocols=["ocpp1.6"]) as socket:
        await eventually(lambda: _present(bus, station_id))
        yield socket


async def answer(socket, message: list) -> list:
    """Read the next call from the edge and answer it with ``message`` (its id set)."""
    sent = orjson.loads(await socket.recv())
    await socket.send(orjson.dumps([message[0], sent[1], *message[1:]]).decode())
    return sent


async def test_a_call_reaches_a_16_station_and_its_answer_comes_back(system, bus):
    station_id = new_id("CMD16")
    async with ocpp_station(system, station_id, ObedientStation16, ["ocpp1.6"], "ocpp1.6"):
        await eventually(lambda: _present(bus, station_id))
        reset = await call_station(bus, station_id, "Reset", {"type": "Soft"}, timeout=10)
        unlock = await call_station(bus, station_id, "UnlockConnector", {"connectorId": 2},
                                    timeout=10)
    assert (reset.outcome, reset.body) == (Outcome.RESULT, {"status": "Accepted"})
    assert (unlock.outcome, unlock.body) == (Outcome.RESULT, {"status": "NotSupported"})


async def test_a_call_reaches_a_201_station(system, bus):
    station_id = new_id("CMD201")
    async with ocpp_station(system, station_id, ObedientStation201, ["ocpp2.0.1"], "ocpp2.0.1"):
        await eventually(lambda: _present(bus, station_id))
        reply = await call_station(bus, station_id, "Reset", {"type": "OnIdle"}, timeout=10)
    assert (reply.outcome, reply.body) == (Outcome.RESULT, {"status": "Scheduled"})


async def test_an_offline_station_is_reported_at_once(bus):
    reply = await asyncio.wait_for(
        call_station(bus, new_id("NOBODY"), "Reset", {"type": "Soft"}, timeout=30), 5)
    assert reply.outcome is Outcome.OFFLINE
    assert "not connected" in reply.body["reason"]


async def test_a_station_whose_edge_is_gone_is_reported_offline_at_once(bus):
    """An edge killed outright leaves its stations' records online until they connect
    elsewhere: no edge answers on its command subject, and that says offline."""
    station_id = new_id("ORPHAN")
    await Stores(bus.jetstream()).presence.put(Presence(
        station_id=station_id, edge_id="edge-killed", connection_id="c-1",
        version=OcppVersion.V16, connected_at=datetime.now(UTC)), station_id)
    reply = await asyncio.wait_for(
        call_station(bus, station_id, "Reset", {"type": "Soft"}, timeout=30), 5)
    assert reply.outcome is Outcome.OFFLINE
    assert "not connected" in reply.body["reason"]


async def test_an_invalid_call_is_refused_and_never_sent(system, bus):
    station_id = new_id("RAWCMD")
    async with raw_station(system, bus, station_id) as socket:
        reply = await call_station(bus, station_id, "Reset", {"type": "Sideways"}, timeout=5)
        unknown = await call_station(bus, station_id, "NoSuchAction", {}, timeout=5)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(socket.recv(), 0.5)
    assert reply.outcome is Outcome.INVALID and "type" in reply.body["reason"]
    assert unknown.outcome is Outcome.INVALID


async def test_calls_to_one_station_go_one_at_a_time(system, bus):
    station_id = new_id("QUEUE")
    async with raw_station(system, bus, station_id) as socket:
        first = asyncio.create_task(
            call_station(bus, station_id, "Reset", {"type": "Soft"}, timeout=10))
        second = asyncio.create_task(
            call_station(bus, station_id, "Reset", {"type": "Hard"}, timeout=10))
        # The two callers race to the edge (each looks the station up first), so
        # either may come first; what matters is that the other waits for its answer.
        call_one = orjson.loads(await socket.recv())
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(socket.recv(), 0.5)
        await socket.send(orjson.dumps([3, call_one[1], {"status": "Accepted"}]).decode())
        call_two = await answer(socket, [4, "NotSupported", "no resets here", {}])
        answers = dict(zip(["Soft", "Hard"], await asyncio.gather(first, second)))
    assert {call_one[3]["type"], call_two[3]["type"]} == {"Soft", "Hard"}
    assert call_one[2] == call_two[2] == "Reset"
    accepted, refused = answers[call_one[3]["type"]], answers[call_two[3]["type"]]
    assert (accepted.outcome, accepted.body) == (Outcome.RESULT, {"status": "Accepted"})
    assert refused.outcome is Outcome.ERROR
    assert refused.body == {"errorCode": "NotSupported",
                            "errorDescription": "no resets here", "errorDetails": {}}


async def test_a_silent_station_times_out_and_a_late_answer_is_dropped(system, bus):
    station_id = new_id("SILENT")
    async with raw_station(system, bus, station_id) as socket:
        reply = await call_station(bus, station_id, "Reset", {"type": "Soft"}, timeout=1)
        await answer(socket, [3, {"status": "Accepted"}])  # too late
        # The connection still works, and the next call gets its own answer.
        following = asyncio.create_task(
            call_station(bus, station_id, "Reset", {"type": "Hard"}, timeout=10))
        await answer(socket, [3, {"status": "Rejected"}])
        second = await following
    assert reply.outcome is Outcome.TIMEOUT
    assert (second.outcome, second.body) == (Outcome.RESULT, {"status": "Rejected"})


async def test_an_answer_that_breaks_the_schema_is_reported(system, bus):
    station_id = new_id("BADANSWER")
    async with raw_station(system, bus, station_id) as socket:
        pending = asyncio.create_task(
            call_station(bus, station_id, "Reset", {"type": "Soft"}, timeout=10))
        await answer(socket, [3, {"status": "Perhaps"}])
        reply = await pending
    assert reply.outcome is Outcome.INVALID
    assert reply.body["payload"] == {"status": "Perhaps"}


async def test_a_station_that_leaves_mid_call_is_reported_offline(system, bus):
    station_id = new_id("LEAVER")
    socket = await websockets.connect(system.station_url(station_id), subprotocols=["ocpp1.6"])
    await eventually(lambda: _present(bus, station_id))
    pending = asyncio.create_task(
        call_station(bus, station_id, "Reset", {"type": "Soft"}, timeout=20))
    await socket.recv()
    await socket.close()
    reply = await asyncio.wait_for(pending, 10)
    assert reply.outcome is Outcome.OFFLINE


async def test_presence_follows_the_connection(system, bus, stores):
    station_id = new_id("PRESENT")
    async with websockets.connect(system.station_url(station_id), subprotocols=["ocpp2.0.1"]):
        record = await eventually(lambda: stores.presence.get(station_id))
        assert (record.edge_id, record.version) == ("edge-1", "ocpp2.0.1")
    gone = await eventually(lambda: _offline(stores, station_id))
    assert gone.disconnected_at >= gone.connected_at


async def test_the_newer_connection_of_a_station_wins(system, bus):
    station_id = new_id("TWICE")
    first = await websockets.connect(system.station_url(station_id), subprotocols=["ocpp1.6"])
    await eventually(lambda: _present(bus, station_id))
    async with websockets.connect(system.station_url(station_id),
                                  subprotocols=["ocpp1.6"]) as second:
        await first.wait_closed()
        assert first.close_code == 1008
        pending = asyncio.create_task(
            call_station(bus, station_id, "Reset", {"type": "Soft"}, timeout=10))
        await answer(second, [3, {"status": "Accepted"}])
        assert (await pending).outcome is Outcome.RESULT


async def test_chargebus_call_prints_the_answer(system, bus):
    station_id = new_id("CLI")
    async with ocpp_station(system, station_id, ObedientStation16, ["ocpp1.6"], "ocpp1.6"):
        await eventually(lambda: _present(bus, station_id))
        done = await asyncio.to_thread(system.cli, "call", station_id, "Reset", '{"type": "Hard"}')
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout) == {"status": "Accepted"}


@pytest.mark.parametrize("arguments, message", [
    (["call", "NOT-THERE-CLI", "Reset", '{"type": "Hard"}'], "offline"),
    (["call", "X", "Reset", "{not json"], "the payload is not JSON"),
    (["call", "X", "Reset", "[1, 2]"], "the payload must be a JSON object"),
])
async def test_chargebus_call_explains_what_went_wrong(system, arguments, message):
    done = await asyncio.to_thread(system.cli, *arguments)
    assert done.returncode != 0
    assert message in done.stderr


async def _present(bus, station_id: str) -> bool:
    """Online, by the presence record; the edge subscribes to the station's commands
    before it writes that record."""
    record = await Stores(bus.jetstream()).presence.get(station_id)
    return record is not None and record.online


async def _offline(stores, station_id: str):
    record = await stores.presence.get(station_id)
    return record if record is not None and not record.online else None
