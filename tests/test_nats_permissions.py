"""NATS with authentication and per-service authorization (chargebus.security.permissions): an
anonymous client is refused; each service's identity does its job and nothing else (an
edge reads no tokens, subscribes to no other subject than its own, commands no station,
not even its own; the sink commands none either; the workers read no other inbox); the
command line finds the operator's identity; seeds are private; TLS to NATS."""
import asyncio
import contextlib
import os
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nats
import orjson
import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from accepting_station import AcceptingStation
from certificates import Authority
from conftest import CHARGEBUS, eventually, free_port, service_process
from chargebus.bus import subjects
from chargebus.bus.client import connect_url, identity_options, refused_identity
from chargebus.operations.commands import Outcome, call_station
from chargebus.runtime.natsserver import nats_server_command
from chargebus.security import credentials
from chargebus.security.permissions import Role
from chargebus.security.seeds import public_key

# Buckets an edge has no business reading: `access` holds the stations' password hashes,
# which only the workers check (the edge reads the non-secret `admission`).
FOREIGN_BUCKETS = (subjects.ACCESS_BUCKET, subjects.TOKENS_BUCKET, subjects.TRANSACTIONS_BUCKET,
                   subjects.STATIONS_BUCKET, subjects.LOCAL_LISTS_BUCKET,
                   subjects.CERTIFICATES_BUCKET)


class Refusals:
    """What nats-server refused a connection, as nats-py reports it to error_cb (in
    lower case)."""

    def __init__(self):
        self.seen: list[str] = []

    async def take(self, error: Exception) -> None:
        self.seen.append(str(error))

    def of(self, what: str) -> list[str]:
        return [line for line in self.seen
                if "permissions violation" in line and what.lower() in line]

    async def counted(self, what: str, count: int) -> bool:
        """Whether ``count`` refusals of ``what`` came, within a few seconds."""
        async def enough() -> bool:
            return len(self.of(what)) >= count
        return await eventually(enough, 5)


class Received:
    """A subscription's callback that keeps the subjects of what it got."""

    def __init__(self):
        self.subjects: list[str] = []

    async def take(self, msg) -> None:
        self.subjects.append(msg.subject)


@contextlib.asynccontextmanager
async def signed_in(system, role: Role, node_id: str | None = None):
    refusals = Refusals()
    nc = await connect_url(
        system.nats_url, error_cb=refusals.take,
        **identity_options(system.seed(role, node_id)))
    try:
        yield nc, refusals
    finally:
        await nc.close()


async def online(stores, station_id: str) -> bool:
    record = await stores.presence.get(station_id)
    return bool(record and record.online)


def server_log(system) -> str:
    """What nats-server logged, its permission violations among it."""
    return (system.data_dir / "nats-server.log").read_text()


async def test_an_anonymous_client_is_refused(system):
    with pytest.raises(Exception) as refused:
        await nats.connect(system.nats_url, allow_reconnect=False, connect_timeout=3,
                           max_reconnect_attempts=0)
    assert refused_identity(refused.value), refused.value


@pytest.mark.parametrize("service", ["workers", "edge"])
async def test_a_service_without_an_identity_exits_in_one_line(system, service):
    """nats-py would try a refused first connection for ever: the service must say so."""
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", f"chargebus.services.{service}"],
        env={name: value for name, value in os.environ.items()
             if name != "CHARGEBUS_NATS_CREDENTIALS"} | {
            "CHARGEBUS_NATS_URL": system.nats_url, "CHARGEBUS_EDGE_PORT": str(free_port()),
            "CHARGEBUS_EDGE_METRICS_PORT": "0"},
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{service}: NATS at {system.nats_url} refused this process's "
                           "identity none (CHARGEBUS_NATS_CREDENTIALS is not set)"), done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("bucket", FOREIGN_BUCKETS)
async def test_an_edge_reads_and_writes_no_foreign_bucket(system, bus, bucket):
    key = f"SECRET-{uuid.uuid4().hex[:8]}"
    operator_kv = await bus.jetstream().key_value(bucket)
    await operator_kv.put(key, b"{}")
    try:
        await _edge_is_refused(system, bucket, key)
        assert (await operator_kv.get(key)).value == b"{}"
    finally:
        await operator_kv.delete(key)  # not a record: `tokens list` would trip on it
    edge_key = public_key(system.seed(Role.EDGE, "edge-1"))
    assert [line for line in server_log(system).splitlines()
            if f"nkey:{edge_key}\" - Publish Violation" in line and f"$KV.{bucket}.{key}" in line]


async def test_the_sink_reads_no_password_hash(system, bus):
    key = f"SECRET-{uuid.uuid4().hex[:8]}"
    operator_kv = await bus.jetstream().key_value(subjects.ACCESS_BUCKET)
    await operator_kv.put(key, b"{}")
    try:
        await _is_refused(system, subjects.ACCESS_BUCKET, key, Role.SINK)
    finally:
        await operator_kv.delete(key)


async def _edge_is_refused(system, bucket: str, key: str) -> None:
    await _is_refused(system, bucket, key, Role.EDGE, "edge-1")


async def _is_refused(system, bucket: str, key: str, role: Role,
                      node_id: str | None = None) -> None:
    async with signed_in(system, role, node_id) as (nc, refusals):
        kv = await nc.jetstream(timeout=1).key_value(bucket)
        with pytest.raises(NatsTimeout):
            await kv.get(key)
        with pytest.raises(NatsTimeout):
            await kv.put(key, b"overwritten")
        stream = subjects.kv_stream(bucket)
        # nats-py gets a key directly or through the stream's leader, as the bucket says.
        assert refusals.of(f"GET.{stream}\""), refusals.seen
        assert refusals.of(f"Publish to \"$KV.{bucket}.{key}\""), refusals.seen


async def test_an_edge_subscribes_to_nothing_but_its_own(system, bus):
    async with signed_in(system, Role.EDGE, "edge-1") as (nc, refusals):
        got = Received()
        for subject in (subjects.everything(), subjects.edge_commands("edge-2"),
                        subjects.all_worker_requests()):
            await nc.subscribe(subject, cb=got.take)
        await nc.flush()
        assert await refusals.counted("Subscription to", 3), refusals.seen
        await bus.publish(subjects.station_command("edge-2", "SPIED"), b"{}")
        await bus.publish(subjects.worker_request("NoSuchAction"), b"{}")
        await bus.flush()
        await nc.flush()
        assert got.subjects == []


@pytest.mark.parametrize("role", [Role.EDGE, Role.SINK])
async def test_a_raw_reset_from_an_edge_or_the_sink_never_reaches_a_station(
        system, bus, stores, role):
    """The finding: a Reset published on a station's command subject reached it. Only the
    workers and the operator may command a station."""
    station_id = f"RAW-{uuid.uuid4().hex[:8]}"
    async with AcceptingStation(system.station_url(station_id)) as station:
        assert await eventually(lambda: online(stores, station_id))
        node_id = "edge-1" if role is Role.EDGE else None
        async with signed_in(system, role, node_id) as (nc, refusals):
            for edge in ("edge-1", "edge-2"):
                with pytest.raises(NatsTimeout):
                    await nc.request(subjects.station_command(edge, station_id),
                                     orjson.dumps({"action": "Reset",
                                                   "payload": {"type": "Hard"}}), timeout=1)
            assert await refusals.counted('Publish to "cb.cmd.', 2), refusals.seen
        assert station.calls == []
        # The same station takes a call from the operator: the attack was seen, and refused.
        reply = await call_station(bus, station_id, "Reset", {"type": "Soft"}, timeout=10)
        assert reply.outcome is Outcome.RESULT
        assert [call[2] for call in station.calls] == ["Reset"]


async def test_the_workers_command_stations_but_read_no_other_inbox(system, bus, stores):
    station_id = f"WRK-{uuid.uuid4().hex[:8]}"
    async with AcceptingStation(system.station_url(station_id)) as station:
        assert await eventually(lambda: online(stores, station_id))
        async with signed_in(system, Role.WORKERS) as (nc, refusals):
            reply = await call_station(nc, station_id, "Reset", {"type": "Soft"}, timeout=10)
            assert reply.outcome is Outcome.RESULT
            assert [call[2] for call in station.calls] == ["Reset"]

            operator_inbox = subjects.inbox_prefix(public_key(system.seed(Role.OPERATOR)))
            spied = Received()
            for subject in ("_INBOX.>", subjects.inboxes(operator_inbox)):
                await nc.subscribe(subject, cb=spied.take)
            await nc.flush()
            assert await refusals.counted("Subscription to", 2), refusals.seen
            assert (await bus.request(subjects.edge_about("edge-1"), b"", timeout=5)).data
            await nc.flush()
            assert spied.subjects == []


async def test_a_service_takes_no_other_service_s_messages(system):
    """The sink may not pull from the workers' consumers (nor acknowledge their messages,
    which would lose them), and an edge from none."""
    for role, node_id in ((Role.SINK, None), (Role.EDGE, "edge-1")):
        async with signed_in(system, role, node_id) as (nc, refusals):
            inbox = nc.new_inbox()
            await nc.subscribe(inbox)
            for consumer in (subjects.STATUS_CONSUMER,
                             subjects.action_consumer(subjects.TRANSACTION_CONSUMER,
                                                      "TransactionEvent")):
                await nc.publish(subjects.consumer_next(subjects.OCPP_STREAM, consumer),
                                 b'{"batch": 1}', reply=inbox)
            await nc.publish(f"$JS.ACK.{subjects.OCPP_STREAM}.{subjects.STATUS_CONSUMER}"
                             ".1.1.1.1.0", b"")
            assert await refusals.counted('Publish to "$JS.', 3), (role, refusals.seen)


def test_the_cli_finds_the_operator_in_the_data_folder(system, tmp_path):
    token, station_id = f"OP-{uuid.uuid4().hex[:8]}", f"OPS-{uuid.uuid4().hex[:8]}"
    environment = os.environ | {"CHARGEBUS_NATS_URL": system.nats_url}
    environment.pop("CHARGEBUS_NATS_CREDENTIALS", None)

    def cli(*arguments: str, data_dir: Path = system.data_dir) -> subprocess.CompletedProcess:
        return subprocess.run([CHARGEBUS, *arguments], capture_output=True, text=True,
                              timeout=60, env=environment | {"CHARGEBUS_DATA_DIR": str(data_dir)})

    assert cli("tokens", "add", token).returncode == 0
    assert token in cli("tokens", "list").stdout
    assert cli("stations", "add", station_id, "--boot", "Pending").returncode == 0
    assert orjson.loads(cli("sql", "SELECT 1 AS one").stdout) == {"one": 1}
    call = cli("call", station_id, "Reset", '{"type": "Soft"}', "--timeout", "2")
    assert call.returncode == 1 and "Traceback" not in call.stderr  # not connected: an answer

    # A folder without the operator's seed: anonymous, refused in one line.
    refused = cli("tokens", "list", data_dir=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"NATS at {system.nats_url} refused a client without identity; set "
        "CHARGEBUS_NATS_CREDENTIALS to the operator's seed file, or --data-dir to the "
        "folder of `chargebus run`"]


def test_seeds_are_readable_by_their_owner_only(system):
    folder = credentials.folder_of(system.data_dir)
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (folder / credentials.EDGES_FOLDER).stat().st_mode & 0o777 == 0o700
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert {path.name for path in files} >= {"operator.nk", "workers.nk", "sink.nk", "edge-1.nk",
                                             credentials.AUTHORIZATION_FILE}
    assert {path.name: path.stat().st_mode & 0o777 for path in files} == {
        path.name: 0o600 for path in files}
    authorization = (folder / credentials.AUTHORIZATION_FILE).read_text()
    for path in files:
        if path.suffix == credentials.SEED_SUFFIX:
            seed = path.read_text().strip()
            assert seed.startswith("SU") and seed not in authorization
            assert public_key(path) in authorization


def test_credentials_commands_refuse_bad_input_in_one_line(tmp_path):
    def run(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run([CHARGEBUS, "credentials", *arguments], capture_output=True,
                              text=True, timeout=60)

    for done, says in (
            (run("make", "--out", str(tmp_path / "a"), "--edges", "edge-a,edge b"),
             "not a valid node id: 'edge b'"),
            (run("add-edge", "edge.x", "--data-dir", str(tmp_path)), "not a valid node id"),
            (run("add-edge", "edge-x,edge-y", "--data-dir", str(tmp_path)), "not a valid node id"),
            (run("add-edge", "edge-x", "--data-dir", str(tmp_path)), "no credentials in")):
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and says in done.stderr, done.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "credentials").exists()


def test_a_seed_file_that_is_not_there_is_named(system):
    done = subprocess.run([CHARGEBUS, "tokens", "list"], capture_output=True, text=True,
                          timeout=60, env=os.environ | {
                              "CHARGEBUS_NATS_URL": system.nats_url,
                              "CHARGEBUS_NATS_CREDENTIALS": "/nonexistent/operator.nk"})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("chargebus: CHARGEBUS_NATS_CREDENTIALS=/nonexistent/operator.nk")


@contextlib.contextmanager
def tls_nats_server(folder: Path):
    """A nats-server of production's kind: TLS, and the authorization that `chargebus
    credentials make` writes."""
    authority = Authority(folder, "nats-ca")
    server = authority.issue("nats", server=True)
    made = subprocess.run([CHARGEBUS, "credentials", "make", "--out", str(folder / "secrets"),
                           "--edges", "edge-a,edge-b", "--ca"], capture_output=True, text=True,
                          timeout=60)
    assert made.returncode == 0, made.stderr
    config = folder / "secrets" / "nats-server.conf"
    config.write_text(f'include "{credentials.AUTHORIZATION_FILE}"\n'
                      f'tls {{ cert_file: "{server.certificate}", key_file: "{server.key}" }}\n')
    port = free_port()
    process = subprocess.Popen(nats_server_command(port, folder / "store", folder / "nats.log",
                                                   config))
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            assert time.monotonic() < deadline and process.poll() is None, "no nats-server"
            time.sleep(0.05)
        yield f"tls://127.0.0.1:{port}", authority.certificate, folder / "secrets"
    finally:
        process.terminate()
        process.wait(timeout=20)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.system
def test_tls_to_nats_for_the_cli_and_a_service(tmp_path):
    with tls_nats_server(tmp_path) as (url, ca, secrets):
        tls = {"CHARGEBUS_NATS_URL": url, "CHARGEBUS_NATS_TLS_CA": str(ca)}

        def cli(*arguments: str, **extra: str) -> subprocess.CompletedProcess:
            return subprocess.run([CHARGEBUS, *arguments], capture_output=True, text=True,
                                  timeout=60, env=os.environ | tls | extra)

        operator = {"CHARGEBUS_NATS_CREDENTIALS": str(secrets / "operator.nk")}
        workers = {"CHARGEBUS_NATS_CREDENTIALS": str(secrets / "workers.nk")}
        # The workers may not make the streams and buckets; they say what to run.
        done = subprocess.run([sys.executable, "-m", "chargebus.services.workers"],
                              capture_output=True, text=True, timeout=60,
                              env=os.environ | tls | workers)
        assert done.returncode == 1
        assert done.stderr.strip().splitlines()[-1].endswith(
            "this identity may not make them; run `chargebus setup` as the operator first")

        assert cli("setup", **operator).returncode == 0
        assert cli("tokens", "add", "TLS-1", **operator).returncode == 0
        assert '"id_token":"TLS-1"' in cli("tokens", "list", **operator).stdout
        without_ca = subprocess.run([CHARGEBUS, "tokens", "list"], capture_output=True,
                                    text=True, timeout=60,
                                    env=os.environ | operator | {"CHARGEBUS_NATS_URL": url})
        assert without_ca.returncode == 1 and "cannot reach NATS" in without_ca.stderr
        with service_process("workers", url, tls | workers) as process:
            assert process.poll() is None
        assert asyncio.run(_a_ca_signs(url, ca, secrets)) == (b"signed", 1)


async def _answered(nc, subject: str, payload: bytes, seconds: float = 10.0):
    """The reply to a request, asked again while nats-server says no one listens: once
    in a full run the integration's subscription, flushed, was not yet there (seen in
    neither the runs before nor the run alone)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        try:
            return await nc.request(subject, payload, timeout=5)
        except NoRespondersError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _a_ca_signs(url: str, ca: Path, secrets: Path) -> tuple[bytes, int]:
    """A CA integration answers the operator's signing request, and may publish nothing
    else: its reply, and the number of its publishes refused."""
    tls = ssl.create_default_context(cafile=ca)
    refusals = Refusals()
    integration = await connect_url(
        url, tls=tls, error_cb=refusals.take,
        **identity_options(secrets / "ca.nk"))
    operator = await connect_url(
        url, tls=tls, **identity_options(secrets / "operator.nk"))
    try:
        async def sign(msg) -> None:
            await integration.publish(msg.reply, b"signed")
        await integration.subscribe(subjects.certificate_signing(), cb=sign)
        await integration.publish(subjects.station_command("edge-a", "CP-1"), b"{}")
        await integration.flush()
        reply = await _answered(operator, subjects.certificate_signing(), b"csr")
        await refusals.counted('Publish to "cb.cmd.', 1)
        return reply.data, len(refusals.of("Publish to"))
    finally:
        await integration.close()
        await operator.close()
