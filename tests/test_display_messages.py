"""Display messages on 2.x stations: shown, kept with the station's answer, listed,
fetched back from the station's own list (in parts), cleared; 1.6 refused before
anything is sent; and the rules behind the kept list (chargebus.domain.displaymessages)."""
import asyncio
import json
from datetime import UTC, datetime

import pytest

from site_stations import cli, idle_station
from chargebus.domain import displaymessages
from chargebus.domain.operations import DisplayMessage, GetDisplayMessages
from chargebus.ocpp import OcppVersion
from chargebus.state.records import StoredMessage

BASE = datetime(2030, 7, 8, 9, 0, tzinfo=UTC)


def station(system, version: OcppVersion):
    return idle_station(system, version, "DM")


async def listed(system, station_id: str, wanted) -> list[dict]:
    for _ in range(50):
        done = await cli(system, "messages", "list", station_id, "--json")
        entries = [json.loads(line) for line in done.stdout.splitlines()]
        if wanted(entries):
            return entries
        await asyncio.sleep(0.2)
    raise AssertionError(f"{station_id} lists {done.stdout!r}")


@pytest.mark.parametrize("version", [OcppVersion.V201, OcppVersion.V21])
async def test_a_message_is_shown_kept_fetched_and_cleared(system, version):
    async with station(system, version) as held:
        station_id = held.state.station_id
        for message_id, text in ((1, "Welcome"), (2, "Out of order at 18:00")):
            sent = await cli(system, "messages", "set", station_id, "--id", str(message_id),
                             "--text", text, "--priority", "InFront", "--language", "en")
            assert sent.returncode == 0, sent.stderr
        assert set(held.state.display_messages) == {1, 2}
        entries = await listed(system, station_id, lambda entries: len(entries) == 2)
        assert {each["status"] for each in entries} == {"Accepted"}
        # Set at the station by someone else: chargebus learns of it by fetching.
        held.state.display_messages[3] = {"id": 3, "priority": "NormalCycle",
                                          "message": {"format": "UTF8", "content": "Hi"}}
        fetched = await cli(system, "messages", "fetch", station_id)
        assert fetched.returncode == 0, fetched.stderr
        entries = await listed(system, station_id, lambda entries: len(entries) == 3 and {
            each["status"] for each in entries} == {"Reported"})
        assert {each["message"]["content"] for each in entries} == {
            "Welcome", "Out of order at 18:00", "Hi"}
        cleared = await cli(system, "messages", "clear", station_id, "2")
        assert cleared.returncode == 0, cleared.stderr
        await listed(system, station_id, lambda entries: {
            each["message"]["message_id"] for each in entries} == {1, 3})
        again = await cli(system, "messages", "clear", station_id, "2")
        assert again.returncode == 1 and "Unknown" in again.stdout


async def test_16_has_no_display_messages(system):
    async with station(system, OcppVersion.V16) as held:
        done = await cli(system, "messages", "set", held.state.station_id, "--id", "1",
                         "--text", "Hello")
        assert done.returncode == 2 and "1.6 call" in done.stderr


async def test_what_the_schema_does_not_take_is_refused_before_sending(system):
    async with station(system, OcppVersion.V201) as held:
        done = await cli(system, "messages", "set", held.state.station_id, "--id", "1",
                         "--text", "Hello", "--format", "QRCODE")
        assert done.returncode == 2 and "breaks the ocpp2.0.1 schema" in done.stderr
        assert held.state.display_messages == {}


# -- the rules --------------------------------------------------------------------------

def stored(message_id: int, status: str = displaymessages.ACCEPTED, priority: str = "InFront"
           ) -> StoredMessage:
    return StoredMessage(message=DisplayMessage(message_id=message_id, content="x",
                                                priority=priority),
                         status=status, source="test", at=BASE)


def test_a_fetch_replaces_only_what_it_selected_once_its_last_part_came():
    record = None
    for each in (stored(1), stored(2, priority="AlwaysFront")):
        record = displaymessages.with_answer(record, "CS", each)
    record = displaymessages.with_fetch(record, "CS", GetDisplayMessages(request_id=7,
                                                                        priority="InFront"))
    part = displaymessages.with_report(record, "CS", 7, [stored(5, displaymessages.REPORTED)],
                                       more=True)
    assert [each.message.message_id for each in part.messages] == [1, 2]
    done = displaymessages.with_report(part, "CS", 7, [], more=False)
    assert sorted(each.message.message_id for each in done.messages) == [2, 5]
    assert done.fetch is None


def test_a_refusal_replaces_nothing_and_unknown_empties_the_selection():
    record = displaymessages.with_answer(None, "CS", stored(1))
    refused = displaymessages.with_answer(record, "CS", stored(1, "NotSupportedPriority"))
    assert refused.messages == record.messages and len(refused.refused) == 1
    fetching = displaymessages.with_fetch(record, "CS", GetDisplayMessages(request_id=3))
    assert displaymessages.with_none_held(fetching, 3).messages == []
    assert displaymessages.with_none_held(fetching, 4) is None  # another fetch


async def test_what_a_station_holds_of_a_customer_is_reported_in_parts(system):
    async with station(system, OcppVersion.V201) as held:
        station_id = held.state.station_id
        asked = await cli(system, "customers", "request", station_id, "--customer", "C-42",
                          "--json")
        assert asked.returncode == 0, asked.stderr
        request_id = json.loads(asked.stdout)["request"]["request_id"]
        for _ in range(50):
            shown = await cli(system, "customers", "show", station_id, str(request_id),
                              "--json")
            report = json.loads(shown.stdout) if shown.returncode == 0 else {}
            if report.get("complete"):
                break
            await asyncio.sleep(0.2)
        assert report["complete"] and report["text"] == "customer C-42: 0 sessions here"
        assert report["requested_by"].startswith("chargebus-cli")
        forget = await cli(system, "customers", "forget", station_id, "--token", "04A2B3")
        assert forget.returncode == 0, forget.stderr
        missing = await cli(system, "customers", "show", station_id, "999999")
        assert missing.returncode == 1 and "kept 30 days" in missing.stderr


def test_a_customer_must_be_named(system):
    done = system.cli("customers", "request", "CS-NOWHERE")
    assert done.returncode == 2 and "one of the arguments --customer --token" in done.stderr
