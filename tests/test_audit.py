"""The audit trail: every CSMS-to-station call, whoever sent it, recorded with how it
ended, in JetStream (`chargebus commands log`) and in ClickHouse's commands table."""
import asyncio
import uuid
from datetime import timedelta

import orjson
import pytest

from conftest import eventually, sql
from test_operations import Connected, _token
from chargebus.domain.model import AuthorizationStatus, IdToken
from chargebus.domain.operations import ClearCache, Reset, StartCharging
from chargebus.ocpp.clock import utc_now
from chargebus.operations import audit
from chargebus.operations.commands import call_station
from chargebus.operations.perform import perform

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _records(bus, station_id: str, count: int) -> list[audit.CommandRecord]:
    async def enough():
        found = await audit.read(bus.jetstream(), station_id, utc_now() - timedelta(hours=1),
                                 100)
        return found if len(found) >= count else None
    return await eventually(enough) or []


async def test_every_end_of_a_call_is_recorded_with_its_sender(system, bus):
    blocked = await _token(bus, AuthorizationStatus.BLOCKED)
    async with Connected(system, bus, "ocpp2.0.1") as connected:
        station_id = connected.station_id
        taken = await connected.perform(Reset())
        # The `ocpp` package answers an action it has no handler for with a CALLERROR.
        error = await call_station(bus, station_id, "GetLocalListVersion", {}, timeout=10,
                                   sender="integration:billing")
        invalid = await call_station(bus, station_id, "Reset", {"type": "Sideways"},
                                     timeout=10, sender="integration:billing")
        refused = await connected.perform(StartCharging(id_token=IdToken(value=blocked)))
        connected.station.silent = True
        silent = await connected.perform(ClearCache(), timeout=1)
    never = f"NEVER-{uuid.uuid4().hex[:8]}"
    offline = await perform(bus, never, ClearCache(), sender="test", timeout=5)
    assert taken.taken and error.outcome.value == "error" and invalid.outcome.value == "invalid"
    assert refused.outcome.value == "refused" and silent.outcome.value == "timeout"
    assert offline.outcome.value == "offline"

    records = await _records(bus, station_id, 5)
    assert [(entry.action, entry.outcome, entry.sender) for entry in records] == [
        ("Reset", "result", "test"), ("GetLocalListVersion", "error", "integration:billing"),
        ("Reset", "invalid", "integration:billing"), ("start", "refused", "test"),
        ("ClearCache", "timeout", "test")]
    reset, failed, broken, blocked_start, hung = records
    assert reset.payload == {"type": "Immediate"} and reset.answer == {"status": "Accepted"}
    assert reset.edge_id and reset.version == "ocpp2.0.1" and reset.latency_ms > 0
    assert reset.requested_at <= reset.answered_at
    assert failed.answer["errorCode"] == "NotImplemented"
    assert "type" in broken.answer["reason"]
    assert blocked_start.answer == {"reason": f"token {blocked} is Blocked "
                                              "(--force sends it all the same)"}
    assert hung.latency_ms > 900 and "did not answer" in hung.answer["reason"]
    [gone] = await _records(bus, never, 1)
    assert (gone.action, gone.outcome, gone.edge_id) == ("clear-cache", "offline", None)


async def test_the_trail_reaches_clickhouse_and_the_command_line(system, bus):
    async with Connected(system, bus, "ocpp1.6") as connected:
        station_id = connected.station_id
        await connected.perform(Reset())
        await connected.perform(ClearCache())

    async def stored():
        rows = await sql(bus, "SELECT action, outcome, sender, payload, answer FROM commands "
                              f"WHERE station = '{station_id}' ORDER BY requested_at")
        return rows if len(rows) == 2 else None
    rows = await eventually(stored, timeout=30)
    assert [(row["action"], row["outcome"], row["sender"]) for row in rows] == [
        ("Reset", "result", "test"), ("ClearCache", "result", "test")]
    assert orjson.loads(rows[0]["payload"]) == {"type": "Soft"}
    assert orjson.loads(rows[1]["answer"]) == {"status": "Accepted"}

    shown = await asyncio.to_thread(system.cli, "commands", "log", station_id, "--since", "1h")
    lines = shown.stdout.splitlines()
    assert shown.returncode == 0 and len(lines) == 2, shown.stderr
    assert f" {station_id} Reset result Accepted " in lines[0] and lines[0].endswith(" by test")
    as_json = await asyncio.to_thread(system.cli, "commands", "log", station_id, "--json",
                                      "--limit", "1")
    [last] = [orjson.loads(line) for line in as_json.stdout.splitlines()]
    assert (last["action"], last["station_id"]) == ("ClearCache", station_id)
    nothing = await asyncio.to_thread(system.cli, "commands", "log", "NOBODY-EVER")
    assert (nothing.returncode, nothing.stdout) == (0, "")
    bad = await asyncio.to_thread(system.cli, "commands", "log", "--since", "yesterday")
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr == ("chargebus commands log: argument --since: not an RFC 3339 time or "
                          "a span such as 30m, 6h or 7d: 'yesterday'\n")
