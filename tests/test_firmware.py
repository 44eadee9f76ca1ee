"""Firmware updates: sent in each version's form (1.6 UpdateFirmware, its security
extension's SignedUpdateFirmware, 2.x UpdateFirmware), followed from the station's
status notifications to the version it boots with, failures told apart; and the rules
behind it (chargebus.domain.firmware)."""
import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from conftest import free_port
from site_stations import IDLE, SiteStations, StationSpec, cli, idle_station
from chargebus.domain import firmware, rollouts
from chargebus.ocpp import OcppVersion
from chargebus.state.records import FirmwareUpdate

URL = "http://files.example.net/firmware/2.0.0.bin"
IMAGE = "firmware-2.0.0.bin"
BASE = datetime(2030, 5, 6, 7, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def image(system, tmp_path_factory) -> str:
    """A firmware image the file service holds: the stations really download it."""
    path = tmp_path_factory.mktemp("image") / IMAGE
    path.write_bytes(bytes(range(256)) * 64)
    published = system.cli("files", "publish", str(path))
    assert published.returncode == 0, published.stderr
    return IMAGE


def station(system, version: OcppVersion):
    return idle_station(system, version, "FW")


async def finished(system, station_id: str) -> dict:
    for _ in range(75):
        done = await cli(system, "firmware", "status", station_id, "--json")
        [latest] = [json.loads(line) for line in done.stdout.splitlines()][-1:] or [None]
        ended = latest and latest["statuses"] and latest["statuses"][-1]["status"] in (
            firmware.FAILED | {firmware.INSTALLED})
        if ended and (latest["outcome"] != firmware.INSTALLED or latest["firmware_after"]):
            return latest
        await asyncio.sleep(0.2)
    raise AssertionError(f"the update of {station_id} did not finish: {done.stdout}")


@pytest.mark.parametrize("version", list(OcppVersion))
async def test_an_update_is_followed_to_the_version_the_station_boots_with(system, image, stores,
                                                                          version):
    async with station(system, version) as held:
        station_id = held.state.station_id
        sent = await cli(system, "firmware", "update", station_id, "--image", image,
                         "--retries", "3", "--retry-interval", "60")
        assert sent.returncode == 0, sent.stderr
        latest = await finished(system, station_id)
        assert latest["outcome"] == "Installed"
        assert [each["status"] for each in latest["statuses"]] == [
            "Downloading", "Downloaded", "Installing", "Installed"]
        assert latest["firmware_before"] == "1.0.0"
        assert latest["firmware_after"] == held.state.firmware_version != "1.0.0"
        info = await stores.stations.get(station_id)
        assert info.firmware_version == held.state.firmware_version
        shown = await cli(system, "firmware", "status", station_id)
        assert "Done (Installed)" in shown.stdout and "-> 1.0.0+" in shown.stdout


async def test_a_failed_download_is_its_outcome(system, image):
    async with station(system, OcppVersion.V201) as held:
        held.state.firmware_fails = True
        sent = await cli(system, "firmware", "update", held.state.station_id, "--image", image)
        assert sent.returncode == 0, sent.stderr
        latest = await finished(system, held.state.station_id)
        assert latest["outcome"] == "DownloadFailed" and latest["firmware_after"] is None


async def test_an_unreachable_firmware_url_fails_the_download(system):
    nowhere = f"http://127.0.0.1:{free_port()}/firmware.bin"  # nothing listens there
    async with station(system, OcppVersion.V16) as held:
        sent = await cli(system, "firmware", "update", held.state.station_id, "--url", nowhere)
        assert sent.returncode == 0, sent.stderr
        latest = await finished(system, held.state.station_id)
        assert latest["outcome"] == "DownloadFailed"
        assert [each["status"] for each in latest["statuses"]] == ["Downloading",
                                                                    "DownloadFailed"]


async def test_an_image_chargebus_does_not_hold_is_refused_in_one_line(system):
    async with station(system, OcppVersion.V201) as held:
        sent = await cli(system, "firmware", "update", held.state.station_id, "--image",
                         "no-such-image.bin")
        assert sent.returncode == 2
        assert sent.stderr.strip().endswith("chargebus holds no firmware image "
                                            "no-such-image.bin (chargebus files publish puts "
                                            "one there)")
        assert len(sent.stderr.strip().splitlines()) == 1
    created = await cli(system, "firmware", "rollout", "create", "--image", "no-such.bin",
                        "--model", "M")
    assert created.returncode == 2 and "holds no firmware image" in created.stderr


async def test_a_signed_update_goes_as_the_16_security_extension_says(system, image, tmp_path):
    certificate = tmp_path / "signing.pem"
    certificate.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    async with station(system, OcppVersion.V16) as held:
        sent = await cli(system, "firmware", "update", held.state.station_id, "--image", image,
                         "--signature", "c2lnbmF0dXJl", "--signing-certificate",
                         str(certificate), "--json")
        assert sent.returncode == 0, sent.stderr
        assert json.loads(sent.stdout)["action"] == "SignedUpdateFirmware"
        latest = await finished(system, held.state.station_id)
        assert "SignatureVerified" in [each["status"] for each in latest["statuses"]]
        assert latest["outcome"] == "Installed"


@pytest.mark.parametrize("arguments, says", [
    (("--url", "files.example.net/fw.bin"), "URL with a host"),
    (("--url", "file:///etc/passwd"), "URL with a host"),
    (("--url", URL, "--signature", "c2ln"), "both"),
    (("--url", URL, "--retrieve-at", "tomorrow"), "RFC 3339"),
])
def test_a_bad_update_is_refused_in_one_line(system, arguments, says):
    done = system.cli("firmware", "update", "FW-NOWHERE", *arguments)
    assert done.returncode == 2
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1


async def test_an_install_time_is_not_sent_to_an_unsigned_16_update(system):
    async with station(system, OcppVersion.V16) as held:
        done = await cli(system, "firmware", "update", held.state.station_id, "--url", URL,
                         "--install-at", (datetime.now(UTC) + timedelta(hours=1)).isoformat())
        assert done.returncode == 2 and "install time" in done.stderr


# -- the rules --------------------------------------------------------------------------

def requested(request_id: int) -> FirmwareUpdate:
    return FirmwareUpdate(request_id=request_id, location=URL, retrieve_at=BASE,
                          requested_at=BASE, sender="test", firmware_before="1.0")


def test_a_16_status_belongs_to_the_latest_update_and_a_repeat_changes_nothing():
    record = firmware.with_request(None, "CP", requested(1))
    record = firmware.with_request(record, "CP", requested(2))
    record = firmware.with_status(record, None, "Downloading", BASE)
    assert [len(each.statuses) for each in record.updates] == [0, 1]
    assert firmware.with_status(record, None, "Downloading", BASE) is None
    assert firmware.with_status(record, 99, "Downloading", BASE) is None  # no such update


def test_a_boot_with_a_new_version_ends_an_update_well():
    record = firmware.with_request(None, "CP", requested(1))
    assert firmware.with_boot(record, "1.0", BASE) is None  # the same version
    # The boot may come before the statuses are applied: the new version tells.
    booted = firmware.with_boot(record, "2.0", BASE)
    [update] = booted.updates
    assert (update.firmware_after, firmware.outcome(update)) == ("2.0", "Installed")
    assert firmware.state(update) == firmware.DONE


def test_a_refusal_or_a_failure_is_the_outcome():
    record = firmware.with_request(None, "CP", requested(1))
    refused = firmware.with_answer(record, 1, "InvalidCertificate")
    assert firmware.outcome(refused.updates[0]) == "InvalidCertificate"
    failed = firmware.with_status(record, 1, "InstallVerificationFailed", BASE)
    assert firmware.outcome(failed.updates[0]) == "InstallVerificationFailed"
    assert firmware.with_boot(failed, "2.0", BASE) is None


def test_only_the_latest_updates_are_kept():
    record = None
    for request_id in range(firmware.KEPT + 5):
        record = firmware.with_request(record, "CP", requested(request_id))
    assert [each.request_id for each in record.updates] == list(range(5, firmware.KEPT + 5))


# -- roll-outs --------------------------------------------------------------------------

async def rollout_when(system, rollout_id: str, condition, samples: list) -> dict:
    deadline = asyncio.get_running_loop().time() + 40
    while True:
        done = await cli(system, "firmware", "status", "--rollout", rollout_id, "--json")
        record = json.loads(done.stdout)
        samples.append(record)
        if condition(record):
            return record
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"roll-out {rollout_id}: {states(record)} {record['state']}")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def fleet(system, count: int, failing: set[int]):
    specs = [StationSpec(f"RO-{uuid.uuid4().hex[:6]}-{index:02d}",
                         list(OcppVersion)[index % 3]) for index in range(count)]
    stations = SiteStations(system.station_url, specs, IDLE, seed=4)
    for index in failing:
        stations.stations[index].state.firmware_fails = True
    await stations.start()
    try:
        yield stations
    finally:
        await stations.stop()


def states(record: dict) -> dict[str, int]:
    tally: dict[str, int] = {}
    for station in record["stations"]:
        tally[station["state"]] = tally.get(station["state"], 0) + 1
    return tally


async def test_a_rollout_updates_a_few_at_a_time_to_the_end(system, image):
    async with fleet(system, 20, failing={2, 9, 15}) as stations:
        ids = ",".join(each.state.station_id for each in stations.stations)
        created = await cli(system, "firmware", "rollout", "create", "--image", image,
                            "--stations", ids, "--at-most", "4", "--pause-share", "1")
        assert created.returncode == 0, created.stderr
        rollout_id = created.stdout.split(":")[0]
        samples: list[dict] = []
        record = await rollout_when(system, rollout_id, lambda r: r["state"] == "done",
                                    samples)
        assert states(record) == {"installed": 17, "failed": 3}
        failed = {each["station_id"] for each in record["stations"]
                  if each["state"] == "failed"}
        assert failed == {stations.stations[index].state.station_id for index in (2, 9, 15)}
        assert {each["outcome"] for each in record["stations"]
                if each["state"] == "failed"} == {"DownloadFailed"}
        assert max(states(sample).get("sent", 0) for sample in samples) <= 4
        for station in stations.stations:
            installed = station.state.station_id not in failed
            assert (station.state.firmware_version != "1.0.0") == installed


async def test_a_rollout_pauses_past_its_share_of_failures_and_resumes(system, image):
    async with fleet(system, 6, failing={1, 4}) as stations:
        ids = ",".join(each.state.station_id for each in stations.stations)
        created = await cli(system, "firmware", "rollout", "create", "--image", image,
                            "--stations", ids, "--at-most", "1", "--pause-share", "0.2")
        rollout_id = created.stdout.split(":")[0]
        samples: list[dict] = []
        # One at a time: the second station fails, 1 of 2 sent (50 %) is past 20 %.
        paused = await rollout_when(system, rollout_id, lambda r: r["state"] == "paused",
                                    samples)
        assert states(paused) == {"installed": 1, "failed": 1, "waiting": 4}
        again = await cli(system, "firmware", "rollout", "pause", rollout_id)
        assert again.returncode == 1 and "is paused" in again.stderr
        resumed = await cli(system, "firmware", "rollout", "resume", rollout_id)
        assert resumed.returncode == 0, resumed.stderr
        # Its failure accepted, it goes on: the next one (1 of 5 sent, 20 %) is not past
        # the share.
        done = await rollout_when(system, rollout_id, lambda r: r["state"] == "done", samples)
        assert states(done) == {"installed": 4, "failed": 2}
        # And with no failure allowed, the first one pauses it: cancelled, it sends no more.
        ids = ",".join(each.state.station_id for each in stations.stations[1:4])
        created = await cli(system, "firmware", "rollout", "create", "--image", image,
                            "--stations", ids, "--at-most", "1", "--pause-share", "0")
        rollout_id = created.stdout.split(":")[0]
        await rollout_when(system, rollout_id, lambda r: r["state"] == "paused", samples)
        cancelled = await cli(system, "firmware", "rollout", "cancel", rollout_id)
        assert cancelled.returncode == 0, cancelled.stderr
        await asyncio.sleep(1)
        shown = await cli(system, "firmware", "status", "--rollout", rollout_id)
        assert shown.stdout.startswith(f"{rollout_id}: cancelled; 2 waiting, 0 sent, "
                                       f"0 installed, 1 failed")


def test_a_rollout_of_nothing_or_a_bad_share_is_refused(system):
    nothing = system.cli("firmware", "rollout", "create", "--url", URL, "--model", "NoSuch")
    assert nothing.returncode == 1 and "no station" in nothing.stderr
    bad = system.cli("firmware", "rollout", "create", "--url", URL, "--model", "M",
                     "--pause-share", "1.5")
    assert bad.returncode == 2 and "a share from 0 to 1" in bad.stderr


def a_rollout(count: int, at_most: int, pause_share: float) -> rollouts.Rollout:
    return rollouts.Rollout(rollout_id="R", location=URL, at_most=at_most,
                            pause_share=pause_share, created_by="test", created_at=BASE,
                            stations=[rollouts.RolloutStation(station_id=f"S{index}")
                                      for index in range(count)])


def test_no_more_than_at_most_are_sent_at_once():
    record = a_rollout(5, at_most=2, pause_share=1.0)
    assert rollouts.next_to_send(record) == ["S0", "S1"]
    record = rollouts.with_sent(record, "S0", 1, True, None, BASE)
    assert rollouts.next_to_send(record) == ["S1"]
    record = rollouts.with_sent(record, "S1", 2, True, None, BASE)
    assert rollouts.next_to_send(record) == []
    installed = firmware.with_boot(firmware.with_request(None, "S0", requested(1)), "2.0", BASE)
    record = rollouts.with_outcomes(
        record, lambda station: installed.updates[0] if station.request_id == 1 else None, BASE)
    assert rollouts.counts(record)[rollouts.StationState.INSTALLED] == 1
    assert rollouts.next_to_send(record) == ["S2"]


def test_a_station_that_does_not_take_the_request_fails_and_can_pause_the_rollout():
    record = a_rollout(4, at_most=4, pause_share=0.3)
    record = rollouts.with_sent(record, "S0", 1, True, None, BASE)
    record = rollouts.with_sent(record, "S1", 2, False, "offline: S1 is not connected", BASE)
    assert record.state is rollouts.RolloutState.PAUSED  # 1 of 2 sent failed: 50 %
    assert rollouts.next_to_send(record) == []
    resumed = rollouts.resumed(record)
    assert resumed.state is rollouts.RolloutState.RUNNING and resumed.forgiven == 1
    assert rollouts.resumed(resumed) is None  # not paused


def test_a_rollout_is_done_when_every_station_is():
    record = a_rollout(1, at_most=1, pause_share=1.0)
    record = rollouts.with_sent(record, "S0", 1, False, "Rejected", BASE)
    assert record.state is rollouts.RolloutState.DONE
