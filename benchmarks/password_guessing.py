"""Password guessing against a profile-1 edge: how it slows the honest stations, and
whether an unknown id takes the time a wrong password does.

    .venv/bin/python benchmarks/password_guessing.py [--seconds 30] [--rounds 6]
        [--guessers 256] [--no-address-limit]

Runs `chargebus run` (embedded, security profile 1, unknown stations rejected) on free
ports in a temporary folder. 100 honest stations connect from this process with picows
and send a Heartbeat (answered by the edge itself) every 0.5 s each, for --seconds
without guessers (the baseline) and --seconds with them, in --rounds alternations, so
that both phases see the same load of whatever else this machine runs. The guessers
are a second process, stopped (SIGSTOP) during the baseline: each connects, sends a
wrong password, reads the answer and goes again. Half of them (--spraying) spray a new
unknown id at each guess, which costs the edge a scrypt check every time; the others
target 16 ids (8 registered, 8 not). Prints the heartbeats' p50 and p99 in both phases,
the ratio of the p99s, the edge's CPU time, what the guessers were answered and the
edge's counts. --no-address-limit lifts the per-address limit (its late answers), to
see the checks asked of the workers (which hash in processes of their own) alone keep
the loop free.

Then it starts a second edge on the same NATS with the failure limits lifted and times
upgrade answers, one at a time: an unknown id against a registered id's wrong password.

All on 127.0.0.1; both sides share this machine's cores.
"""
import argparse
import asyncio
import base64
import functools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from picows import WSListener, WSMsgType, ws_connect

from chargebus.bus.client import connect_url, identity_options
from chargebus.bus.topology import ensure_topology
from chargebus.security import credentials
from chargebus.security.passwords import hash_password
from chargebus.state.records import StationAccess, StationAdmission
from chargebus.state.stores import Stores
from processes import cpu_seconds, free_port

PASSWORD = "honest-password-0123456789"
HONEST = 100
HEARTBEAT_SECONDS = 0.5
TARGETS_KNOWN, TARGETS_UNKNOWN = 8, 8
TIMING_SAMPLES = 300
SWITCH_SECONDS = 0.5  # after each switch of phase, heartbeats are not kept
UNLIMITED = str(10**9)


def honest_name(index: int) -> str:
    return f"HONEST-{index:03d}"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class HeartbeatingStation(WSListener):
    """Sends a Heartbeat when told and keeps its round trip in the phase it was sent in."""

    def __init__(self, phases: "Phases"):
        self._phases = phases
        self._sent_at = 0.0
        self._sent_in: str | None = None
        self._count = 0
        self.transport = None

    def on_ws_connected(self, transport) -> None:
        self.transport = transport

    def send(self) -> None:
        self._count += 1
        self._sent_in = self._phases.current
        self._sent_at = time.perf_counter()
        self.transport.send(WSMsgType.TEXT, f'[2,"hb-{self._count}","Heartbeat",{{}}]'.encode())

    def on_ws_frame(self, transport, frame) -> None:
        if frame.msg_type is WSMsgType.TEXT and self._sent_in is not None:
            self._phases.round_trips[self._sent_in].append(time.perf_counter() - self._sent_at)


async def register(nats_url: str, data_dir: str) -> None:
    nc = await connect_url(
        nats_url, **identity_options(credentials.operator_seed(Path(data_dir))))
    try:
        js = nc.jetstream()
        await ensure_topology(js)
        stores, hashed = Stores(js), hash_password(PASSWORD)
        for name in [honest_name(i) for i in range(HONEST)] + [
                f"TARGET-{i}" for i in range(TARGETS_KNOWN)]:
            await stores.access.put(StationAccess(station_id=name, password_hash=hashed), name)
            await stores.admission.put(StationAdmission(station_id=name), name)
    finally:
        await nc.close()


async def upgrade(port: int, station_id: str, password: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"GET /ocpp/{station_id} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n"
            f"Authorization: {basic(station_id, password)}\r\n\r\n".encode())
        answer = await reader.readuntil(b"\r\n")
        return int(answer.split(b" ", 2)[1])
    finally:
        writer.close()


async def guessers(port: int, count: int, spraying: float) -> dict:
    """The guessing process: `count` guessers until SIGTERM; what they were answered."""
    statuses: dict[str, int] = {}
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    targets = [f"TARGET-{i}" for i in range(TARGETS_KNOWN)] + [
        f"GHOST-{i}" for i in range(TARGETS_UNKNOWN)]

    async def guesser(index: int) -> None:
        attempt = 0
        while not stopping.is_set():
            attempt += 1
            target = (f"SPRAY-{index}-{attempt}" if index < spraying * count
                      else targets[index % len(targets)])
            try:
                status = str(await asyncio.wait_for(
                    upgrade(port, target, f"guess-{index}-{attempt}-0123456789"), 60))
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as error:
                status = type(error).__name__
            statuses[status] = statuses.get(status, 0) + 1

    running = [asyncio.create_task(guesser(i)) for i in range(count)]
    await stopping.wait()
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    statuses["guessers' CPU s"] = round(time.process_time(), 1)
    return statuses


class Phases:
    """Which phase a heartbeat was sent in; None while switching (not kept)."""

    def __init__(self):
        self.current: str | None = None
        self.round_trips: dict[str, list[float]] = {"baseline": [], "guessing": []}
        self.cpu: dict[str, dict[str, float]] = {
            phase: {"event loop": 0.0, "workers": 0.0, "hashers": 0.0}
            for phase in self.round_trips}


async def heartbeats(port: int, seconds: float, rounds: int, guessing: subprocess.Popen,
                     cpu) -> Phases:
    phases = Phases()
    stations = []
    for index in range(HONEST):
        name = honest_name(index)
        _, station = await ws_connect(
            lambda: HeartbeatingStation(phases), f"ws://127.0.0.1:{port}/ocpp/{name}",
            extra_headers={"Sec-WebSocket-Protocol": "ocpp1.6",
                           "Authorization": basic(name, PASSWORD)})
        stations.append(station)
    finished = False

    async def beat(station: HeartbeatingStation) -> None:
        await asyncio.sleep(random.uniform(0, HEARTBEAT_SECONDS))
        while not finished:
            station.send()
            await asyncio.sleep(HEARTBEAT_SECONDS)

    beating = [asyncio.create_task(beat(station)) for station in stations]
    await asyncio.sleep(2)  # warm up
    segment = seconds / rounds
    for _ in range(rounds):
        for phase in ("baseline", "guessing"):
            guessing.send_signal(signal.SIGCONT if phase == "guessing" else signal.SIGSTOP)
            phases.current = None
            await asyncio.sleep(SWITCH_SECONDS)
            before = cpu()
            phases.current = phase
            await asyncio.sleep(segment)
            for name, used in cpu().items():
                phases.cpu[phase][name] += used - before[name]
    phases.current = None
    finished = True
    await asyncio.gather(*beating)
    for station in stations:
        station.transport.disconnect()
    return phases


async def time_answers(port: int) -> dict[str, list[float]]:
    """One upgrade at a time, alternating: an unknown id, a registered id's wrong password."""
    times: dict[str, list[float]] = {"unknown id": [], "wrong password": []}
    statuses = set()
    for sample in range(TIMING_SAMPLES):
        for case, station_id in (("unknown id", f"NOBODY-{sample}"),
                                 ("wrong password", "TARGET-0")):
            started = time.perf_counter()
            statuses.add(await upgrade(port, station_id, f"wrong-{sample}-0123456789"))
            times[case].append(time.perf_counter() - started)
    assert statuses == {401}, statuses
    return times


def children(pid: int) -> dict[int, bytes]:
    """The processes whose parent is ``pid``, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found[int(entry.name)] = (entry / "cmdline").read_bytes()
            except OSError:
                continue
    return found


def edge_cpu(root: int) -> dict[str, float]:
    """CPU seconds so far under `chargebus run` (pid ``root``): the edge's event loop
    (its main thread), the workers' (which answer the edge's password checks) and their
    password hashers (processes of their own)."""
    services = children(root).items()
    edge = next(pid for pid, command in services
                if command.endswith(b"-m\0chargebus.services.edge\0"))
    workers = next(pid for pid, command in services
                   if command.endswith(b"-m\0chargebus.services.workers\0"))
    hashers = [pid for pid, command in children(workers).items()
               if b"workers.hasher" in command]
    return {"event loop": cpu_seconds(edge, edge), "workers": cpu_seconds(workers, workers),
            "hashers": sum(cpu_seconds(pid) for pid in hashers)}


def edge_counts(metrics_port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as page:
        lines = page.read().decode().splitlines()
    wanted = ("chargebus_edge_refused_total", "chargebus_edge_password_checks_total",
              "chargebus_edge_auth_lockouts_total", "chargebus_edge_auth_held_total")
    return {name: float(value) for name, value in (line.rsplit(" ", 1) for line in lines
                                                    if line.startswith(wanted))}


def start_process(command: list[str], environment: dict, ready: str) -> subprocess.Popen:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"} | environment)
    for line in process.stdout:
        if ready in line:
            # Keep reading its output, so that it never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
            return process
    raise SystemExit(f"{command[0]} did not start")


def stop(process: subprocess.Popen, signal_number: int) -> None:
    process.send_signal(signal_number)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def report(phases: Phases, statuses: dict, counts: dict,
           answer_times: dict[str, list[float]]) -> None:
    p99 = {}
    for phase, times in phases.round_trips.items():
        p99[phase] = percentile(times, 0.99)
        cpu = ", ".join(f"{name} {used:.1f}" for name, used in phases.cpu[phase].items())
        print(f"heartbeats {phase:>9}: {len(times)} answered, p50 "
              f"{percentile(times, 0.5) * 1000:.2f} ms, p99 {p99[phase] * 1000:.2f} ms; "
              f"CPU s: {cpu}")
    print(f"p99 under guessing / baseline: {p99['guessing'] / p99['baseline']:.2f}")
    print(f"guesses answered: {', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))}")
    for name, value in sorted(counts.items()):
        print(f"  {name} {value:g}")
    for case, times in answer_times.items():
        print(f"answer to {case:>14}: median {statistics.median(times) * 1000:.2f} ms, "
              f"p90 {percentile(times, 0.9) * 1000:.2f} ms ({len(times)} samples)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="of each phase, in all")
    parser.add_argument("--rounds", type=int, default=6, help="alternations of the phases")
    parser.add_argument("--guessers", type=int, default=256)
    parser.add_argument("--spraying", type=float, default=0.5,
                        help="the share of guessers that spray new unknown ids")
    parser.add_argument("--no-address-limit", action="store_true")
    parser.add_argument("--guess-at", type=int, help=argparse.SUPPRESS)  # the guessing process
    arguments = parser.parse_args()
    if not 1 <= arguments.guessers <= 1024:
        parser.error("--guessers must be from 1 to 1024")
    if not 0 <= arguments.spraying <= 1:
        parser.error("--spraying must be from 0 to 1")
    if arguments.rounds < 1 or arguments.seconds / arguments.rounds < 1:
        parser.error("--rounds must be at least 1, and each phase at least 1 s a round")
    if arguments.guess_at:
        print(json.dumps(asyncio.run(guessers(arguments.guess_at, arguments.guessers,
                                              arguments.spraying))))
        return 0

    edge_port, metrics_port = free_port(), free_port()
    nats_url = f"nats://127.0.0.1:{free_port()}"
    profile = {"CHARGEBUS_EDGE_SECURITY_PROFILE": "1", "CHARGEBUS_UNKNOWN_STATIONS": "reject",
               "CHARGEBUS_LOG_LEVEL": "ERROR"}
    if arguments.no_address_limit:
        profile["CHARGEBUS_EDGE_AUTH_ADDRESS_FREE_FAILURES"] = UNLIMITED
    with tempfile.TemporaryDirectory() as folder:
        system = start_process(
            [str(Path(sys.executable).parent / "chargebus"), "--nats-url", nats_url, "run",
             "--edge-port", str(edge_port), "--metrics-port", str(metrics_port),
             "--data-dir", folder], profile, "Ctrl-C stops everything")
        guessing: list[subprocess.Popen] = []
        try:
            asyncio.run(register(nats_url, folder))
            time.sleep(2)  # the edge's mirror of the access bucket catches up

            guessing.append(subprocess.Popen(
                [sys.executable, __file__, "--guess-at", str(edge_port),
                 "--guessers", str(arguments.guessers), "--spraying", str(arguments.spraying)],
                stdout=subprocess.PIPE, text=True))
            guessing[0].send_signal(signal.SIGSTOP)  # until the first guessing phase
            phases = asyncio.run(heartbeats(
                edge_port, arguments.seconds, arguments.rounds, guessing[0],
                functools.partial(edge_cpu, system.pid)))
            guessing[0].send_signal(signal.SIGCONT)
            guessing[0].send_signal(signal.SIGTERM)
            output, _ = guessing[0].communicate(timeout=120)
            statuses = json.loads(output)
            counts = edge_counts(metrics_port)

            timing_port = free_port()
            timing_edge = start_process(
                [sys.executable, "-m", "chargebus.services.edge"],
                profile | {"CHARGEBUS_NATS_URL": nats_url, "CHARGEBUS_EDGE_PORT": str(timing_port),
                           "CHARGEBUS_EDGE_NODE_ID": "edge-timing", "CHARGEBUS_LOG_LEVEL": "INFO",
                           "CHARGEBUS_EDGE_METRICS_PORT": "0",
                           "CHARGEBUS_EDGE_AUTH_FREE_FAILURES": UNLIMITED,
                           "CHARGEBUS_EDGE_AUTH_LOCKOUT_FAILURES": UNLIMITED,
                           "CHARGEBUS_EDGE_AUTH_ADDRESS_FREE_FAILURES": UNLIMITED},
                "edge is ready")
            try:
                answer_times = asyncio.run(time_answers(timing_port))
            finally:
                stop(timing_edge, signal.SIGTERM)
            report(phases, statuses, counts, answer_times)
            return 0
        finally:
            for process in guessing:
                if process.poll() is None:
                    process.kill()
            stop(system, signal.SIGINT)


if __name__ == "__main__":
    sys.exit(main())
