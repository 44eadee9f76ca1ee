"""`chargebus run` as an operator uses it: start, stop with Ctrl-C, start again."""
import asyncio
import signal
import time

import orjson
import pytest
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
                await socket.send(orjson.dumps(frame).decode())
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


@pytest.mark.system
def test_ctrl_c_stops_everything_and_a_restart_keeps_the_data(tmp_path):
    system = start_system(tmp_path)
    assert "Stations connect to ws://127.0.0.1:" in system.banner
    children = system.children()
    commands = {(open(f"/proc/{pid}/cmdline").read().replace("\0", " ")) for pid in children}
    assert any("nats-server" in command for command in commands)
    for service in ("edge", "workers", "sink", "files", "api"):
        assert any(f"chargebus.services.{service}" in command for command in commands)

    assert system.cli("tokens", "add", "KEEP-ME").returncode == 0
    boot_and_meter(system, "KEEPER")
    query = "SELECT station, value FROM meter_samples WHERE station = 'KEEPER'"
    assert wait_for_rows(system, query, [{"station": "KEEPER", "value": 42}]) == [
        {"station": "KEEPER", "value": 42}]

    seeds = {path: path.read_bytes() for path in (tmp_path / "credentials").rglob("*.nk")}
    assert len(seeds) == 7  # operator, workers, sink, files, api, edge-1, data-transfer
    assert system.stop(signal.SIGINT) == 0
    assert [pid for pid in children if alive(pid)] == []

    again = start_system(tmp_path, nats_port=int(system.nats_url.rsplit(":", 1)[1]))
    try:
        # The same identities: a production-like folder of seeds is not rewritten.
        assert {path: path.read_bytes()
                for path in (tmp_path / "credentials").rglob("*.nk")} == seeds
        tokens = again.cli("tokens", "list")
        assert '"id_token":"KEEP-ME"' in tokens.stdout
        assert wait_for_rows(again, query, [{"station": "KEEPER", "value": 42}]) == [
            {"station": "KEEPER", "value": 42}]
    finally:
        assert again.stop(signal.SIGTERM) == 0


@pytest.mark.system
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


@pytest.mark.system
def test_a_second_system_on_taken_ports_refuses_before_starting_anything(tmp_path):
    """A second `chargebus run` on the first one's NATS port once found that nats-server,
    and its edge marked the first system's stations offline."""
    import subprocess

    from conftest import CHARGEBUS, free_port

    first = start_system(tmp_path / "first")
    try:
        station_id = "FIRST-1"
        boot_and_meter(first, station_id)
        nats_port = first.nats_url.rsplit(":", 1)[1]
        for taken, arguments in (
                (f"NATS's port 127.0.0.1:{nats_port} is taken",
                 ["--nats-url", first.nats_url, "run", "--edge-port", str(free_port())]),
                (f"the edge's port 127.0.0.1:{first.edge_port} is taken",
                 ["--nats-url", f"nats://127.0.0.1:{free_port()}", "run",
                  "--edge-port", str(first.edge_port)]),
                (f"the edge's metrics's port 127.0.0.1:{first.metrics_port} is taken",
                 ["--nats-url", f"nats://127.0.0.1:{free_port()}", "run",
                  "--edge-port", str(free_port()), "--metrics-port", str(first.metrics_port)])):
            second = subprocess.run(
                [CHARGEBUS, *arguments, "--data-dir", str(tmp_path / "second")],
                capture_output=True, text=True, timeout=60)
            assert second.returncode == 1
            assert taken in second.stderr, second.stderr
            assert "Traceback" not in second.stderr
            assert not (tmp_path / "second" / "nats").exists()  # nothing was started
        shown = orjson.loads(first.cli("stations", "show", station_id).stdout)
        assert shown["boot"]["vendor"] == "V"
    finally:
        assert first.stop() == 0


@pytest.mark.system
def test_tls_banner_log_level_and_timestamped_supervisor_lines(tmp_path):
    import os
    import re

    from certificates import Authority

    authority = Authority(tmp_path, "ca")
    server = authority.issue("127.0.0.1", server=True)
    system = start_system(tmp_path / "data", environment={
        "CHARGEBUS_EDGE_SECURITY_PROFILE": "2", "CHARGEBUS_UNKNOWN_STATIONS": "accept",
        "CHARGEBUS_EDGE_TLS_CERTIFICATE": str(server.certificate),
        "CHARGEBUS_EDGE_TLS_KEY": str(server.key)}, arguments=("--log-level", "debug"))
    try:
        assert f"Stations connect to wss://127.0.0.1:{system.edge_port}/ocpp/<stationId>" in (
            system.banner)
        workers = next(pid for pid in system.children()
                       if "chargebus.services.workers" in open(f"/proc/{pid}/cmdline").read())
        os.kill(workers, signal.SIGKILL)
        stamped = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} run ERROR ")

        def restarted() -> list[str]:
            return [line for line in system.output if "workers exited" in line]

        deadline = time.monotonic() + 30
        while not restarted() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert restarted() and all(stamped.match(line) for line in restarted()), restarted()
        assert any(" DEBUG " in line for line in system.output)
    finally:
        assert system.stop() == 0
