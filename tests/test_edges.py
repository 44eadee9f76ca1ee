"""Several edges at once, and what one edge does under pressure: calls reach stations on
whichever edge holds them, stations move when an edge dies or drains, repeated calls
get their stored answer, oversized messages are refused, a slow bus slows stations."""
import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import nats.errors
import orjson
import pytest
import websockets

from accepting_station import AcceptingStation
from conftest import eventually, extra_edge, free_port
from chargebus.bus import subjects
from chargebus.operations.commands import Outcome, call_station
from chargebus.security.permissions import Role
from chargebus.state.identifiers import kv_key
from chargebus.state.records import Presence

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def presence(stores, station_id: str):
    record = await stores.presence.get(station_id)
    return record.edge_id if record and record.online else None


async def reset(bus, station_id: str):
    return await call_station(bus, station_id, "Reset", {"type": "Soft"}, timeout=10)


async def test_calls_reach_stations_on_either_edge_and_follow_them(system, bus, stores):
    ids = [f"MULTI-{n}-{uuid.uuid4().hex[:6]}" for n in range(4)]
    with extra_edge(system, "edge-2") as second:
        urls = [system.station_url(ids[0]), system.station_url(ids[1]),
                second.station_url(ids[2]), second.station_url(ids[3])]
        stations = [AcceptingStation(url) for url in urls]
        for station in stations:
            await station.__aenter__()
        try:
            homes = [await eventually(lambda i=i: presence(stores, i)) for i in ids]
            assert homes == ["edge-1", "edge-1", "edge-2", "edge-2"]
            replies = await asyncio.gather(*(reset(bus, i) for i in ids))
            assert [reply.outcome for reply in replies] == [Outcome.RESULT] * 4

            # edge-2 dies without a word; its stations come back on edge-1.
            second.stop(signal.SIGKILL)
            for index in (2, 3):
                await stations[index].__aexit__(None, None, None)
                stations[index] = AcceptingStation(system.station_url(ids[index]))
                await stations[index].__aenter__()
            moved = [await eventually(lambda i=i: _on(stores, i, "edge-1")) for i in ids[2:]]
            assert moved == [True, True]
            replies = await asyncio.gather(*(reset(bus, i) for i in ids))
            assert [reply.outcome for reply in replies] == [Outcome.RESULT] * 4
        finally:
            for station in stations:
                await station.__aexit__(None, None, None)


async def test_a_station_that_reconnects_elsewhere_is_closed_on_the_old_edge(system, bus, stores):
    station_id = f"MOVE-{uuid.uuid4().hex[:6]}"
    with extra_edge(system, "edge-3") as third:
        async with websockets.connect(third.station_url(station_id),
                                      subprotocols=["ocpp1.6"]) as old:
            assert await eventually(lambda: _on(stores, station_id, "edge-3"))
            async with AcceptingStation(system.station_url(station_id)):
                await asyncio.wait_for(old.wait_closed(), 10)
                assert old.close_code == 1001
                assert await eventually(lambda: _on(stores, station_id, "edge-1"))
                assert (await reset(bus, station_id)).outcome is Outcome.RESULT


async def test_drain_on_sigterm_closes_with_1001_and_marks_the_station_offline(system, stores):
    station_id = f"DRAIN-{uuid.uuid4().hex[:6]}"
    with extra_edge(system, "edge-4") as fourth:
        async with websockets.connect(fourth.station_url(station_id),
                                      subprotocols=["ocpp1.6"]) as socket:
            assert await eventually(lambda: _on(stores, station_id, "edge-4"))
            assert await asyncio.to_thread(fourth.stop, signal.SIGTERM) == 0
            await asyncio.wait_for(socket.wait_closed(), 10)
            assert socket.close_code == 1001
    assert await eventually(lambda: _gone(stores, station_id))


async def test_a_repeated_call_gets_the_stored_answer(system):
    async with websockets.connect(system.station_url(f"REPEAT-{uuid.uuid4().hex[:6]}"),
                                  subprotocols=["ocpp1.6"]) as socket:
        await socket.send('[2,"same-id","Heartbeat",{}]')
        first = orjson.loads(await socket.recv())
        await asyncio.sleep(0.05)
        await socket.send('[2,"same-id","Heartbeat",{}]')
        again = orjson.loads(await socket.recv())
        # The same id with another frame is another call (a station that restarted
        # its counter), answered afresh.
        await asyncio.sleep(0.05)
        await socket.send('[2, "same-id", "Heartbeat", {}]')
        fresh = orjson.loads(await socket.recv())
    assert again == first
    assert fresh[:2] == [3, "same-id"] and fresh != first


async def test_a_message_over_the_size_limit_closes_with_1009(system):
    async with websockets.connect(system.station_url(f"BIG-{uuid.uuid4().hex[:6]}"),
                                  subprotocols=["ocpp1.6"], max_size=None) as socket:
        await socket.send(orjson.dumps([2, "big", "DataTransfer",
                                        {"vendorId": "x", "data": "y" * 70_000}]).decode())
        await asyncio.wait_for(socket.wait_closed(), 10)
    assert socket.close_code == 1009


async def test_fragments_over_the_size_limit_close_with_1009(system):
    async with websockets.connect(system.station_url(f"FRAG-{uuid.uuid4().hex[:6]}"),
                                  subprotocols=["ocpp1.6"]) as socket:
        await socket.send(iter(["[2,\"f\",\"DataTransfer\",{\"vendorId\":\"x\",\"data\":\""]
                                + ["z" * 30_000] * 3 + ["\"}]"]))
        await asyncio.wait_for(socket.wait_closed(), 10)
    assert socket.close_code == 1009


async def test_a_full_publish_window_pauses_stations_and_loses_nothing(system, bus):
    with extra_edge(system, "edge-5", {"CHARGEBUS_EDGE_PUBLISH_WINDOW": "2"}) as fifth:
        async def send_statuses(index: int) -> list:
            url = fifth.station_url(f"PRESS-{index}-{uuid.uuid4().hex[:4]}")
            async with websockets.connect(url, subprotocols=["ocpp1.6"]) as socket:
                answers = []
                for n in range(10):
                    await socket.send(orjson.dumps([2, f"s{n}", "StatusNotification", {
                        "connectorId": 1, "errorCode": "NoError", "status": "Available"}]).decode())
                    answers.append(orjson.loads(await socket.recv()))
                return answers

        everything = await asyncio.gather(*(send_statuses(i) for i in range(20)))
        assert all(answer[0] == 3 for answers in everything for answer in answers)
        metrics = fifth.metrics()
    assert metrics[("chargebus_edge_backpressure_seconds_total", ())] > 0
    recorded = metrics[("chargebus_edge_bus_latency_seconds_count", (("kind", "record"),))]
    assert recorded == 200


async def test_metrics_count_connections_frames_and_errors(system):
    with extra_edge(system, "edge-6") as sixth:
        async with websockets.connect(sixth.station_url(f"METRIC-{uuid.uuid4().hex[:6]}"),
                                      subprotocols=["ocpp2.0.1"]) as socket:
            await socket.send('[2,"m1","Heartbeat",{}]')
            await socket.recv()
            await socket.send('[2,"m2","Heartbeat",{"extra":1}]')
            await socket.recv()
            metrics = sixth.metrics()
    assert metrics[("chargebus_edge_connections", (("version", "ocpp2.0.1"),))] == 1
    assert metrics[("chargebus_edge_frames_in_total",
                    (("action", "Heartbeat"), ("version", "ocpp2.0.1")))] == 1
    assert metrics[("chargebus_edge_frames_out_total",
                    (("action", "Heartbeat"), ("version", "ocpp2.0.1")))] == 1
    assert metrics[("chargebus_edge_callerrors_total",
                    (("code", "FormatViolation"), ("version", "ocpp2.0.1")))] == 1


async def _on(stores, station_id: str, edge_id: str) -> bool:
    return await presence(stores, station_id) == edge_id


async def _gone(stores, station_id: str) -> bool:
    record = await stores.presence.get(station_id)
    return record is not None and not record.online


async def test_a_station_back_within_the_grace_is_never_reported_offline(system, bus, stores):
    """A dropped socket is marked offline only after CHARGEBUS_EDGE_OFFLINE_GRACE_SECONDS
    (5 s by default) unless the station is back; the record then says when it dropped."""
    station_id = f"FLAP-{uuid.uuid4().hex[:6]}"
    kv = await bus.jetstream().key_value(subjects.PRESENCE_BUCKET)
    watcher = await kv.watch(kv_key(station_id))
    first = await websockets.connect(system.station_url(station_id), subprotocols=["ocpp1.6"])
    before = await eventually(lambda: stores.presence.get(station_id))
    await first.close()
    second = await websockets.connect(system.station_url(station_id), subprotocols=["ocpp1.6"])
    after = await eventually(lambda: _connection_other_than(stores, station_id,
                                                            before.connection_id))
    await asyncio.sleep(6)  # past the grace of the first drop
    assert (await stores.presence.get(station_id)).connection_id == after.connection_id
    await second.close()
    dropped_at = datetime.now(UTC)
    gone = await eventually(lambda: _offline(stores, station_id), timeout=20)
    assert gone.connection_id == after.connection_id
    assert abs((gone.disconnected_at - dropped_at).total_seconds()) < 2  # not the grace's end
    records = []
    while True:
        try:
            entry = await watcher.updates(timeout=1)
        except nats.errors.TimeoutError:
            break
        if entry is not None and entry.value:  # None: the end of what the key held at first
            records.append(Presence.model_validate_json(entry.value))
    await watcher.stop()
    assert [record.online for record in records] == [True, True, False]


async def _connection_other_than(stores, station_id: str, connection_id: str):
    record = await stores.presence.get(station_id)
    return record if record is not None and record.connection_id != connection_id else None


async def _offline(stores, station_id: str):
    record = await stores.presence.get(station_id)
    return record if record is not None and not record.online else None


async def test_an_edge_refuses_a_node_id_that_a_running_edge_holds(system, bus, stores):
    """Two edges under one name would each take the other's stations for a crash's
    leftovers and mark them offline while their sockets are open."""
    station_id = f"HELD-{uuid.uuid4().hex[:6]}"
    async with AcceptingStation(system.station_url(station_id)):
        assert await eventually(lambda: presence(stores, station_id)) == "edge-1"
        intruder = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "chargebus.services.edge",
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=os.environ | {"CHARGEBUS_NATS_URL": system.nats_url,
                 "CHARGEBUS_NATS_CREDENTIALS": str(system.seed(Role.EDGE, "edge-1")),
                 "CHARGEBUS_EDGE_NODE_ID": "edge-1", "CHARGEBUS_EDGE_PORT": str(free_port()),
                 "CHARGEBUS_EDGE_METRICS_PORT": "0"})
        output, _ = await asyncio.wait_for(intruder.communicate(), 60)
        assert intruder.returncode != 0
        said = output.decode()
        assert "node id edge-1 is held by a running edge" in said, said
        assert f"ws://127.0.0.1:{system.edge_port}/ocpp/" in said
        assert "Traceback" not in said
        assert await presence(stores, station_id) == "edge-1"
        assert (await reset(bus, station_id)).body == {"status": "Accepted"}


async def test_the_cli_learns_what_the_running_edges_check(system):
    """A password stored while the only edge runs profile 0 is never checked: say so."""
    station_id = f"PWD-{uuid.uuid4().hex[:6]}"
    done = system.cli("stations", "add", station_id, "--password-stdin",
                      input="a-long-enough-password-1234\n")
    assert done.returncode == 0, done.stderr
    assert "may connect with a password" in done.stdout
    assert ("note: edge edge-1 runs security profile 0 and does not check passwords"
            in done.stderr), done.stderr
    plain = system.cli("stations", "add", station_id, "--boot", "Accepted")
    assert plain.returncode == 0 and plain.stderr == ""
