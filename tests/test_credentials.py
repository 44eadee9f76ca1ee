"""Station credentials kept from the edges: passwords checked by the workers, rotated
without a lockout (`chargebus stations password`), and the security profile kept per
station (`chargebus stations profile`), each against real stations over real sockets."""
import asyncio
import base64
import contextlib
import os
import signal
import ssl
import uuid

import pytest
import websockets
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from websockets.exceptions import InvalidStatus

from certificates import Authority
from conftest import eventually, extra_edge, start_system

pytestmark = pytest.mark.asyncio(loop_scope="session")

PASSWORD = "first-password-0123456789"
PROFILE_1 = {"CHARGEBUS_EDGE_SECURITY_PROFILE": "1", "CHARGEBUS_UNKNOWN_STATIONS": "reject"}


@pytest.fixture(scope="module")
def server_certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca = Authority(folder, "credentials-ca")
    return ca, ca.issue("edge", server=True)


def profile_2(server_certificate) -> dict:
    _, server = server_certificate
    return PROFILE_1 | {"CHARGEBUS_EDGE_SECURITY_PROFILE": "2",
                        "CHARGEBUS_EDGE_TLS_CERTIFICATE": str(server.certificate),
                        "CHARGEBUS_EDGE_TLS_KEY": str(server.key)}


def tls_of(server_certificate) -> ssl.SSLContext:
    ca, _ = server_certificate
    return ssl.create_default_context(cafile=str(ca.certificate))


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def register(system, station_id: str, password: str = PASSWORD) -> None:
    done = system.cli("stations", "add", station_id, "--password-stdin", input=f"{password}\n")
    assert done.returncode == 0, done.stderr


def basic(station_id: str, password: str) -> dict:
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def upgrade_status(url: str, station_id: str, password: str, subprotocol: str,
                         tls: ssl.SSLContext | None = None) -> int:
    """101 where the station is admitted, else the HTTP status of the refusal."""
    try:
        async with websockets.connect(url, subprotocols=[subprotocol], ssl=tls,
                                      additional_headers=basic(station_id, password)):
            return 101
    except InvalidStatus as refusal:
        return refusal.response.status_code


async def online(stores, station_id: str):
    presence = await stores.presence.get(station_id)
    return presence if presence and presence.online else None


@contextlib.asynccontextmanager
async def station(url: str, station_id: str, password: str, kind, subprotocol: str,
                  tls: ssl.SSLContext | None = None):
    """An `ocpp` ChargePoint of class ``kind``, connected with Basic auth, answering."""
    async with websockets.connect(url, subprotocols=[subprotocol], ssl=tls,
                                  additional_headers=basic(station_id, password)) as socket:
        charge_point = kind(station_id, socket)
        listening = asyncio.create_task(charge_point.start())
        try:
            yield charge_point
        finally:
            listening.cancel()


class Station201(ChargePoint201):
    """Takes what it is told (or refuses it, where ``refuses`` says so) and keeps it."""
    refuses = False

    def __init__(self, *arguments):
        super().__init__(*arguments)
        self.received: list[tuple[str, dict]] = []
        self.reset = asyncio.Event()

    @on("SetVariables")
    def on_set_variables(self, set_variable_data, **_):
        self.received.append(("SetVariables", set_variable_data[0]))
        status = "Rejected" if self.refuses else "Accepted"
        return result201.SetVariables(set_variable_result=[{
            "attribute_status": status, "component": item["component"],
            "variable": item["variable"]} for item in set_variable_data])

    @on("GetVariables")
    def on_get_variables(self, get_variable_data, **_):
        self.received.append(("GetVariables", get_variable_data[0]))
        return result201.GetVariables(get_variable_result=[{
            "attribute_status": "Accepted", "attribute_value": "0",
            "component": item["component"], "variable": item["variable"]}
            for item in get_variable_data])

    @on("SetNetworkProfile")
    def on_set_network_profile(self, configuration_slot, connection_data, **_):
        self.received.append(("SetNetworkProfile", {"configurationSlot": configuration_slot,
                                                    "connectionData": connection_data}))
        return result201.SetNetworkProfile(status="Accepted")

    @on("Reset")
    def on_reset(self, type, **_):
        self.received.append(("Reset", {"type": type}))
        return result201.Reset(status="Scheduled")

    @after("Reset")
    def after_reset(self, **_):  # its answer sent: it may go away now
        self.reset.set()

    @property
    def new_password(self) -> str:
        return next(data["attribute_value"] for action, data in self.received
                    if action == "SetVariables"
                    and data["variable"]["name"] == "BasicAuthPassword")


class Refusing201(Station201):
    refuses = True


class Station16(ChargePoint16):
    def __init__(self, *arguments):
        super().__init__(*arguments)
        self.received: list[tuple[str, str]] = []
        self.reset = asyncio.Event()  # set once told to reconnect with another profile

    @on("ChangeConfiguration")
    def on_change_configuration(self, key, value):
        self.received.append((key, value))
        return result16.ChangeConfiguration(status="Accepted")

    @after("ChangeConfiguration")
    def after_change_configuration(self, key, value):
        if key == "SecurityProfile":  # its answer sent: it reconnects with the new profile
            self.reset.set()

    @property
    def new_password(self) -> str:
        # The whitepaper: the key is sent as hex, the station's password is its bytes.
        key = next(value for name, value in self.received if name == "AuthorizationKey")
        return bytes.fromhex(key).decode()


@pytest.mark.parametrize("kind, subprotocol", [(Station201, "ocpp2.0.1"),
                                               (Station16, "ocpp1.6")])
async def test_rotation_admits_both_passwords_until_the_new_one_is_used(
        system, stores, kind, subprotocol):
    station_id = new_id("ROT")
    register(system, station_id)
    with extra_edge(system, new_id("edge-rot"), PROFILE_1) as edge:
        url = edge.station_url(station_id)
        async with station(url, station_id, PASSWORD, kind, subprotocol) as charge_point:
            assert await eventually(lambda: online(stores, station_id))
            done = await asyncio.to_thread(system.cli, "stations", "password", station_id)
            assert done.returncode == 0, done.stderr
            assert "took its new password" in done.stdout
            new = charge_point.new_password
        if kind is Station16:
            assert len(new.encode()) == 20
            assert charge_point.received[0][1] == new.encode().hex()
        else:
            assert len(new) == 40
        secret = await stores.access.get(station_id)
        assert secret.pending_hash is not None and new not in secret.pending_hash
        generation = (await stores.admission.get(station_id)).password_generation

        # Pending: the old password still admits it (a station that took the new one only
        # at its next start), and so does the new one, which then replaces the old.
        assert await upgrade_status(url, station_id, PASSWORD, subprotocol) == 101
        assert await upgrade_status(url, station_id, new, subprotocol) == 101
        promoted = await stores.access.get(station_id)
        assert (promoted.password_hash, promoted.pending_hash) == (secret.pending_hash, None)
        assert (await stores.admission.get(station_id)).password_generation == generation + 1

        async def old_refused():
            return await upgrade_status(url, station_id, PASSWORD, subprotocol) == 401
        assert await eventually(old_refused)  # once the edge's mirror has the new generation
        assert await upgrade_status(url, station_id, new, subprotocol) == 101


async def test_a_station_that_refuses_keeps_its_old_password(system, stores):
    station_id = new_id("ROTNO")
    register(system, station_id)
    with extra_edge(system, new_id("edge-rotno"), PROFILE_1) as edge:
        url = edge.station_url(station_id)
        async with station(url, station_id, PASSWORD, Refusing201, "ocpp2.0.1") as refusing:
            assert await eventually(lambda: online(stores, station_id))
            done = await asyncio.to_thread(system.cli, "stations", "password", station_id)
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1 and "did not take the new password" in done.stderr
        assert "Traceback" not in done.stderr
        assert (await stores.access.get(station_id)).pending_hash is None
        assert await upgrade_status(url, station_id, refusing.new_password, "ocpp2.0.1") == 401
        assert await upgrade_status(url, station_id, PASSWORD, "ocpp2.0.1") == 101


async def test_rotation_of_an_offline_station_and_bad_passwords(system, stores):
    station_id = new_id("ROTOFF")
    register(system, station_id)
    before = await stores.access.get(station_id)
    done = await asyncio.to_thread(system.cli, "stations", "password", station_id,
                                   "--password-stdin", input="second-password-0123456789\n")
    assert done.returncode == 1
    assert done.stderr == f"chargebus stations password: {station_id} is not connected; " \
        "nothing was stored\n"
    assert await stores.access.get(station_id) == before
    for bad in ("short", "x" * 41):
        done = await asyncio.to_thread(system.cli, "stations", "password", station_id,
                                       "--password-stdin", input=f"{bad}\n")
        assert (done.returncode, done.stderr.count("\n")) == (2, 1)
        assert "16 to 40 characters" in done.stderr


async def test_a_station_is_never_admitted_below_its_profile(system, stores, server_certificate):
    station_id = new_id("PROF")
    register(system, station_id)
    done = system.cli("stations", "profile", station_id, "1")  # not connected anywhere
    assert done.returncode == 1 and "not connected" in done.stderr
    with extra_edge(system, new_id("edge-p1"), PROFILE_1) as low, \
            extra_edge(system, new_id("edge-p2"), profile_2(server_certificate)) as high:
        tls = tls_of(server_certificate)
        async with station(low.station_url(station_id), station_id, PASSWORD, Station201,
                           "ocpp2.0.1") as charge_point:
            before = await eventually(lambda: online(stores, station_id))
            assert before is not None
            profile = asyncio.create_task(asyncio.to_thread(
                system.cli, "stations", "profile", station_id, "2", "--wait", "60"))
            await asyncio.wait_for(charge_point.reset.wait(), 60)
        # It starts again with its new network profile, on the profile-2 edge.
        [(_, slot)] = [each for each in charge_point.received if each[0] == "SetNetworkProfile"]
        new_url = slot["connectionData"]["ocpp_csms_url"]
        assert new_url == high.station_url("").rstrip("/")
        async with station(f"{new_url}/{station_id}", station_id, PASSWORD, Station201,
                           "ocpp2.0.1", tls):
            done = await profile
            assert done.returncode == 0, done.stderr
        assert [action for action, _ in charge_point.received] == [
            "GetVariables", "SetNetworkProfile", "SetVariables", "Reset"]
        assert slot == {"configurationSlot": 1, "connectionData": {
            "ocpp_version": "OCPP20", "ocpp_transport": "JSON", "ocpp_csms_url": new_url,
            "message_timeout": 30, "security_profile": 2, "ocpp_interface": "Wired0"}}
        priority = charge_point.received[2][1]
        assert (priority["variable"]["name"], priority["attribute_value"]) == (
            "NetworkConfigurationPriority", "1,0")
        assert charge_point.received[3][1] == {"type": "OnIdle"}
        assert (await stores.admission.get(station_id)).security_profile == 2
        assert before.edge_id == low.node_id

        # From now on the profile-1 edge refuses it, its right password or not; the
        # profile-2 edge admits it.
        async def refused_below():
            return await upgrade_status(low.station_url(station_id), station_id, PASSWORD,
                                        "ocpp2.0.1") == 403
        assert await eventually(refused_below)
        assert low.metrics()[("chargebus_edge_refused_total",
                              (("reason", "profile_too_low"),))] >= 1
        assert await upgrade_status(low.station_url(station_id), station_id, "wrong-0123456789",
                                    "ocpp2.0.1") == 401
        assert await upgrade_status(high.station_url(station_id), station_id, PASSWORD,
                                    "ocpp2.0.1", tls) == 101

        # Down only when told so; then the record goes down at once.
        done = system.cli("stations", "profile", station_id, "1")
        assert done.returncode == 2 and "--force" in done.stderr
        assert (await stores.admission.get(station_id)).security_profile == 2
        async with station(high.station_url(station_id), station_id, PASSWORD, Station201,
                           "ocpp2.0.1", tls) as charge_point:
            assert await eventually(lambda: online(stores, station_id))
            done = await asyncio.to_thread(system.cli, "stations", "profile", station_id, "1",
                                           "--force", "--url", low.station_url("").rstrip("/"))
        assert done.returncode == 0, done.stderr
        assert [action for action, _ in charge_point.received] == [
            "GetVariables", "SetNetworkProfile", "SetVariables", "Reset"]
        assert (await stores.admission.get(station_id)).security_profile == 1

        async def admitted_below():
            return await upgrade_status(low.station_url(station_id), station_id, PASSWORD,
                                        "ocpp2.0.1") == 101
        assert await eventually(admitted_below)


async def test_a_16_station_is_told_its_profile_by_its_configuration_key(
        system, stores, server_certificate):
    station_id = new_id("PROF16")
    register(system, station_id)
    with extra_edge(system, new_id("edge-p1-16"), PROFILE_1) as low, \
            extra_edge(system, new_id("edge-p2-16"), profile_2(server_certificate)) \
            as high:
        async with station(low.station_url(station_id), station_id, PASSWORD, Station16,
                           "ocpp1.6") as charge_point:
            assert await eventually(lambda: online(stores, station_id))
            profile = asyncio.create_task(asyncio.to_thread(
                system.cli, "stations", "profile", station_id, "2", "--wait", "60"))
            await asyncio.wait_for(charge_point.reset.wait(), 60)
        assert charge_point.received == [("SecurityProfile", "2")]
        async with station(high.station_url(station_id), station_id, PASSWORD, Station16,
                           "ocpp1.6", tls_of(server_certificate)):
            done = await profile
        assert done.returncode == 0, done.stderr
        assert (await stores.admission.get(station_id)).security_profile == 2


@pytest.mark.parametrize("arguments, says", [
    (("4",), "a whole number from 0 to 3"),
    (("2", "--url", "ws://127.0.0.1:9/ocpp"), "connects over wss"),
    (("1", "--url", "wss://127.0.0.1:9/ocpp"), "connects over ws"),
])
async def test_bad_profile_input(system, arguments, says):
    done = await asyncio.to_thread(system.cli, "stations", "profile", "CP-ANY", *arguments)
    assert (done.returncode, done.stderr.count("\n")) == (2, 1)
    assert says in done.stderr


@pytest.mark.system
async def test_the_edge_checks_passwords_through_the_workers_only(tmp_path):
    """Without a worker, a profile-1 edge admits no one it has not seen admitted before:
    503 with Retry-After, never 401 nor an admission. With one back, it admits."""
    checked = start_system(tmp_path, environment=PROFILE_1)
    try:
        first, second = new_id("W1"), new_id("W2")
        register(checked, first)
        register(checked, second)
        url = checked.station_url
        assert await upgrade_status(url(first), first, PASSWORD, "ocpp1.6") == 101
        [workers] = [pid for pid in checked.children() if _command(pid).endswith(
            b"chargebus.services.workers\0")]
        os.kill(checked.process.pid, signal.SIGSTOP)  # so that it restarts no worker yet
        try:
            os.kill(workers, signal.SIGKILL)
            statuses = set()

            async def unreachable():
                try:
                    async with websockets.connect(url(second), subprotocols=["ocpp1.6"],
                                                  additional_headers=basic(second, PASSWORD)):
                        statuses.add(101)
                except InvalidStatus as refusal:
                    statuses.add(refusal.response.status_code)
                    return refusal.response if refusal.response.status_code == 503 else None
            refusal = await eventually(unreachable)
            assert refusal is not None and statuses == {503}
            assert refusal.headers["Retry-After"]
            assert b"cannot be checked" in refusal.body
            # One it saw admitted with this password is admitted still: no check needed.
            assert await upgrade_status(url(first), first, PASSWORD, "ocpp1.6") == 101
        finally:
            os.kill(checked.process.pid, signal.SIGCONT)

        async def admitted():
            return await upgrade_status(url(second), second, PASSWORD, "ocpp1.6") == 101
        assert await eventually(admitted, timeout=60)
    finally:
        checked.stop()


def _command(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""
