"""``chargebus run``: the whole system on one machine, as child processes.

nats-server (JetStream, bound to 127.0.0.1), one edge, one worker process, the meter
sink on chdb, the file service and the HTTP API. Each child signs in to NATS with an identity of its
own, whose seed the first start makes under <data_dir>/credentials
(chargebus.security.credentials); the supervisor, as the operator, creates the streams
and buckets before it starts the services, which may not. Children die with this
process (PR_SET_PDEATHSIG) and are stopped in order on SIGINT or SIGTERM: edge first,
so that nothing is left half-answered, NATS last. A child that dies on its own is
started again. Nothing starts while a port the system needs is taken: a second system
on one machine would otherwise find the first one's nats-server and join it.
"""
import asyncio
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from nats.aio.msg import Msg

from chargebus.bus import subjects
from chargebus.bus.client import BusClient, connect_url, identity_options
from chargebus.bus.topology import ensure_topology
from chargebus.runtime.config import Settings, variable
from chargebus.runtime.natsserver import PID_FILE, nats_server_command
from chargebus.security import credentials
from chargebus.security.authority import CaUnusable, ensure_own_ca, own_authority
from chargebus.security.credentials import Identity
from chargebus.security.permissions import Role

log = logging.getLogger("chargebus.run")

SERVICES = ("edge", "workers", "sink", "files", "api")
STOP_GRACE_SECONDS = 8.0
START_TIMEOUT_SECONDS = 60.0
RESTART_DELAY_SECONDS = 1.0

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the supervisor dies, however it dies."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    command: list[str]
    environment: dict[str, str]
    process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, env=self.environment, start_new_session=True,
            preexec_fn=_die_with_parent)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode


class EmbeddedSystem:
    def __init__(self, settings: Settings):
        self.settings = settings
        port = urlsplit(settings.nats_url).port or 4222
        data = settings.data_dir.resolve()
        environment = os.environ | settings.as_environment() | {"CHARGEBUS_DATA_DIR": str(data)}
        self._credentials = credentials.folder_of(data)
        self._operator = credentials.operator_seed(data)
        self.nats = Child("nats-server", nats_server_command(
            port, settings.nats_store_dir.resolve(), data / "nats-server.log",
            self._credentials / credentials.AUTHORIZATION_FILE, data / PID_FILE), environment)
        identities = {"edge": Identity(Role.EDGE, settings.edge_node_id),
                      "workers": Identity(Role.WORKERS), "sink": Identity(Role.SINK),
                      "files": Identity(Role.FILES), "api": Identity(Role.API)}
        self.services = [
            Child(name, [sys.executable, "-m", f"chargebus.services.{name}"], environment | {
                variable("nats_credentials"): str(identities[name].seed_file(self._credentials))})
            for name in SERVICES
        ]
        self._stopping = asyncio.Event()

    async def run(self) -> int:
        taken = self._ports_taken()
        if taken:
            print(f"chargebus cannot start: {'; '.join(taken)} (is another chargebus running?)",
                  file=sys.stderr)
            return 1
        self.settings.nats_store_dir.mkdir(parents=True, exist_ok=True)
        if self.settings.ca_mode == "internal":
            # Made once here rather than raced for by the children, and checked: workers
            # that cannot sign would exit, and be started again, over and over.
            try:
                ensure_own_ca(self.settings)
                own_authority(self.settings)
            except (OSError, CaUnusable) as error:
                print(f"chargebus cannot start: its CA: {error}", file=sys.stderr)
                return 1
        # Seeds made on the first start are kept; the authorization file is written
        # again, with any edge added since (chargebus credentials add-edge).
        # And one for an integration that answers DataTransfers beside `chargebus run`.
        credentials.make(self._credentials, [self.settings.edge_node_id], data_transfer=True)
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, self._stopping.set)
        try:
            self.nats.start()
            nc = await self._connect()
            await ensure_topology(nc.jetstream())
            ready = await self._start_services(nc)
            if not ready:
                return 1
            self._announce()
            await self._watch()
            await nc.close()
            return 0
        finally:
            self._stop_all()

    def _ports_taken(self) -> list[str]:
        s = self.settings
        needed = [("NATS", "127.0.0.1", urlsplit(s.nats_url).port or 4222),
                  ("the edge", s.edge_host, s.edge_port)]
        if s.edge_metrics_port:
            needed.append(("the edge's metrics", s.edge_metrics_host, s.edge_metrics_port))
        needed.append(("the file service", s.files_host, s.files_http_port))
        needed.append(("the API", s.api_host, s.api_port))
        if s.files_ftp_port:
            needed.append(("the file service's FTP", s.files_host, s.files_ftp_port))
        return [f"{what}'s port {host}:{port} is taken ({problem})"
                for what, host, port in needed
                if (problem := _cannot_listen(host, port)) is not None]

    async def _connect(self) -> BusClient:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                return await connect_url(
                    self.settings.nats_url, name="chargebus-run", max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5, error_cb=_not_up_yet,
                    **identity_options(self._operator))
            except Exception:
                if not self.nats.alive:
                    raise SystemExit("nats-server exited with code "
                                     f"{self.nats.returncode}; see "
                                     f"{self.settings.data_dir / 'nats-server.log'}")
                if time.monotonic() > deadline:
                    raise SystemExit(f"nats-server did not come up at {self.settings.nats_url}")
                await asyncio.sleep(0.1)

    async def _start_services(self, nc: BusClient) -> bool:
        waiting = set(SERVICES)
        all_ready = asyncio.Event()

        async def on_ready(msg: Msg) -> None:
            waiting.discard(subjects.ready_service(msg.subject))
            if not waiting:
                all_ready.set()

        subscription = await nc.subscribe(subjects.any_service_ready(), cb=on_ready)
        await nc.flush()
        for child in self.services:
            child.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not all_ready.is_set():
            if self._stopping.is_set():
                return False
            dead = [child.name for child in self.services if not child.alive]
            if dead or time.monotonic() > deadline:
                reason = (f"exited: {', '.join(dead)}" if dead
                          else f"not ready: {', '.join(waiting)}")
                print(f"chargebus could not start; {reason}", file=sys.stderr)
                return False
            await asyncio.sleep(0.1)
        await subscription.unsubscribe()
        return True

    def _announce(self) -> None:
        s = self.settings
        print(f"chargebus is running.\n"
              f"  Stations connect to {s.stations_url}<stationId>"
              f"  (subprotocols {', '.join(s.edge_subprotocols)})\n"
              f"  API: {s.api_url}  (docs {s.api_url}/docs; keys: chargebus api-keys add)\n"
              f"  Files: {s.files_url}  FTP port {s.files_ftp_port or 'off'}\n"
              f"  NATS: {s.nats_url}   data: {s.data_dir.resolve()}\n"
              f"  Ctrl-C stops everything.", flush=True)

    async def _watch(self) -> None:
        while not self._stopping.is_set():
            if not self.nats.alive:
                log.error("nats-server exited; stopping")
                return
            for child in self.services:
                if not child.alive:
                    log.error("%s exited with code %s; starting it again",
                              child.name, child.returncode)
                    await asyncio.sleep(RESTART_DELAY_SECONDS)
                    child.start()
            try:
                await asyncio.wait_for(self._stopping.wait(), 0.5)
            except TimeoutError:
                pass

    def _stop_all(self) -> None:
        _terminate([child for child in self.services if child.alive])
        _terminate([self.nats] if self.nats.alive else [])


def _cannot_listen(host: str, port: int) -> str | None:
    """Why a server could not listen on host:port now, or None if it could."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # As servers bind: a port left in TIME_WAIT by an earlier run is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            probe.listen()
    except OSError as error:
        return error.strerror or str(error)
    return None


async def _not_up_yet(error: Exception) -> None:
    """nats-py reports every refused attempt; while nats-server starts they are expected."""
    log.debug("NATS not reachable yet: %s", error)


def _terminate(children: list[Child]) -> None:
    started = [(child.name, child.process) for child in children if child.process is not None]
    for _, process in started:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for name, process in started:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0f s; killing it", name, STOP_GRACE_SECONDS)
            process.kill()
            process.wait()
