"""Fixtures that run chargebus for real: `chargebus run` as a subprocess with its own
nats-server and chdb on free ports, in a temporary data folder."""
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
import websockets
from prometheus_client.parser import text_string_to_metric_families

from chargebus.bus import queryreplies
from chargebus.bus.client import connect_url, identity_options
from chargebus.security import credentials
from chargebus.security.credentials import Identity
from chargebus.security.permissions import Role
from chargebus.state.stores import Stores, transaction_key

START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
CHARGEBUS = str(Path(sys.executable).parent / "chargebus")

# markers: the unit, system and clickhouse markers and their guard; pytester: for
# test__markers.py, which runs the guard on tests of its own.
pytest_plugins = ["markers", "pytester"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningSystem:
    process: subprocess.Popen
    nats_url: str
    edge_port: int
    metrics_port: int
    data_dir: Path
    banner: str
    output: list[str]  # every line it printed, the banner's and those after
    files_port: int
    ftp_port: int
    api_port: int

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/api/v1"

    def station_url(self, station_id: str) -> str:
        return f"ws://127.0.0.1:{self.edge_port}/ocpp/{station_id}"

    def seed(self, role: Role, node_id: str | None = None) -> Path:
        """The seed file of one of the system's NATS identities."""
        return Identity(role, node_id).seed_file(credentials.folder_of(self.data_dir))

    def identity(self, role: Role = Role.OPERATOR) -> dict:
        """nats-py's connect options to sign in as one of the system's identities."""
        return identity_options(self.seed(role))

    async def connect(self, role: Role = Role.OPERATOR, **options):
        """A connection to the system's NATS under one of its identities (the operator's
        unless told)."""
        return await connect_url(self.nats_url, **self.identity(role) | options)

    def cli(self, *arguments: str, input: str | None = None,
            environment: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """The command line, which finds the operator's identity in the data folder."""
        return subprocess.run([CHARGEBUS, "--nats-url", self.nats_url,
                               "--data-dir", str(self.data_dir), *arguments],
                              capture_output=True, text=True, timeout=60, input=input,
                              env=os.environ | self.files_environment() | (environment or {}))

    def files_environment(self) -> dict[str, str]:
        """Where its file service is, for a command that hands out its URLs."""
        return {"CHARGEBUS_FILES_HTTP_PORT": str(self.files_port),
                "CHARGEBUS_FILES_FTP_PORT": str(self.ftp_port)}

    def children(self) -> list[int]:
        return descendants(self.process.pid)

    def stop(self, signal_number: int = signal.SIGINT) -> int:
        self.process.send_signal(signal_number)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def start_system(data_dir: Path, nats_port: int | None = None,
                 edge_port: int | None = None, environment: dict | None = None,
                 arguments: tuple[str, ...] = ()) -> RunningSystem:
    nats_url = f"nats://127.0.0.1:{nats_port or free_port()}"
    edge_port = edge_port or free_port()
    metrics_port, files_port, ftp_port, api_port = (free_port(), free_port(), free_port(),
                                                     free_port())
    process = subprocess.Popen(
        [CHARGEBUS, "--nats-url", nats_url, "run", "--edge-port", str(edge_port),
         "--metrics-port", str(metrics_port), "--files-port", str(files_port),
         "--ftp-port", str(ftp_port), "--api-port", str(api_port), "--data-dir", str(data_dir),
         *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"} | (environment or {}),
    )
    lines = []
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("  Ctrl-C stops everything"):
            _drain_in_background(process, lines)
            return RunningSystem(process, nats_url, edge_port, metrics_port, data_dir,
                                 "".join(lines), lines, files_port, ftp_port, api_port)
    process.kill()
    pytest.fail("chargebus run did not come up:\n" + "".join(lines))


@dataclass
class RunningEdge:
    process: subprocess.Popen
    node_id: str
    port: int
    metrics_port: int
    scheme: str

    def station_url(self, station_id: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/ocpp/{station_id}"

    def metrics(self) -> dict[tuple[str, tuple], float]:
        """The edge's Prometheus samples: (name, sorted labels) -> value."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                    timeout=10) as response:
            text = response.read().decode()
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(text) for sample in family.samples}

    def stop(self, signal_number: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal_number)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        finally:
            if self.process.poll() is None:
                self.process.kill()


@contextlib.contextmanager
def extra_edge(nats: "RunningSystem | str", node_id: str, environment: dict | None = None):
    """One more edge process, on a port of its own: on a running system under an
    identity of its own (chargebus credentials add-edge), or on a bare nats-server's URL
    without one."""
    port, metrics_port = free_port(), free_port()
    environment = environment or {}
    scheme = "wss" if int(environment.get("CHARGEBUS_EDGE_SECURITY_PROFILE", 0)) >= 2 else "ws"
    if isinstance(nats, RunningSystem):
        added = nats.cli("credentials", "add-edge", node_id)
        assert added.returncode == 0, added.stderr
        environment = {"CHARGEBUS_NATS_CREDENTIALS": added.stdout.strip()} | environment
    with service_process("edge", nats, {
            "CHARGEBUS_EDGE_PORT": str(port), "CHARGEBUS_EDGE_NODE_ID": node_id,
            "CHARGEBUS_EDGE_METRICS_PORT": str(metrics_port)} | environment) as process:
        edge = RunningEdge(process, node_id, port, metrics_port, scheme)
        try:
            yield edge
        finally:
            edge.stop()


@contextlib.contextmanager
def service_process(service: str, nats: "RunningSystem | str", environment: dict):
    """``python -m chargebus.services.<service>`` once it is ready, killed afterwards if
    still running: on a running system under the service's identity (an edge's comes in
    ``environment``, see extra_edge), or on a bare nats-server's URL without one."""
    if isinstance(nats, RunningSystem):
        if service != "edge":
            seed = nats.seed(Role(service))
            environment = {"CHARGEBUS_NATS_CREDENTIALS": str(seed)} | environment
        nats = nats.nats_url
    process = subprocess.Popen(
        [sys.executable, "-m", f"chargebus.services.{service}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1", "CHARGEBUS_NATS_URL": nats} | environment)
    lines = []
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if f"{service} is ready" in line:
                _drain_in_background(process)
                yield process
                return
        pytest.fail(f"the {service} process did not come up:\n" + "".join(lines))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _drain_in_background(process: subprocess.Popen, lines: list[str] | None = None) -> None:
    """Keep reading the system's output so that it never blocks on a full pipe; the
    output goes to this process's stderr, where pytest shows it for failed tests, and
    to ``lines`` where given."""
    import threading

    def pump() -> None:
        for line in process.stdout:
            sys.stderr.write(line)
            if lines is not None:
                lines.append(line)

    threading.Thread(target=pump, daemon=True).start()


def descendants(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            children.append(int(entry.name))
    return children + [grandchild for child in children for grandchild in descendants(child)]


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="session")
def system(tmp_path_factory) -> RunningSystem:
    running = start_system(tmp_path_factory.mktemp("chargebus"))
    yield running
    assert running.stop() == 0


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def bus(system):
    nc = await system.connect()
    yield nc
    await nc.close()


@pytest.fixture
def stores(bus) -> Stores:
    return Stores(bus.jetstream())


async def sql(nc, query: str) -> list[dict]:
    """The query's rows; QueryFailed where the sink answered with an error."""
    return await queryreplies.rows_of(nc, query, timeout=30)


async def eventually(probe, timeout: float = 15.0, interval: float = 0.2):
    """The first truthy result of ``probe()`` within ``timeout`` seconds, or the last one."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await probe()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(interval)


async def ended(stores, station_id: str, transaction_id: str):
    """The transaction once the transactions consumer has applied its end."""
    record = await stores.transactions.get(*transaction_key(station_id, transaction_id))
    return record if record is not None and not record.active else None


async def started_and_ended(stores, station_id: str, transaction_id: str):
    """The transaction once both its start and its end are applied: each action has a
    consumer of its own, so the end may be applied before the start (the record comes
    out the same either way, chargebus.domain.sessions)."""
    record = await ended(stores, station_id, transaction_id)
    return record if record is not None and record.started_at is not None else None


async def rows_when(nc, query: str, count: int) -> list[dict] | None:
    """The query's rows once there are at least ``count`` of them."""
    rows = await sql(nc, query)
    return rows if len(rows) >= count else None


@contextlib.asynccontextmanager
async def ocpp_station(system, station_id: str, charge_point_class, subprotocols: list[str],
                       expected_subprotocol: str):
    """An `ocpp` package ChargePoint connected to the edge, listening for calls."""
    async with websockets.connect(system.station_url(station_id),
                                  subprotocols=subprotocols) as socket:
        assert socket.subprotocol == expected_subprotocol
        charge_point = charge_point_class(station_id, socket)
        listening = asyncio.create_task(charge_point.start())
        try:
            yield charge_point
        finally:
            listening.cancel()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def operator_key(system) -> str:
    """An API key of scope operate on the shared system, for the API's tests."""
    from api_client import make_key
    return await make_key(system, "operate")
