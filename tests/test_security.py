"""Security profiles 1 to 3 on real listeners: HTTP Basic, TLS with a CA the test makes,
client certificates. Every refusal is checked on the wire and in the edge's metrics."""
import asyncio
import ssl
import uuid

import orjson
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from certificates import Authority
from conftest import extra_edge, start_system

pytestmark = pytest.mark.asyncio(loop_scope="session")

PASSWORD = "correct-horse-battery-1"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca, stranger = Authority(folder, "chargebus-test-ca"), Authority(folder, "other-ca")
    return {"ca": ca, "server": ca.issue("edge", server=True), "stranger": stranger,
            "folder": folder}


def register(system, station_id: str, password: str | None = PASSWORD, versions: str = ""):
    arguments = ["stations", "add", station_id]
    if password is not None:
        arguments.append("--password-stdin")
    if versions:
        arguments += ["--versions", versions]
    done = system.cli(*arguments, input=f"{password}\n" if password else None)
    assert done.returncode == 0, done.stderr


def basic(station_id: str, password: str) -> dict:
    import base64
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def client_context(pki, certificate=None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki["ca"].certificate))
    if certificate is not None:
        context.load_cert_chain(certificate.certificate, certificate.key)
    return context


async def heartbeat(socket) -> list:
    await socket.send('[2,"hb-1","Heartbeat",{}]')
    return orjson.loads(await socket.recv())


async def connects_eventually(connect) -> list:
    """The first heartbeat answer once the edge's mirror of the access bucket has the
    record just written (it follows the bucket through a watch)."""
    for _ in range(50):
        try:
            async with connect() as socket:
                return await heartbeat(socket)
        except InvalidStatus as refused:
            if refused.response.status_code != 404:
                raise
            await asyncio.sleep(0.1)
    pytest.fail("the station was never admitted")


def refused(edge, reason: str) -> float:
    return edge.metrics().get(("chargebus_edge_refused_total", (("reason", reason),)), 0)


def tls_unfinished(edge) -> float:
    return edge.metrics().get(("chargebus_edge_tls_handshakes_total",
                               (("result", "unfinished"),)), 0)


async def test_profile_1_basic_auth(system):
    station_id = f"SEC1-{uuid.uuid4().hex[:6]}"
    register(system, station_id)
    with extra_edge(system, "edge-sec1", {"CHARGEBUS_EDGE_SECURITY_PROFILE": "1",
                                          "CHARGEBUS_UNKNOWN_STATIONS": "reject"}) as edge:
        url = edge.station_url(station_id)
        answer = await connects_eventually(lambda: websockets.connect(
            url, subprotocols=["ocpp1.6"], additional_headers=basic(station_id, PASSWORD)))
        assert answer[:2] == [3, "hb-1"]

        statuses = {}
        for case, headers, target in [
            ("wrong password", basic(station_id, PASSWORD + "x"), url),
            ("another station's name", basic("SOMEONE-ELSE", PASSWORD), url),
            ("no credentials", {}, url),
            ("unknown station", basic("NOT-REGISTERED", PASSWORD),
             edge.station_url("NOT-REGISTERED")),
        ]:
            with pytest.raises(InvalidStatus) as refusal:
                async with websockets.connect(target, subprotocols=["ocpp1.6"],
                                              additional_headers=headers):
                    pass
            statuses[case] = refusal.value.response.status_code
        assert statuses == {"wrong password": 401, "another station's name": 401,
                            "no credentials": 401, "unknown station": 401}
        assert refused(edge, "bad_credentials") == 2
        assert refused(edge, "no_credentials") == 1
        assert refused(edge, "unknown_station") == 1


async def test_profile_1_passwords_are_stored_hashed(system, stores):
    station_id = f"SEC1H-{uuid.uuid4().hex[:6]}"
    register(system, station_id)
    record = await stores.access.get(station_id)
    assert record.password_hash.startswith("scrypt$") and PASSWORD not in record.password_hash
    listed = system.cli("stations", "admitted")
    assert PASSWORD not in listed.stdout and "scrypt" not in listed.stdout
    assert {"station_id": station_id, "versions": None, "security_profile": None,
            "boot_status": None, "heartbeat_interval": None, "site": None,
            "password_generation": 1, "password": True, "password_pending": False} in [
        orjson.loads(line) for line in listed.stdout.splitlines()]


async def test_short_passwords_are_refused_by_the_cli(system):
    done = system.cli("stations", "add", "SEC-SHORT", "--password-stdin", input="short\n")
    assert done.returncode == 2
    assert "16 to 40 characters" in done.stderr


async def test_per_station_versions(system):
    station_id = f"SECV-{uuid.uuid4().hex[:6]}"
    register(system, station_id, password=None, versions="ocpp1.6")
    with extra_edge(system, "edge-versions", {"CHARGEBUS_UNKNOWN_STATIONS": "reject"}) as edge:
        url = edge.station_url(station_id)
        await connects_eventually(lambda: websockets.connect(url, subprotocols=["ocpp1.6"]))
        with pytest.raises(InvalidStatus) as refusal:
            async with websockets.connect(url, subprotocols=["ocpp2.0.1", "ocpp2.1"]):
                pass
        assert refusal.value.response.status_code == 400
        assert b"ocpp1.6" in refusal.value.response.body


async def test_profile_2_tls_and_basic_auth(system, pki):
    station_id = f"SEC2-{uuid.uuid4().hex[:6]}"
    register(system, station_id)
    server = pki["server"]
    with extra_edge(system, "edge-sec2", {
            "CHARGEBUS_EDGE_SECURITY_PROFILE": "2", "CHARGEBUS_UNKNOWN_STATIONS": "reject",
            "CHARGEBUS_EDGE_TLS_CERTIFICATE": str(server.certificate),
            "CHARGEBUS_EDGE_TLS_KEY": str(server.key)}) as edge:
        url = edge.station_url(station_id)
        tls = client_context(pki)
        answer = await connects_eventually(lambda: websockets.connect(
            url, subprotocols=["ocpp2.0.1"], ssl=tls,
            additional_headers=basic(station_id, PASSWORD)))
        assert answer[:2] == [3, "hb-1"]

        with pytest.raises(InvalidStatus) as refusal:
            wrong = basic(station_id, "wrong-password-123")
            async with websockets.connect(url, subprotocols=["ocpp2.0.1"], ssl=tls,
                                          additional_headers=wrong):
                pass
        assert refusal.value.response.status_code == 401
        assert refused(edge, "bad_credentials") == 1

        plain = url.replace("wss://", "ws://")
        with pytest.raises(Exception) as plain_refusal:
            async with websockets.connect(plain, subprotocols=["ocpp2.0.1"],
                                          additional_headers=basic(station_id, PASSWORD),
                                          open_timeout=5):
                pass
        assert not isinstance(plain_refusal.value, AssertionError)
        assert await _eventually_counted(edge, 1)


async def test_profile_3_client_certificates(system, pki):
    station_id = f"SEC3-{uuid.uuid4().hex[:6]}"
    register(system, station_id, password=None)
    server, ca, stranger = pki["server"], pki["ca"], pki["stranger"]
    with extra_edge(system, "edge-sec3", {
            "CHARGEBUS_EDGE_SECURITY_PROFILE": "3", "CHARGEBUS_UNKNOWN_STATIONS": "reject",
            "CHARGEBUS_EDGE_TLS_CERTIFICATE": str(server.certificate),
            "CHARGEBUS_EDGE_TLS_KEY": str(server.key),
            "CHARGEBUS_EDGE_TLS_CLIENT_CA": str(ca.certificate)}) as edge:
        url = edge.station_url(station_id)
        own = client_context(pki, ca.issue(station_id))
        answer = await connects_eventually(lambda: websockets.connect(
            url, subprotocols=["ocpp2.0.1"], ssl=own))
        assert answer[:2] == [3, "hb-1"]

        # A certificate of the right CA that names another station: closed with 1008.
        named_other = client_context(pki, ca.issue("SOMEONE-ELSE"))
        async with websockets.connect(url, subprotocols=["ocpp2.0.1"], ssl=named_other) as socket:
            await socket.wait_closed()
            assert socket.close_code == 1008
        assert refused(edge, "certificate_name") == 1

        # Refused by the TLS handshake: another CA's certificate, none, plain ws.
        failures = 0
        for context, target in [(client_context(pki, stranger.issue(station_id)), url),
                                (client_context(pki), url),
                                (None, url.replace("wss://", "ws://"))]:
            with pytest.raises(Exception) as refusal:
                async with websockets.connect(target, subprotocols=["ocpp2.0.1"], ssl=context,
                                              open_timeout=5) as socket:
                    await socket.recv()  # TLS 1.3 reports a refused client certificate late
            assert not isinstance(refusal.value, AssertionError)
            failures += 1
        assert await _eventually_counted(edge, failures)


async def _eventually_counted(edge, count: int) -> bool:
    for _ in range(50):
        if tls_unfinished(edge) >= count:
            return True
        await asyncio.sleep(0.1)
    return False


@pytest.mark.system
async def test_unknown_stations_admitted_as_pending(tmp_path):
    pending = start_system(tmp_path, environment={"CHARGEBUS_UNKNOWN_STATIONS": "pending"})
    try:
        known = f"KNOWN-{uuid.uuid4().hex[:6]}"
        register(pending, known, password=None)
        boot = orjson.dumps([2, "b-1", "BootNotification", {
            "chargePointVendor": "chargebus", "chargePointModel": "test"}]).decode()
        statuses = {}
        for station_id in (known, f"STRANGER-{uuid.uuid4().hex[:6]}"):
            async with websockets.connect(pending.station_url(station_id),
                                          subprotocols=["ocpp1.6"]) as socket:
                await socket.send(boot)
                statuses[station_id[:5]] = orjson.loads(await socket.recv())[2]["status"]
        assert statuses == {"KNOWN": "Accepted", "STRAN": "Pending"}
    finally:
        assert pending.stop() == 0
