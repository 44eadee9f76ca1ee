"""Bad input on the command line and in the configuration: one clear line on stderr and
exit code 2 (1 where the input is fine but the state says no), never a traceback, and
nothing wrong stored."""
import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from datetime import timedelta

import orjson
import pytest
import websockets

from conftest import CHARGEBUS, eventually
from chargebus.ocpp.clock import utc_now
from chargebus.state.records import StationAccess, StationAdmission


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def refused(done: subprocess.CompletedProcess, says: str, code: int = 2) -> None:
    """Exit ``code``, and one or two lines on stderr that say ``says``."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert 1 <= len(done.stderr.strip().splitlines()) <= 2, done.stderr
    assert says in done.stderr, done.stderr


class AnsweringStation:
    """A bare station that answers every call of the CSMS with ``answer`` and keeps
    what it was sent."""

    def __init__(self, station_id: str, socket, answer: dict):
        self.station_id = station_id
        self.socket = socket
        self.answer = answer
        self.received: list[list] = []

    async def serve(self):
        async for message in self.socket:
            call = orjson.loads(message)
            self.received.append(call)
            await self.socket.send(orjson.dumps([3, call[1], self.answer]).decode())


@contextlib.asynccontextmanager
async def connected(system, stores, version: str, answer: dict):
    """An AnsweringStation, once its presence record says it is online."""
    station_id = new_id("IN")
    async with websockets.connect(system.station_url(station_id),
                                  subprotocols=[version]) as socket:
        station = AnsweringStation(station_id, socket, answer)
        serving = asyncio.create_task(station.serve())

        async def online():
            record = await stores.presence.get(station.station_id)
            return record is not None and record.online
        assert await eventually(online)
        try:
            yield station
        finally:
            serving.cancel()


async def cli(system, *arguments: str) -> subprocess.CompletedProcess:
    """The CLI in a thread, so that a station on this loop can answer meanwhile."""
    return await asyncio.to_thread(system.cli, *arguments)


# -- ids ---------------------------------------------------------------------------------

@pytest.mark.parametrize("arguments, says", [
    (("tokens", "add", ""), "not a valid token id: ''"),
    (("tokens", "block", ""), "not a valid token id: ''"),
    (("call", "", "Reset", "{}"), "not a valid station id: ''"),
    (("call", "bad id!", "Reset", "{}"), "not a valid station id: 'bad id!'"),
    (("stations", "show", ""), "not a valid station id: ''"),
    (("stations", "remove", ""), "not a valid station id: ''"),
    (("stations", "add", "CP 1"), "not a valid station id: 'CP 1'"),
    (("locallist", "show", ""), "not a valid station id: ''"),
    (("locallist", "add", "CP-1", ""), "not a valid token id: ''"),
    (("analytics", "series", ""), "not a valid station id: ''"),
])
async def test_an_empty_or_bad_id_is_refused_when_the_arguments_are_read(system, stores,
                                                                         arguments, says):
    refused(system.cli(*arguments), says)
    assert not [token for token in await stores.tokens.all() if not token.id_token]
    assert await stores.local_lists.get("CP-1") is None


# -- tokens import -----------------------------------------------------------------------

async def test_tokens_import_refuses_a_file_that_is_not_utf8_and_reads_one_with_a_bom(
        system, stores, tmp_path):
    kept, latin = new_id("UTF"), new_id("LAT")
    not_utf8 = tmp_path / "latin1.csv"
    not_utf8.write_bytes(f"id_token,parent_id\n{kept},\n{latin},M\xfcller\n".encode("latin-1"))
    refused(system.cli("tokens", "import", str(not_utf8)), "line 3 is not UTF-8 (byte 0xfc)")
    assert await stores.tokens.get(kept.casefold()) is None

    with_bom = tmp_path / "excel.csv"
    with_bom.write_bytes(f"id_token,status\n{kept},Blocked\n".encode("utf-8-sig"))
    done = system.cli("tokens", "import", str(with_bom))
    assert done.returncode == 0 and "imported 1 tokens" in done.stdout, done.stderr
    assert (await stores.tokens.get(kept.casefold())).status == "Blocked"


async def test_tokens_import_refuses_the_same_id_twice_with_both_lines(system, stores, tmp_path):
    first, other = new_id("TWICE"), new_id("ONCE")
    twice = tmp_path / "twice.csv"
    twice.write_text(f"id_token,status\n{first},Accepted\n{other},Accepted\n"
                     f"{first.lower()},Blocked\n")
    refused(system.cli("tokens", "import", str(twice)),
            f"line 4: {first.lower()} is on line 2 too")
    assert await stores.tokens.get(first.casefold()) is None
    assert await stores.tokens.get(other.casefold()) is None


# -- max active --------------------------------------------------------------------------

async def test_a_negative_max_active_is_refused(system, stores, tmp_path):
    token = new_id("NEG")
    refused(system.cli("tokens", "add", token, "--max-active", "-1"),
            "argument --max-active: a whole number of at least 0, not '-1'")
    csv = tmp_path / "negative.csv"
    csv.write_text(f"id_token,max_active\n{token},-3\n")
    refused(system.cli("tokens", "import", str(csv)),
            "line 2: max_active: a whole number of at least 0, not '-3'")
    assert await stores.tokens.get(token.casefold()) is None
    # 0 is the documented "no limit", kept as such.
    assert system.cli("tokens", "add", token, "--max-active", "0").returncode == 0
    assert (await stores.tokens.get(token.casefold())).max_active == 0


# -- token id lengths --------------------------------------------------------------------

async def test_token_ids_over_36_characters_are_refused_and_over_20_warned(system, stores,
                                                                          tmp_path):
    too_long = new_id("L" * 28)  # 37 characters
    refused(system.cli("tokens", "add", too_long), f"not a valid token id: '{too_long}'")
    csv = tmp_path / "long.csv"
    csv.write_text(f"id_token\n{too_long}\n")
    refused(system.cli("tokens", "import", str(csv)), f"line 2: id_token: not a valid token "
                                                      f"id: '{too_long}'")
    assert await stores.tokens.get(too_long.casefold()) is None

    for_2x = new_id("W" * 12)  # 21 characters: only 2.x stations can present it
    done = system.cli("tokens", "add", for_2x)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"warning: token {for_2x}: longer than 20 characters: "
                                  "OCPP 1.6 stations cannot present it")
    assert await stores.tokens.get(for_2x.casefold()) is not None


async def test_a_token_too_long_for_a_16_station_stays_out_of_its_list(system, stores):
    long_token = new_id("X" * 12)
    async with connected(system, stores, "ocpp1.6", {"status": "Accepted"}) as v16, \
            connected(system, stores, "ocpp2.0.1", {"status": "Accepted"}) as v201:
        refused(await cli(system, "locallist", "add", v16.station_id, "SHORT", long_token),
                f"{v16.station_id} speaks ocpp1.6, whose id tokens hold at most 20 "
                f"characters: {long_token}")
        assert await stores.local_lists.get(v16.station_id) is None
        done = await cli(system, "locallist", "add", v201.station_id, long_token)
        assert done.returncode == 0, done.stderr
        assert long_token in (await stores.local_lists.get(v201.station_id)).entries


# -- local lists -------------------------------------------------------------------------

async def test_an_empty_local_list_is_sent_only_when_asked_for_in_full(system, stores):
    async with connected(system, stores, "ocpp1.6", {"status": "Accepted"}) as station:
        refused(await cli(system, "locallist", "send", station.station_id),
                f"{station.station_id} has no token in its list: sending it in full empties "
                "the list the station holds; give --full to do that")
        assert station.received == []
        done = await cli(system, "locallist", "send", station.station_id, "--full")
        assert done.returncode == 0, done.stderr
    assert [(call[2], call[3]["updateType"], call[3]["localAuthorizationList"])
            for call in station.received] == [("SendLocalList", "Full", [])]


async def test_removing_a_token_not_in_the_list_changes_nothing(system, stores):
    station_id = new_id("RM")
    assert system.cli("locallist", "add", station_id, "TAG-A").returncode == 0
    refused(system.cli("locallist", "remove", station_id, "TAG-A", "TAG-NOPE"),
            f"{station_id}: not in its list: TAG-NOPE (nothing removed)", code=1)
    held = await stores.local_lists.get(station_id)
    assert (held.version, list(held.entries)) == (1, ["TAG-A"])


# -- call --------------------------------------------------------------------------------

@pytest.mark.parametrize("action, payload, says", [
    ("Heartbeat", {}, "Heartbeat is a call from station to CSMS in ocpp1.6, not one the CSMS "
                      "sends"),
    ("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"},
     "BootNotification is a call from station to CSMS in ocpp1.6"),
    ("RequestStartTransaction", {}, "RequestStartTransaction is not an action the CSMS sends "
                                    "in ocpp1.6"),
    ("reset", {"type": "Soft"}, "reset is not an action the CSMS sends in ocpp1.6 (did you "
                                "mean Reset?)"),
    ("Reset", {"type": "Sideways"}, "the payload breaks the ocpp1.6 schema"),
])
async def test_call_sends_a_station_only_what_the_csms_may_send_it(system, stores, action,
                                                                   payload, says):
    async with connected(system, stores, "ocpp1.6", {"status": "Accepted"}) as station:
        refused(await cli(system, "call", station.station_id, action,
                          orjson.dumps(payload).decode()), says)
        done = await cli(system, "call", station.station_id, "Reset", '{"type": "Soft"}')
        assert done.returncode == 0, done.stderr
    assert [call[2] for call in station.received] == ["Reset"]


@pytest.mark.parametrize("timeout", ["0", "-1", "inf", "soon"])
def test_call_refuses_a_timeout_that_is_no_time(system, timeout):
    refused(system.cli("call", "CP-1", "Reset", '{"type": "Soft"}', "--timeout", timeout),
            f"argument --timeout: a number of seconds above 0, not '{timeout}'")


def test_call_refuses_a_station_to_csms_action_even_to_a_station_never_seen(system):
    refused(system.cli("call", new_id("NEVER"), "Heartbeat", "{}"),
            "Heartbeat is a call from station to CSMS, not one the CSMS sends")


# -- stations remove ---------------------------------------------------------------------

async def test_stations_remove_of_a_record_that_does_not_exist(system, stores):
    station_id = new_id("NOPE")
    refused(system.cli("stations", "remove", station_id), f"{station_id} has no access record",
            code=1)
    await stores.access.put(StationAccess(station_id=station_id), station_id)
    await stores.admission.put(StationAdmission(station_id=station_id), station_id)
    done = system.cli("stations", "remove", station_id)
    assert done.returncode == 0 and "access record removed" in done.stdout
    assert await stores.access.get(station_id) is None
    assert await stores.admission.get(station_id) is None


# -- analytics ---------------------------------------------------------------------------

@pytest.mark.parametrize("arguments, says", [
    (("analytics", "energy", "--since", "2026-02-01T00:00:00Z", "--until",
      "2026-01-01T00:00:00Z"),
     "--since 2026-02-01T00:00:00+00:00 is not before --until 2026-01-01T00:00:00+00:00"),
    (("analytics", "peak", "--since", (utc_now() + timedelta(days=1)).isoformat()), "(now)"),
    (("analytics", "silent", "--minutes", "-5"),
     "argument --minutes: a whole number of at least 1, not '-5'"),
])
def test_analytics_refuses_an_empty_window(system, arguments, says):
    done = system.cli(*arguments)
    refused(done, says)
    assert done.stdout == ""


# -- settings ----------------------------------------------------------------------------

BAD_SETTINGS = [
    ({"CHARGEBUS_EDGE_SECURITY_PROFILE": "5"},
     "CHARGEBUS_EDGE_SECURITY_PROFILE=5: must be 0, 1, 2 or 3"),
    ({"CHARGEBUS_EDGE_SECURITY_PROFILE": "2"},
     "CHARGEBUS_EDGE_SECURITY_PROFILE=2 needs CHARGEBUS_EDGE_TLS_CERTIFICATE and "
     "CHARGEBUS_EDGE_TLS_KEY"),
    ({"CHARGEBUS_EDGE_PORT": "http"}, "CHARGEBUS_EDGE_PORT=http: must be a whole number "
                                      "from 0 to 65535"),
    ({"CHARGEBUS_UNKNOWN_STATIONS": "maybe"},
     "CHARGEBUS_UNKNOWN_STATIONS=maybe: must be reject, pending or accept"),
    ({"CHARGEBUS_EDGE_IDLE_SECONDS": "-1"}, "CHARGEBUS_EDGE_IDLE_SECONDS=-1: must be a number "
                                            "above 0"),
    ({"CHARGEBUS_EDGE_SUBPROTOCOLS": "ocpp1.6"},
     'CHARGEBUS_EDGE_SUBPROTOCOLS=ocpp1.6: must be a JSON list, like ["ocpp2.1", '),
    ({"CHARGEBUS_EDGE_SECURITY_PROFILE": "3", "CHARGEBUS_EDGE_TLS_CERTIFICATE": "edge.pem",
      "CHARGEBUS_EDGE_TLS_KEY": "edge.key", "CHARGEBUS_CA_MODE": "external"},
     "CHARGEBUS_EDGE_SECURITY_PROFILE=3 with CHARGEBUS_CA_MODE=external needs "
     "CHARGEBUS_EDGE_TLS_CLIENT_CA"),
    ({"CHARGEBUS_CA_CERTIFICATE": "ca.pem"},
     "CHARGEBUS_CA_CERTIFICATE and CHARGEBUS_CA_KEY go together"),
    ({"CHARGEBUS_CA_MODE": "mine"}, "CHARGEBUS_CA_MODE=mine: must be internal or external"),
    ({"CHARGEBUS_CERTIFICATE_VALIDITY_DAYS": "0"},
     "CHARGEBUS_CERTIFICATE_VALIDITY_DAYS=0: must be a whole number above 0, of at most 3650"),
]


def _environment(system, bad: dict) -> dict:
    return os.environ | {"CHARGEBUS_NATS_URL": system.nats_url,
                         "CHARGEBUS_DATA_DIR": str(system.data_dir)} | bad


@pytest.mark.parametrize("bad, says", BAD_SETTINGS)
def test_a_bad_variable_is_named_with_its_value_and_what_it_may_be(system, bad, says):
    done = subprocess.run([CHARGEBUS, "tokens", "list"], env=_environment(system, bad),
                          capture_output=True, text=True, timeout=60)
    refused(done, f"chargebus: {says}")
    assert done.stdout == ""


@pytest.mark.parametrize("service", ["edge", "workers", "sink"])
def test_a_service_with_bad_settings_says_so_in_one_line(system, service):
    bad, says = BAD_SETTINGS[0]
    done = subprocess.run([sys.executable, "-m", f"chargebus.services.{service}"],
                          env=_environment(system, bad), capture_output=True, text=True,
                          timeout=60)
    refused(done, f"{service}: {says}")


# -- the parser --------------------------------------------------------------------------

def test_a_command_without_its_subcommand_shows_its_own_help(system):
    done = system.cli("tokens")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stdout.startswith("usage: chargebus tokens ")
    assert "import" in done.stdout and "simulate" not in done.stdout


def test_global_options_come_before_or_after_the_command(system):
    token = new_id("AFTER")
    assert system.cli("tokens", "add", token).returncode == 0
    # A NATS that is not there: an --nats-url that was not read fails the command.
    environment = os.environ | {"CHARGEBUS_NATS_URL": "nats://127.0.0.1:1",
                                "CHARGEBUS_DATA_DIR": str(system.data_dir)}
    for arguments in (["--nats-url", system.nats_url, "tokens", "list"],
                      ["tokens", "list", "--nats-url", system.nats_url],
                      ["tokens", "--nats-url", system.nats_url, "list"]):
        done = subprocess.run([CHARGEBUS, *arguments], env=environment, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, (arguments, done.stderr)
        assert token in done.stdout
