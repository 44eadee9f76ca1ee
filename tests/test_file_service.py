"""The file service and the log requests that use it: simulated stations of each version
(and stations of the `ocpp` library) upload their diagnostics and logs to it for real, by
FTP, HTTP PUT and HTTP POST, through the URL `chargebus logs request` gave them; wrong,
expired and over-size uploads are refused as each protocol says; an image is served over
HTTPS too."""
import asyncio
import ftplib
import hashlib
import io
import json
import ssl
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from certificates import Authority
from conftest import free_port, ocpp_station, service_process
from site_stations import cli, idle_station
from chargebus.domain import stationlogs
from chargebus.files import grants
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.clock import utc_now
from chargebus.runtime.config import load_settings

pytestmark = pytest.mark.asyncio(loop_scope="session")


def station(system, version: OcppVersion):
    return idle_station(system, version, "LOG")


async def request_ended(system, station_id: str) -> dict:
    """The station's latest log request, once its upload ended."""
    for _ in range(100):
        listed = await cli(system, "logs", "list", station_id, "--json")
        if listed.returncode == 0:
            latest = json.loads(listed.stdout.splitlines()[0])
            statuses = [each["status"] for each in latest["statuses"]]
            if statuses and (statuses[-1] == stationlogs.UPLOADED
                             or statuses[-1] in stationlogs.FAILED):
                if statuses[-1] != stationlogs.UPLOADED or latest["files"]:
                    return latest
        await asyncio.sleep(0.2)
    raise AssertionError(f"the upload of {station_id} did not end: {listed.stdout}")


async def requested(system, station_id: str, *options: str,
                    environment: dict[str, str] | None = None) -> dict:
    sent = await cli(system, "logs", "request", station_id, *options, "--json",
                     environment=environment)
    assert sent.returncode == 0, sent.stderr
    return json.loads(sent.stdout)


@pytest.mark.parametrize(("version", "options", "action", "via"), [
    (OcppVersion.V16, (), "GetDiagnostics", "ftp"),
    (OcppVersion.V16, ("--via", "http"), "GetDiagnostics", "http"),
    (OcppVersion.V16, ("--type", "Security"), "GetLog", "http"),
    (OcppVersion.V201, (), "GetLog", "http"),
    (OcppVersion.V21, ("--type", "Security", "--via", "ftp"), "GetLog", "ftp"),
])
async def test_a_station_uploads_its_log_and_the_operator_gets_it(system, tmp_path, version,
                                                                 options, action, via):
    async with station(system, version) as held:
        station_id = held.state.station_id
        performed = await requested(system, station_id, *options)
        assert performed["action"] == action and performed["taken"]
        location = performed["request"]["location"]
        assert urlsplit(location).scheme == via
        latest = await request_ended(system, station_id)
        assert [each["status"] for each in latest["statuses"]] == ["Uploading", "Uploaded"]
        assert latest["state"] == "Uploaded" and latest["via"] == via
        [stored] = latest["files"]
        assert stored["name"] == latest["filename"] == performed["result"]["filename"]
        assert stored["via"] == via and stored["size"] == held.state.upload_bytes
        target = tmp_path / "got.log"
        got = await cli(system, "logs", "get", stored["file_id"], "-o", str(target))
        assert got.returncode == 0, got.stderr
        assert hashlib.sha256(target.read_bytes()).hexdigest() == stored["sha256"]
        assert station_id.encode() in target.read_bytes()
        shown = await cli(system, "logs", "list", station_id)
        assert f"{station_id}  #{latest['request_id']}" in shown.stdout
        assert "Uploaded" in shown.stdout and stored["file_id"] in shown.stdout


async def test_a_form_upload_is_taken_as_a_put_is(system):
    async with station(system, OcppVersion.V21) as held:
        held.state.upload_by_post = True
        await requested(system, held.state.station_id)
        latest = await request_ended(system, held.state.station_id)
        assert latest["state"] == "Uploaded"
        assert latest["files"][0]["name"] == latest["filename"]


async def test_an_upload_over_the_size_limit_fails_and_leaves_nothing(system):
    small = {"CHARGEBUS_FILES_MAX_UPLOAD_BYTES": "1000"}
    for version, options in ((OcppVersion.V16, ()), (OcppVersion.V201, ())):
        async with station(system, version) as held:
            held.state.upload_bytes = 5000
            await requested(system, held.state.station_id, *options, environment=small)
            latest = await request_ended(system, held.state.station_id)
            assert latest["state"] == "Failed" and latest["files"] == []


class LoggingStation16(ChargePoint16):
    """A 1.6 station of the `ocpp` library: it uploads its diagnostics by FTP itself."""

    @on("GetDiagnostics")
    async def on_get_diagnostics(self, location: str, **_: object):
        self.location = location
        return result16.GetDiagnostics(file_name="diagnostics.txt")

    @after("GetDiagnostics")
    async def upload(self, location: str, **_: object):
        parts = urlsplit(location)
        await asyncio.to_thread(ftp_store, parts.port, parts.username, parts.password,
                                b"ocpp library diagnostics\n", "diagnostics.txt")
        await self.call(call16.DiagnosticsStatusNotification(status="Uploaded"))


class LoggingStation201(ChargePoint201):
    """A 2.0.1 station of the `ocpp` library: it uploads its log by HTTP PUT itself."""

    @on("GetLog")
    async def on_get_log(self, log_type: str, request_id: int, log: dict, **_: object):
        return result201.GetLog(status="Accepted", filename="security.log")

    @after("GetLog")
    async def upload(self, log_type: str, request_id: int, log: dict, **_: object):
        status, _, _ = await asyncio.to_thread(put, log["remote_location"] + "security.log",
                                               b"ocpp library security log\n")
        await self.call(call201.LogStatusNotification(
            status="Uploaded" if status == 201 else "UploadFailure", request_id=request_id))


@pytest.mark.parametrize(("charge_point", "subprotocol", "options", "name"), [
    (LoggingStation16, "ocpp1.6", (), "diagnostics.txt"),
    (LoggingStation201, "ocpp2.0.1", ("--type", "Security"), "security.log"),
])
async def test_a_station_of_the_ocpp_library_uploads_to_its_url(system, charge_point,
                                                               subprotocol, options, name):
    station_id = f"LIB-{uuid.uuid4().hex[:8]}"
    async with ocpp_station(system, station_id, charge_point, [subprotocol], subprotocol):
        await requested(system, station_id, *options)
        latest = await request_ended(system, station_id)
    assert latest["state"] == "Uploaded" and latest["filename"] == name
    [stored] = latest["files"]
    assert stored["name"] == name and stored["sha256"] == hashlib.sha256(
        f"ocpp library {'diagnostics' if name.startswith('d') else 'security log'}\n"
        .encode()).hexdigest()


def grant_of(location: str) -> tuple[str, str]:
    """The grant id and secret an upload URL carries (FTP: user and password)."""
    parts = urlsplit(location)
    if parts.scheme == "ftp":
        return parts.username or "", parts.password or ""
    _, root, grant_id, secret, _ = parts.path.split("/", 4)
    assert root == grants.URL_ROOT
    return grant_id, secret


def put(url: str, body: bytes, method: str = "PUT",
        context: ssl.SSLContext | None = None) -> tuple[int, dict, str]:
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, json.loads(response.read() or b"{}"), \
                response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers.get("Content-Type", "")


def ftp_store(port: int, user: str, password: str, body: bytes, name: str = "a.log") -> str:
    with ftplib.FTP(timeout=10) as ftp:
        ftp.connect("127.0.0.1", port)
        ftp.login(user, password)
        return ftp.storbinary(f"STOR {name}", io.BytesIO(body))


async def test_wrong_credentials_are_refused_over_http_and_ftp(system):
    async with station(system, OcppVersion.V16) as held:
        held.state.upload_bytes = 10
        http_grant = (await requested(system, held.state.station_id, "--via", "http")
                      )["request"]["location"]
        ftp_grant = (await requested(system, held.state.station_id))["request"]["location"]
    grant_id, secret = grant_of(http_grant)
    base = f"http://127.0.0.1:{system.files_port}/{grants.URL_ROOT}"
    status, body, kind = put(f"{base}/{grant_id}/{secret}x/a.log", b"data")
    assert status == 403 and kind.startswith("application/problem+json")
    assert body["detail"] == "these credentials do not open this URL"
    status, body, _ = put(f"{base}/nosuchgrant/{secret}/a.log", b"data")
    assert status == 404 and body["title"] == "Unknown"
    status, body, _ = put(f"{base}/{grant_id}/{secret}/..", b"data")
    assert status in (400, 404)
    assert status_of(f"{base}/{grant_id}/{secret}/a.log") == 405  # it opens no download
    # The right credentials still upload.
    status, body, _ = put(f"{base}/{grant_id}/{secret}/more.log", b"data")
    assert status == 201 and body["size"] == 4

    user, password = grant_of(ftp_grant)
    with pytest.raises(ftplib.error_perm, match="^530 These credentials do not open"):
        await asyncio.to_thread(ftp_store, system.ftp_port, user, password + "x", b"data")
    with pytest.raises(ftplib.error_perm, match="^530 No such url"):
        await asyncio.to_thread(ftp_store, system.ftp_port, "nosuch", password, b"data")
    with pytest.raises(ftplib.error_perm, match="^550"):  # no name a URL would not take
        await asyncio.to_thread(ftp_store, system.ftp_port, user, password, b"data",
                                ".hidden.log")
    answer = await asyncio.to_thread(ftp_store, system.ftp_port, user, password, b"data")
    assert answer.startswith("226")


def status_of(url: str, context: ssl.SSLContext | None = None) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


async def test_an_upload_past_the_size_of_its_url_is_refused(system):
    small = {"CHARGEBUS_FILES_MAX_UPLOAD_BYTES": "100"}
    async with station(system, OcppVersion.V16) as held:
        held.state.upload_bytes = 10
        http_location = (await requested(system, held.state.station_id, "--via", "http",
                                         environment=small))["request"]["location"]
        ftp_location = (await requested(system, held.state.station_id,
                                        environment=small))["request"]["location"]
    grant_id, secret = grant_of(http_location)
    url = f"http://127.0.0.1:{system.files_port}/{grants.URL_ROOT}/{grant_id}/{secret}/big.log"
    status, body, _ = put(url, b"x" * 101)
    assert status == 413 and body["limit"] == 100
    user, password = grant_of(ftp_location)
    with pytest.raises(ftplib.error_perm, match="^552 Exceeded storage allocation"):
        await asyncio.to_thread(ftp_store, system.ftp_port, user, password, b"x" * 5000)


async def test_an_upload_to_an_expired_url_is_refused(system):
    brief = {"CHARGEBUS_FILES_UPLOAD_MINUTES": "0.005"}  # 0.3 s
    for options in (("--via", "http"), ("--via", "ftp")):
        async with station(system, OcppVersion.V201) as held:
            held.state.transfer_delay = 1.0  # it uploads once its URL expired
            location = (await requested(system, held.state.station_id, *options,
                                        environment=brief))["request"]["location"]
            latest = await request_ended(system, held.state.station_id)
            assert latest["state"] == "Failed" and latest["files"] == [], (options, latest)
        grant_id, secret = grant_of(location)
        if options[1] == "http":
            status, body, _ = put(location + "late.log", b"data")
            assert status == 410 and body["detail"].startswith("this URL expired at ")
        else:
            with pytest.raises(ftplib.error_perm, match="^530 This url expired at "):
                await asyncio.to_thread(ftp_store, system.ftp_port, grant_id, secret, b"data")


async def test_bad_log_requests_are_refused_in_one_line(system):
    for arguments, says in (
            (("logs", "request", "CP 1"), "station id"),
            (("logs", "request", "CP-1", "--type", "Kernel"), "invalid choice"),
            (("logs", "request", "CP-1", "--since", "2030-01-02T00:00:00Z", "--until",
              "2030-01-01T00:00:00Z"), "--since is not before --until"),
            (("logs", "get", "no-such-file"), "no uploaded file no-such-file"),
            (("files", "publish", "/no/such/file.bin"), "No such file")):
        done = await cli(system, *arguments)
        assert done.returncode == 2, (arguments, done.stdout, done.stderr)
        assert says in done.stderr and len(done.stderr.strip().splitlines()) <= 2, done.stderr


async def test_an_image_is_served_over_https_to_its_url_only(system, stores, tmp_path):
    ca = Authority(tmp_path, "files-ca")
    server = ca.issue("files", server=True)
    port = free_port()
    tls = {"CHARGEBUS_FILES_HTTP_PORT": str(port), "CHARGEBUS_FILES_FTP_PORT": "0",
           "CHARGEBUS_FILES_TLS_CERTIFICATE": str(server.certificate),
           "CHARGEBUS_FILES_TLS_KEY": str(server.key),
           "CHARGEBUS_DATA_DIR": str(tmp_path / "files-data")}
    image = tmp_path / "tls-image.bin"
    image.write_bytes(b"\x7fELF" + bytes(5000))
    with service_process("files", system, tls):
        published = await cli(system, "files", "publish", str(image), environment=tls | {
            "CHARGEBUS_CA_CERTIFICATE": str(ca.certificate), "CHARGEBUS_CA_KEY": str(ca.key),
            "CHARGEBUS_DATA_DIR": str(system.data_dir)})
        assert published.returncode == 0, published.stderr
        settings = load_settings(files_http_port=port, files_tls_certificate=server.certificate,
                                 files_tls_key=server.key)
        issued = await grants.issue(stores, kind="download", purpose=grants.FIRMWARE,
                                    key=grants.image_key(image.name), name=image.name,
                                    max_bytes=image.stat().st_size,
                                    lifetime=timedelta(minutes=1), issued_by="test",
                                    now=utc_now())
        url = grants.http_url(settings, issued, image.name)
        assert url.startswith(f"https://127.0.0.1:{port}/")
        trusting = ssl.create_default_context(cafile=str(ca.certificate))
        with urllib.request.urlopen(url, timeout=10, context=trusting) as response:
            assert response.read() == image.read_bytes()
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            status_of(url, ssl.create_default_context())  # no one else's CA vouches for it
        assert status_of(url.replace(issued.secret, issued.secret[:-1]), trusting) == 403
