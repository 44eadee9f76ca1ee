"""The station certificate lifecycle on real TLS: SignCertificate checked and signed,
CertificateSigned sent, the station back on profile 3 with its new certificate; the
expiry watch; the roots a station keeps (install, list, delete); an external CA."""
import asyncio
import base64
import contextlib
import hashlib
import os
import ssl
import subprocess
import sys
import uuid

import orjson
import pytest
import pytest_asyncio
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from websockets.exceptions import InvalidStatus

from certificates import Authority, station_csr, weak_rsa_key
from conftest import CHARGEBUS, eventually, extra_edge, free_port, start_system
from chargebus.bus import subjects
from chargebus.security.permissions import Role
from chargebus.state.stores import Stores

pytestmark = pytest.mark.asyncio(loop_scope="module")

ORGANIZATION = "Test CPO"
QUIET_SECONDS = 3.0  # how long a station waits to see that no call comes


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca = Authority(folder, "station-ca")
    return {"ca": ca, "server": ca.issue("edge", server=True), "folder": folder}


def tls_environment(pki) -> dict:
    return {"CHARGEBUS_EDGE_SECURITY_PROFILE": "3",
            "CHARGEBUS_EDGE_TLS_CERTIFICATE": str(pki["server"].certificate),
            "CHARGEBUS_EDGE_TLS_KEY": str(pki["server"].key)}


@pytest.fixture(scope="module")
def profile3(pki, tmp_path_factory):
    """chargebus on profile 3 with the test CA as its own CA (operator-supplied): the
    edge takes it as its clients' CA, the workers sign with it."""
    system = start_system(tmp_path_factory.mktemp("profile3"), environment=tls_environment(pki) | {
        "CHARGEBUS_CA_CERTIFICATE": str(pki["ca"].certificate),
        "CHARGEBUS_CA_KEY": str(pki["ca"].key),
        "CHARGEBUS_CERTIFICATE_ORGANIZATION": ORGANIZATION,
        "CHARGEBUS_CERTIFICATE_RENEW_BEFORE_DAYS": "30",
        "CHARGEBUS_CERTIFICATE_CHECK_SECONDS": "1"})
    yield system
    assert system.stop() == 0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stores(profile3):
    nc = await profile3.connect()
    yield Stores(nc.jetstream())
    await nc.close()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def client_context(pki, certificate, key) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki["ca"].certificate))
    context.load_cert_chain(certificate, key)
    return context


def own_certificate(pki, station_id: str) -> ssl.SSLContext:
    """A context with a certificate of the test CA for the station, far from its end."""
    issued = pki["ca"].issue(station_id, days=400)
    return client_context(pki, issued.certificate, issued.key)


@contextlib.asynccontextmanager
async def station(system, station_id: str, subprotocol: str, context: ssl.SSLContext | None):
    scheme = "wss" if context is not None else "ws"
    url = f"{scheme}://127.0.0.1:{system.edge_port}/ocpp/{station_id}"
    async with websockets.connect(url, subprotocols=[subprotocol], ssl=context) as socket:
        yield socket


async def receive(socket, timeout: float = 20.0) -> list:
    return orjson.loads(await asyncio.wait_for(socket.recv(), timeout))


async def nothing_comes(socket) -> bool:
    try:
        message = await asyncio.wait_for(socket.recv(), QUIET_SECONDS)
    except TimeoutError:
        return True
    pytest.fail(f"the station got {message}")


async def sign_certificate(socket, subprotocol: str, csr: str, **extra) -> dict:
    payload = {"csr": csr} | ({"certificateType": "ChargingStationCertificate"}
                              if subprotocol != "ocpp1.6" else {}) | extra
    await socket.send(orjson.dumps([2, "sc-1", "SignCertificate", payload]).decode())
    answer = await receive(socket)
    assert answer[:2] == [3, "sc-1"], answer
    return answer[2]


async def heartbeat(socket) -> list:
    await socket.send('[2,"hb-1","Heartbeat",{}]')
    return await receive(socket)


def fingerprint(certificate: x509.Certificate) -> str:
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


@pytest.mark.parametrize("subprotocol", ["ocpp2.0.1", "ocpp1.6", "ocpp2.1"])
async def test_a_station_renews_its_certificate_and_reconnects_with_it(
        profile3, pki, stores, subprotocol, tmp_path):
    station_id = new_id("RENEW")
    ca = pki["ca"]
    first = ca.issue(station_id, days=400)
    async with station(profile3, station_id, subprotocol,
                       client_context(pki, first.certificate, first.key)) as socket:
        new = station_csr(station_id, ORGANIZATION)
        # 2.1 numbers its request, and CertificateSigned carries the number back.
        numbered = {"requestId": 7} if subprotocol == "ocpp2.1" else {}
        assert await sign_certificate(socket, subprotocol, new.csr_pem, **numbered) == {
            "status": "Accepted"}
        call = await receive(socket)
        assert call[0] == 2 and call[2] == "CertificateSigned", call
        if subprotocol != "ocpp1.6":
            assert call[3]["certificateType"] == "ChargingStationCertificate"
        assert call[3].get("requestId") == numbered.get("requestId")
        chain = x509.load_pem_x509_certificates(call[3]["certificateChain"].encode())
        leaf = chain[0]
        leaf.verify_directly_issued_by(ca.x509)
        assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == station_id
        assert leaf.public_key() == serialization.load_pem_private_key(
            new.key_pem, None).public_key()
        await socket.send(orjson.dumps([3, call[1], {"status": "Accepted"}]).decode())

        async def accepted():
            record = await stores.certificates.get(station_id)
            return record if record and record.issued and record.issued.answer else None
        record = await eventually(accepted)
    assert record.issued.answer == "Accepted"
    assert record.current.fingerprint == fingerprint(leaf)

    chain_file, key_file = tmp_path / "new.pem", tmp_path / "new.key"
    chain_file.write_text(call[3]["certificateChain"])
    key_file.write_bytes(new.key_pem)
    async with station(profile3, station_id, subprotocol,
                       client_context(pki, chain_file, key_file)) as socket:
        assert (await heartbeat(socket))[:2] == [3, "hb-1"]

        async def presented():  # the record of the first connection may still be read
            presence = await stores.presence.get(station_id)
            return presence if presence and presence.certificate and (
                presence.certificate.fingerprint == fingerprint(leaf)) else None
        presence = await eventually(presented)
        assert presence.online and presence.certificate.fingerprint == fingerprint(leaf)
    shown = await asyncio.to_thread(profile3.cli, "certificates", "show", station_id)
    assert shown.returncode == 0, shown.stderr
    assert orjson.loads(shown.stdout)["current"]["serial"] == f"{leaf.serial_number:x}"


@pytest.mark.parametrize("case", ["another station", "RSA 1024", "EC P-521",
                                  "wrong organisation", "no organisation", "V2G certificate",
                                  "not a CSR"])
async def test_a_csr_chargebus_does_not_sign_is_rejected(profile3, pki, stores, case):
    station_id = new_id("REFUSE")
    issued = pki["ca"].issue(station_id, days=400)
    csr, extra = {
        "another station": (station_csr("SOMEONE-ELSE", ORGANIZATION).csr_pem, {}),
        "RSA 1024": (station_csr(station_id, ORGANIZATION, key=weak_rsa_key()).csr_pem, {}),
        "EC P-521": (station_csr(station_id, ORGANIZATION,
                                 key=ec.generate_private_key(ec.SECP521R1())).csr_pem, {}),
        "wrong organisation": (station_csr(station_id, "Other CPO").csr_pem, {}),
        "no organisation": (station_csr(station_id, None).csr_pem, {}),
        "V2G certificate": (station_csr(station_id, ORGANIZATION).csr_pem,
                            {"certificateType": "V2GCertificate"}),
        "not a CSR": ("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                      "-----END CERTIFICATE REQUEST-----\n", {}),
    }[case]
    async with station(profile3, station_id, "ocpp2.0.1",
                       client_context(pki, issued.certificate, issued.key)) as socket:
        assert await sign_certificate(socket, "ocpp2.0.1", csr, **extra) == {"status": "Rejected"}
        assert await nothing_comes(socket)
    record = await stores.certificates.get(station_id)
    assert record.refused_because and record.issued is None
    reasons = {"another station": "SOMEONE-ELSE", "RSA 1024": "1024 bits",
               "EC P-521": "secp521r1", "wrong organisation": "Other CPO",
               "no organisation": "O is none", "V2G certificate": "V2G",
               "not a CSR": "not a PEM"}
    assert reasons[case] in record.refused_because


async def test_the_expiry_watch_asks_stations_near_their_end_once(profile3, pki, stores):
    ca = pki["ca"]
    near201, near16, far = new_id("NEAR"), new_id("NEAR16"), new_id("FAR")
    contexts = {station_id: client_context(pki, issued.certificate, issued.key)
                for station_id, issued in ((near201, ca.issue(near201, days=2)),
                                           (near16, ca.issue(near16, days=2)),
                                           (far, ca.issue(far, days=400)))}
    async with (station(profile3, near201, "ocpp2.0.1", contexts[near201]) as socket201,
                station(profile3, near16, "ocpp1.6", contexts[near16]) as socket16,
                station(profile3, far, "ocpp2.0.1", contexts[far]) as far_socket):
        trigger201, trigger16 = await receive(socket201), await receive(socket16)
        assert trigger201[2:] == ["TriggerMessage",
                                  {"requestedMessage": "SignChargingStationCertificate"}]
        assert trigger16[2:] == ["ExtendedTriggerMessage",
                                 {"requestedMessage": "SignChargePointCertificate"}]
        await socket201.send(orjson.dumps([3, trigger201[1], {"status": "Accepted"}]).decode())
        await socket16.send(orjson.dumps([3, trigger16[1], {"status": "Accepted"}]).decode())
        # The watch runs every second; the repeat interval is a day.
        assert await nothing_comes(socket201) and await nothing_comes(socket16)
        assert await nothing_comes(far_socket)

        async def answered():
            record = await stores.certificates.get(near201)
            return record if record and record.renewal_answer else None
        assert (await eventually(answered)).renewal_answer == "Accepted"

        # A02 to its end: the station triggered sends its CSR and takes the certificate.
        new = station_csr(near201, ORGANIZATION)
        assert await sign_certificate(socket201, "ocpp2.0.1", new.csr_pem) == {
            "status": "Accepted"}
        signed = await receive(socket201)
        assert signed[2] == "CertificateSigned"
        await socket201.send(orjson.dumps([3, signed[1], {"status": "Accepted"}]).decode())

        async def renewed():
            record = await stores.certificates.get(near201)
            return record if record and record.current else None
        leaf = x509.load_pem_x509_certificates(signed[3]["certificateChain"].encode())[0]
        assert (await eventually(renewed)).current.fingerprint == fingerprint(leaf)
    assert (await stores.certificates.get(far)) is None


def hash_data(pem: str) -> dict:
    """CertificateHashDataType of a root: it is its own issuer."""
    installed = x509.load_pem_x509_certificate(pem.encode())
    key = installed.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"hashAlgorithm": "SHA256",
            "issuerNameHash": hashlib.sha256(installed.issuer.public_bytes()).hexdigest(),
            "issuerKeyHash": hashlib.sha256(key).hexdigest(),
            "serialNumber": f"{installed.serial_number:x}"}


class CertificateKeeper(ChargePoint201):
    """A station that keeps the roots it is given, as a real one does."""

    def __init__(self, *arguments, **options):
        super().__init__(*arguments, **options)
        self.kept: dict[str, tuple[str, dict]] = {}  # serial -> (type, hash data)

    @on("InstallCertificate")
    def on_install(self, certificate_type, certificate, **_):
        data = hash_data(certificate)
        self.kept[data["serialNumber"]] = (certificate_type, data)
        return result201.InstallCertificate(status="Accepted")

    @on("GetInstalledCertificateIds")
    def on_installed(self, certificate_type=None, **_):
        chains = [{"certificateType": kind, "certificateHashData": data}
                  for kind, data in self.kept.values()
                  if not certificate_type or kind in certificate_type]
        if not chains:
            return result201.GetInstalledCertificateIds(status="NotFound")
        return result201.GetInstalledCertificateIds(status="Accepted",
                                                    certificate_hash_data_chain=chains)

    @on("DeleteCertificate")
    def on_delete(self, certificate_hash_data, **_):
        found = self.kept.pop(certificate_hash_data["serial_number"], None)
        return result201.DeleteCertificate(status="Accepted" if found else "NotFound")

    @on("TriggerMessage")
    def on_trigger(self, requested_message, **_):
        return result201.TriggerMessage(status="Accepted")


@contextlib.asynccontextmanager
async def keeping_station(system, pki, stores, station_id: str, subprotocol: str, keeper_class):
    """An `ocpp` station keeping its roots, on profile 3, once chargebus sees it online."""
    issued = pki["ca"].issue(station_id, days=400)
    async with station(system, station_id, subprotocol,
                       client_context(pki, issued.certificate, issued.key)) as socket:
        keeper = keeper_class(station_id, socket)
        listening = asyncio.create_task(keeper.start())
        try:
            async def online():
                presence = await stores.presence.get(station_id)
                return presence is not None and presence.online
            assert await eventually(online)
            yield keeper
        finally:
            listening.cancel()


@pytest.fixture(scope="module")
def cli(profile3):
    """`chargebus certificates ...` on the profile 3 system, off the event loop (the
    stations answer on it meanwhile)."""
    async def run(*arguments):
        return await asyncio.to_thread(profile3.cli, "certificates", *arguments)
    return run


async def test_install_list_delete_and_renew_on_a_station(profile3, pki, stores, cli):
    station_id = new_id("KEEPER")
    root = str(pki["ca"].certificate)

    async with keeping_station(profile3, pki, stores, station_id, "ocpp2.0.1",
                               CertificateKeeper) as keeper:
        installed = await cli("install", station_id, "--type", "CSMSRootCertificate",
                              "--file", root)
        assert installed.returncode == 0, installed.stderr
        assert orjson.loads(installed.stdout) == {"status": "Accepted"}
        assert len(keeper.kept) == 1

        listed = await cli("list", station_id)
        assert listed.returncode == 0, listed.stderr
        entries = [orjson.loads(line) for line in listed.stdout.splitlines()]
        assert [entry["certificateType"] for entry in entries] == ["CSMSRootCertificate"]
        assert entries[0]["serialNumber"] == f"{pki['ca'].x509.serial_number:x}"
        other = await cli("list", station_id, "--type", "V2GRootCertificate")
        assert other.returncode == 0 and other.stdout == ""

        deleted = await cli("delete", station_id, "--id", listed.stdout.splitlines()[0])
        assert deleted.returncode == 0, deleted.stderr
        assert keeper.kept == {}
        again = await cli("delete", station_id, "--id", listed.stdout.splitlines()[0])
        assert again.returncode == 1 and orjson.loads(again.stdout) == {"status": "NotFound"}

        renewed = await cli("renew", station_id)
        assert renewed.returncode == 0, renewed.stderr
        assert (await stores.certificates.get(station_id)).renewal_answer == "Accepted"

        # Bad input: one line on stderr, exit 2, nothing sent.
        for arguments, words in [
            (("install", station_id, "--type", "CentralSystemRootCertificate",
              "--file", root), "breaks the ocpp2.0.1 schema"),
            (("install", station_id, "--type", "CSMSRootCertificate",
              "--file", str(pki["folder"] / "missing.pem")), "cannot read"),
            (("install", station_id, "--type", "CSMSRootCertificate",
              "--file", str(pki["ca"].key)), "not a PEM certificate"),
            (("list", station_id, "--type", "NoSuchRoot"), "breaks the ocpp2.0.1 schema"),
            (("delete", station_id, "--serial", "01"), "give --id"),
        ]:
            done = await cli(*arguments)
            assert done.returncode == 2, (arguments, done.stderr)
            assert len(done.stderr.splitlines()) == 1 and words in done.stderr, done.stderr
        assert len(keeper.kept) == 0
    gone = await cli("renew", station_id)
    assert gone.returncode == 1 and "offline" in gone.stderr, gone.stderr
    record = await stores.certificates.get(station_id)
    assert (record.renewal_answer, record.renewal_requested_at) == ("offline", None)
    unknown = await cli("list", new_id("NEVER"))
    assert unknown.returncode == 1 and "never connected" in unknown.stderr


class CertificateKeeper16(ChargePoint16):
    """The same in 1.6 (security whitepaper): GetInstalledCertificateIds takes one type."""

    def __init__(self, *arguments, **options):
        super().__init__(*arguments, **options)
        self.kept: dict[str, tuple[str, dict]] = {}

    @on("InstallCertificate")
    def on_install(self, certificate_type, certificate):
        data = hash_data(certificate)
        self.kept[data["serialNumber"]] = (certificate_type, data)
        return result16.InstallCertificate(status="Accepted")

    @on("GetInstalledCertificateIds")
    def on_installed(self, certificate_type):
        listed = [data for kind, data in self.kept.values() if kind == certificate_type]
        if not listed:
            return result16.GetInstalledCertificateIds(status="NotFound")
        return result16.GetInstalledCertificateIds(status="Accepted", certificate_hash_data=listed)

    @on("DeleteCertificate")
    def on_delete(self, certificate_hash_data):
        found = self.kept.pop(certificate_hash_data["serial_number"], None)
        return result16.DeleteCertificate(status="Accepted" if found else "NotFound")


async def test_install_list_delete_on_a_16_station(profile3, pki, stores, cli):
    station_id = new_id("KEEPER16")
    root = str(pki["ca"].certificate)

    async with keeping_station(profile3, pki, stores, station_id, "ocpp1.6",
                               CertificateKeeper16) as keeper:
        wrong = await cli("install", station_id, "--type", "CSMSRootCertificate",
                          "--file", root)
        assert wrong.returncode == 2 and "breaks the ocpp1.6 schema" in wrong.stderr
        installed = await cli("install", station_id, "--type",
                              "CentralSystemRootCertificate", "--file", root)
        assert installed.returncode == 0, installed.stderr
        # Asked once per type: the central system's root, then the manufacturer's.
        listed = await cli("list", station_id)
        assert listed.returncode == 0, listed.stderr
        entries = [orjson.loads(line) for line in listed.stdout.splitlines()]
        assert entries == [{"certificateType": "CentralSystemRootCertificate"}
                           | hash_data(pki["ca"].certificate.read_text())]
        deleted = await cli("delete", station_id, "--id", listed.stdout.splitlines()[0])
        assert deleted.returncode == 0, deleted.stderr
        assert keeper.kept == {}


@pytest.mark.system
async def test_chargebus_makes_its_own_ca_and_issues_a_first_certificate(pki, tmp_path):
    data = tmp_path / "data"
    system = start_system(data, environment=tls_environment(pki))
    try:
        folder = data / "ca"
        assert folder.stat().st_mode & 0o777 == 0o700
        assert (folder / "ca.key").stat().st_mode & 0o777 == 0o600
        made = (folder / "ca.pem").read_bytes()
        station_id = new_id("FIRST")
        new = station_csr(station_id, "chargebus")
        (tmp_path / "station.csr").write_text(new.csr_pem)
        issued = await asyncio.to_thread(system.cli, "certificates", "issue", station_id,
                                         "--csr", str(tmp_path / "station.csr"),
                                         "--data-dir", str(data))
        assert issued.returncode == 0, issued.stderr
        (tmp_path / "station.pem").write_text(issued.stdout)
        (tmp_path / "station.key").write_bytes(new.key_pem)
        leaf = x509.load_pem_x509_certificates(issued.stdout.encode())[0]
        leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(made))
        context = client_context(pki, tmp_path / "station.pem", tmp_path / "station.key")
        async with station(system, station_id, "ocpp2.0.1", context) as socket:
            assert (await heartbeat(socket))[:2] == [3, "hb-1"]
        refused = await asyncio.to_thread(system.cli, "certificates", "issue", "OTHER-ONE",
                                          "--csr", str(tmp_path / "station.csr"),
                                          "--data-dir", str(data))
        assert refused.returncode == 2 and "not the station's id" in refused.stderr
    finally:
        assert system.stop() == 0
    again = start_system(data, environment=tls_environment(pki))
    try:
        assert (data / "ca" / "ca.pem").read_bytes() == made
    finally:
        assert again.stop() == 0


@pytest.mark.system
async def test_an_external_ca_signs_through_the_bus(pki, tmp_path):
    system = start_system(tmp_path / "data", environment=tls_environment(pki) | {
        "CHARGEBUS_CA_MODE": "external",
        "CHARGEBUS_EDGE_TLS_CLIENT_CA": str(pki["ca"].certificate),
        "CHARGEBUS_CERTIFICATE_ORGANIZATION": ORGANIZATION})
    nc = await system.connect()
    asked = []

    async def integration(msg) -> None:
        request = orjson.loads(msg.data)
        asked.append(request["stationId"])
        if request["stationId"].startswith("EXT-NO"):
            await msg.respond(orjson.dumps({"error": "the CA is closed today"}))
        else:
            chain = pki["ca"].sign_csr(request["csr"])
            await msg.respond(orjson.dumps({"certificateChain": chain}))

    await nc.subscribe(subjects.certificate_signing(), cb=integration)
    try:
        signed, closed = new_id("EXT-YES"), new_id("EXT-NO")
        async with station(system, signed, "ocpp2.0.1", own_certificate(pki, signed)) as socket:
            csr = station_csr(signed, ORGANIZATION)
            answer = await sign_certificate(socket, "ocpp2.0.1", csr.csr_pem)
            assert answer == {"status": "Accepted"}
            call = await receive(socket)
            assert call[2] == "CertificateSigned"
            leaf = x509.load_pem_x509_certificates(call[3]["certificateChain"].encode())[0]
            leaf.verify_directly_issued_by(pki["ca"].x509)
            await socket.send(orjson.dumps([3, call[1], {"status": "Accepted"}]).decode())
        async with station(system, closed, "ocpp2.0.1", own_certificate(pki, closed)) as socket:
            csr = station_csr(closed, ORGANIZATION)
            answer = await sign_certificate(socket, "ocpp2.0.1", csr.csr_pem)
            assert answer == {"status": "Accepted"}
            assert await nothing_comes(socket)
        stores = Stores(nc.jetstream())
        record = await stores.certificates.get(closed)
        assert "the CA is closed today" in record.refused_because and record.issued is None
        assert asked == [signed, closed]

        async def answered():
            record = await stores.certificates.get(signed)
            return record.issued.answer if record and record.issued else None
        assert await eventually(answered) == "Accepted"
    finally:
        await nc.close()
        assert system.stop() == 0


@pytest.mark.system
async def test_a_ca_that_cannot_sign_stops_chargebus_run_in_one_line(pki, tmp_path):
    other = Authority(tmp_path, "other-ca")
    done = await asyncio.to_thread(
        subprocess.run, [CHARGEBUS, "--nats-url", f"nats://127.0.0.1:{free_port()}", "run",
                         "--edge-port", str(free_port()), "--metrics-port", "0",
                         "--data-dir", str(tmp_path / "data")],
        env=os.environ | {"CHARGEBUS_CA_CERTIFICATE": str(pki["ca"].certificate),
                          "CHARGEBUS_CA_KEY": str(other.key)},
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"chargebus cannot start: its CA: {other.key} is not the key of {pki['ca'].certificate}"]
    assert not any((tmp_path / "data" / "nats").iterdir())  # nats-server never started


PASSWORD = "correct-horse-battery-1"


def basic(station_id: str, password: str) -> dict:
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def test_only_a_station_that_proved_its_id_gets_a_certificate(system, tmp_path):
    """Profile 0 proves nothing, nor does profile 1 for an unknown station admitted
    without a password; a registered station's own password does."""
    registered, unknown, anyone = new_id("PW"), new_id("NOPW"), new_id("OPEN")
    done = system.cli("stations", "add", registered, "--password-stdin", input=f"{PASSWORD}\n")
    assert done.returncode == 0, done.stderr
    nc = await system.connect()
    stores = Stores(nc.jetstream())
    try:
        async with station(system, anyone, "ocpp2.0.1", None) as socket:
            csr = station_csr(anyone, "chargebus").csr_pem
            assert await sign_certificate(socket, "ocpp2.0.1", csr) == {"status": "Rejected"}
        assert "security profile 0" in (await stores.certificates.get(anyone)).refused_because
        with extra_edge(system, "edge-certs-1",
                        {"CHARGEBUS_EDGE_SECURITY_PROFILE": "1"}) as edge:
            async with websockets.connect(edge.station_url(unknown), subprotocols=["ocpp1.6"],
                                          additional_headers=basic(unknown, PASSWORD)) as socket:
                csr = station_csr(unknown, "chargebus").csr_pem
                assert await sign_certificate(socket, "ocpp1.6", csr) == {"status": "Rejected"}
            assert "without a password" in (
                await stores.certificates.get(unknown)).refused_because

            async def admitted():
                try:
                    return await websockets.connect(
                        edge.station_url(registered), subprotocols=["ocpp1.6"],
                        additional_headers=basic(registered, PASSWORD))
                except InvalidStatus:  # the edge's mirror of the access bucket is behind
                    return None
            socket = await eventually(admitted)
            try:
                csr = station_csr(registered, "chargebus").csr_pem
                assert await sign_certificate(socket, "ocpp1.6", csr) == {"status": "Accepted"}
                assert (await receive(socket))[2] == "CertificateSigned"
            finally:
                await socket.close()
    finally:
        await nc.close()


async def test_an_edge_never_makes_the_ca_it_checks_clients_with(system, pki, tmp_path):
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "chargebus.services.edge"],
        env=os.environ | tls_environment(pki) | {
            "CHARGEBUS_NATS_URL": system.nats_url, "CHARGEBUS_DATA_DIR": str(tmp_path),
            # The system's edge identity, so that it signs in and gets as far as its start.
            "CHARGEBUS_NATS_CREDENTIALS": str(system.seed(Role.EDGE, "edge-1")),
            "CHARGEBUS_EDGE_NODE_ID": "edge-no-ca", "CHARGEBUS_EDGE_PORT": str(free_port()),
            "CHARGEBUS_EDGE_METRICS_PORT": "0"},
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"edge: no clients' CA at {tmp_path / 'ca' / 'ca.pem'}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "ca").exists()
