"""`chargebus run` as an operator uses it: start, stop with Ctrl-C, start again."""
import asyncio
import signal
import time

import orjson
import websockets

from conftest import alive, start_system


def boot_and_meter(system, station_id: str) -> None:
    async def talk() -> None:
        async with websockets.connect(system.station_url(station_id),
                                      subprotocols=["ocpp1.6"]) as socket:
            for frame in (
                [2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}],
                [2, "m", "MeterValues", {"connectorId": 1, "meterValue": [{
                    "timestamp": "2026-11-21T10:00:00Z", "sampledValue": [{"value": "42"}]}]}],
            ):
                await socket.send(orjson.dumps(frame))
                assert orjson.loads(await socket.recv())[0] == 3

    asyncio.run(talk())


def wait_for_rows(system, query: str, expected: list, timeout: float = 20.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        result = system.cli("sql", query)
        rows = [orjson.loads(line) for line in result.stdout.splitlines()]
        if rows == expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.3)


def test_ctrl_c_stops_everything_and_a_restart_keeps_the_data(tmp_path):
    system = start_system(tmp_path)
    assert "Stations connect to ws://127.0.0.1:" in system.banner
    children = system.children()
    commands = {(open(f"/proc/{pid}/cmdline").read().replace("\0", " ")) for pid in children}
    assert any("nats-server" in command for command in commands)
    for service in ("edge", "workers", "sink"):
        assert any(f"chargebus_services.{service}" in command for command in commands)

    assert system.cli("tokens", "add", "KEEP-ME").returncode == 0
    boot_and_meter(system, "KEEPER")
    query = "SELECT station, value FROM meter_samples WHERE station = 'KEEPER'"
    assert wait_for_rows(system, query, [{"station": "KEEPER", "value": 42}]) == [
        {"station": "KEEPER", "value": 42}]

    assert system.stop(signal.SIGINT) == 0
    assert [pid for pid in children if alive(pid)] == []

    again = start_system(tmp_path, nats_port=int(system.nats_url.rsplit(":", 1)[1]))
    try:
        tokens = again.cli("tokens", "list")
        assert '"id_token":"KEEP-ME"' in tokens.stdout
        assert wait_for_rows(again, query, [{"station": "KEEPER", "value": 42}]) == [
            {"station": "KEEPER", "value": 42}]
    finally:
        assert again.stop(signal.SIGTERM) == 0


def test_children_die_with_a_killed_supervisor(tmp_path):
    system = start_system(tmp_path)
    children = system.children()
    assert len(children) >= 4
    system.process.kill()
    system.process.wait()
    deadline = time.monotonic() + 20
    while [pid for pid in children if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in children if alive(pid)] == []


def test_cli_explains_a_missing_nats(tmp_path):
    import subprocess

    from conftest import CHARGEBUS, free_port

    result = subprocess.run([CHARGEBUS, "--nats-url", f"nats://127.0.0.1:{free_port()}",
                             "tokens", "add", "X"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "cannot reach NATS" in result.stderr and "chargebus run" in result.stderr
