"""The workers end to end, with three worker processes on one system: registry policy,
authorization with concurrent tokens, transactions of both versions applied exactly
once whatever the order and however often they come, stale transactions closed by rule,
and a worker killed in the middle of it all."""
import asyncio
import contextlib
import itertools
import signal
import uuid
from datetime import timedelta

import orjson
import pytest
import pytest_asyncio
import websockets

from conftest import ended, eventually, rows_when, service_process, sql, start_system
from moments import ago, ahead, stamp
from chargebus.state.stores import Stores

pytestmark = pytest.mark.asyncio(loop_scope="session")

WORKER_SETTINGS = {"CHARGEBUS_STALE_REBOOT_GRACE_SECONDS": "2",
                   "CHARGEBUS_STALE_CHECK_SECONDS": "0.5",
                   "CHARGEBUS_CONSUMER_ACK_WAIT_SECONDS": "3"}
# The transactions of these tests happen in the hours before the module is loaded:
# within the 48 hours after which the sweep closes a silent transaction by rule, and
# before the stations' boots.
SESSIONS_BEGIN = ago(hours=4)


class CallError(Exception):
    pass


class Station:
    """A bare station: sends calls, returns the payload of each answer."""

    def __init__(self, url: str, version: str):
        self.url = url
        self.version = version
        self._ids = itertools.count()
        self.socket = None

    async def __aenter__(self):
        self.socket = await websockets.connect(self.url, subprotocols=[self.version])
        return self

    async def __aexit__(self, *exc_info):
        await self.socket.close()

    async def call(self, action: str, payload: dict, attempts: int = 5) -> dict:
        """Like a real station, a call answered InternalError is sent again."""
        for attempt in range(attempts):
            unique_id = f"{action[:4]}-{next(self._ids)}"
            await self.socket.send(orjson.dumps([2, unique_id, action, payload]).decode())
            answer = orjson.loads(await asyncio.wait_for(self.socket.recv(), 30))
            assert answer[1] == unique_id
            if answer[0] == 3:
                return answer[2]
            if answer[2] != "InternalError" or attempt == attempts - 1:
                raise CallError(answer[2], answer[3])
            await asyncio.sleep(0.5)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A system of its own (its sweeps and short grace must not touch other tests'
    transactions) with two more worker processes: three in all."""
    system = start_system(tmp_path_factory.mktemp("workers"), environment=WORKER_SETTINGS)
    with contextlib.ExitStack() as extra:
        system.workers = [extra.enter_context(
            service_process("workers", system, WORKER_SETTINGS)) for _ in range(2)]
        yield system
    assert system.stop() == 0


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cluster_bus(cluster):
    nc = await cluster.connect()
    yield nc
    await nc.close()


@pytest.fixture
def cluster_stores(cluster_bus) -> Stores:
    return Stores(cluster_bus.jetstream())


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def add_token(system, token: str, *options: str) -> None:
    done = system.cli("tokens", "add", token, *options)
    assert done.returncode == 0, done.stderr


def started(transaction_id: str, token: str | None, seq: int = 0, minute: int = 0,
            wh: float = 0.0, evse: int = 1, offline: bool = False) -> dict:
    payload = event("Started", transaction_id, seq, minute, wh, offline, "Authorized")
    payload["evse"] = {"id": evse, "connectorId": 1}
    if token:
        payload["idToken"] = {"idToken": token, "type": "ISO14443"}
    return payload


def event(kind: str, transaction_id: str, seq: int, minute: int, wh: float,
          offline: bool = False, trigger: str = "MeterValuePeriodic") -> dict:
    moment = stamp(SESSIONS_BEGIN + timedelta(minutes=minute))
    payload = {"eventType": kind, "timestamp": moment, "triggerReason": trigger, "seqNo": seq,
               "transactionInfo": {"transactionId": transaction_id},
               "meterValue": [{"timestamp": moment, "sampledValue": [
                   {"value": wh, "measurand": "Energy.Active.Import.Register"}]}]}
    if offline:
        payload["offline"] = True
    if kind == "Ended":
        payload["transactionInfo"]["stoppedReason"] = "EVDisconnected"
        payload["triggerReason"] = "EVDeparted"
    return payload


# -- registry ------------------------------------------------------------------------

async def test_boot_policy_per_station(cluster, cluster_stores):
    rejected, slow = new_id("REJ"), new_id("SLOW")
    for station_id, options in ((rejected, ["--boot", "Rejected"]), (slow, ["--heartbeat", "900"])):
        done = cluster.cli("stations", "add", station_id, *options)
        assert done.returncode == 0, done.stderr
    boot = {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V",
                                                     "serialNumber": "S-1"}}
    answers = {}
    for station_id in (rejected, slow, new_id("ANY")):
        async with Station(cluster.station_url(station_id), "ocpp2.0.1") as station:
            answers[station_id[:4]] = await station.call("BootNotification", boot)
    assert answers["REJ-"]["status"] == "Rejected"
    assert (answers["SLOW"]["status"], answers["SLOW"]["interval"]) == ("Accepted", 900)
    assert (answers["ANY-"]["status"], answers["ANY-"]["interval"]) == ("Accepted", 300)
    info = await cluster_stores.stations.get(rejected)
    assert (info.boot_status, info.serial_number, info.boot_reason) == ("Rejected", "S-1",
                                                                        "PowerUp")


async def test_stations_show_tells_online_state_and_statuses(cluster):
    station_id = new_id("SHOW")
    async with Station(cluster.station_url(station_id), "ocpp1.6") as station:
        await station.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                                  "status": "Charging",
                                                  "timestamp": "2026-11-21T10:00:00Z"})

        async def online():
            shown = await asyncio.to_thread(cluster.cli, "stations", "show", station_id)
            data = orjson.loads(shown.stdout) if shown.returncode == 0 else {}
            return data if data.get("online") and data.get("statuses") else None
        while_on = await eventually(online)
    assert while_on["edge"] == "edge-1" and while_on["last_seen"] == "now"
    assert while_on["statuses"][0]["status"] == "Charging"

    async def offline():
        shown = await asyncio.to_thread(cluster.cli, "stations", "show", station_id)
        data = orjson.loads(shown.stdout)
        return data if not data["online"] else None
    after = await eventually(offline)
    assert after["last_seen"] >= after["connected_at"]
    unknown = await asyncio.to_thread(cluster.cli, "stations", "show", "NEVER-SEEN")
    assert unknown.returncode == 1 and "nothing is known" in unknown.stderr


# -- authorization ---------------------------------------------------------------------

async def test_token_states_in_both_versions(cluster):
    blocked, expired, fine = new_id("BLK"), new_id("EXP"), new_id("OK")
    for token in (blocked, expired, fine):
        add_token(cluster, token)
    assert cluster.cli("tokens", "block", blocked).returncode == 0
    assert cluster.cli("tokens", "expire", expired).returncode == 0
    async with Station(cluster.station_url(new_id("A16")), "ocpp1.6") as v16, \
            Station(cluster.station_url(new_id("A201")), "ocpp2.0.1") as v201:
        seen = {}
        for token in (blocked, expired, fine, "NO-SUCH-TOKEN"):
            old = await v16.call("Authorize", {"idTag": token})
            new = await v201.call("Authorize", {"idToken": {"idToken": token, "type": "Central"}})
            seen[token] = (old["idTagInfo"]["status"], new["idTokenInfo"]["status"])
    assert seen == {blocked: ("Blocked", "Blocked"), expired: ("Expired", "Expired"),
                    fine: ("Accepted", "Accepted"), "NO-SUCH-TOKEN": ("Invalid", "Invalid")}
    deleted = cluster.cli("tokens", "delete", fine)
    assert deleted.returncode == 0
    missing = cluster.cli("tokens", "block", fine)
    assert missing.returncode == 1 and "no token" in missing.stderr


async def test_a_token_in_use_is_concurrent_elsewhere(cluster, cluster_stores):
    token = new_id("BUSY")
    add_token(cluster, token, "--parent", "FLEET-7")
    transaction_id = new_id("tx")
    async with Station(cluster.station_url(new_id("HOME")), "ocpp2.0.1") as home, \
            Station(cluster.station_url(new_id("AWAY")), "ocpp1.6") as away:
        first = await home.call("TransactionEvent", started(transaction_id, token))
        assert first["idTokenInfo"] == {"status": "Accepted",
                                        "groupIdToken": {"idToken": "FLEET-7", "type": "Central"}}

        async def concurrent():
            answer = await away.call("Authorize", {"idTag": token})
            return answer if answer["idTagInfo"]["status"] == "ConcurrentTx" else None
        assert await eventually(concurrent)  # once the start is applied
        # The transaction the token is in is its own, not a concurrent one.
        update = event("Updated", transaction_id, 1, 5, 500)
        update["idToken"] = {"idToken": token, "type": "ISO14443"}
        assert (await home.call("TransactionEvent", update))["idTokenInfo"]["status"] == \
            "Accepted"
        start = await away.call("StartTransaction", {
            "connectorId": 1, "idTag": token, "meterStart": 0,
            "timestamp": stamp(SESSIONS_BEGIN)})
        assert start["idTagInfo"]["status"] == "ConcurrentTx"
        # As 1.6 has it, the station ends the transaction it was refused.
        await away.call("StopTransaction", {
            "transactionId": start["transactionId"], "meterStop": 0,
            "timestamp": stamp(SESSIONS_BEGIN + timedelta(seconds=5)), "reason": "DeAuthorized"})
        await home.call("TransactionEvent", event("Ended", transaction_id, 2, 10, 900))

        async def free():
            answer = await away.call("Authorize", {"idTag": token})
            return answer if answer["idTagInfo"]["status"] == "Accepted" else None
        assert await eventually(free)


async def test_tokens_import_is_all_or_nothing(cluster, tmp_path, cluster_stores):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    first, second = new_id("CSV"), new_id("CSV")
    expires = ahead(days=365)  # a token still valid, whenever the test runs
    good.write_text(f"id_token,status,expires_at,parent_id,type,max_active\n"
                    f"{first},Accepted,{stamp(expires)},FLEET,ISO14443,2\n"
                    f"{second},Blocked,,,,\n")
    bad.write_text(f"id_token,status\n{new_id('CSV')},Accepted\nX,Sleepy\n")
    refused = cluster.cli("tokens", "import", str(bad))
    assert refused.returncode == 2
    assert "line 3" in refused.stderr and "nothing imported" in refused.stderr
    done = cluster.cli("tokens", "import", str(good))
    assert done.returncode == 0 and "imported 2 tokens" in done.stdout
    token = await cluster_stores.tokens.get(first.casefold())
    assert (token.type, token.max_active, token.parent_id, token.expires_at) == (
        "ISO14443", 2, "FLEET", expires)
    assert (await cluster_stores.tokens.get(second.casefold())).status == "Blocked"


# -- local lists -----------------------------------------------------------------------

class ListHoldingStation:
    """A 1.6 socket that takes every SendLocalList and tells the version it holds."""

    def __init__(self, url: str):
        self.url = url
        self.received: list[dict] = []
        self.version = 0

    async def __aenter__(self):
        self.socket = await websockets.connect(self.url, subprotocols=["ocpp1.6"])
        self._serving = asyncio.create_task(self._serve())
        return self

    async def __aexit__(self, *exc_info):
        self._serving.cancel()
        await self.socket.close()

    async def _serve(self):
        async for message in self.socket:
            call = orjson.loads(message)
            if call[2] == "SendLocalList":
                self.received.append(call[3])
                self.version = call[3]["listVersion"]
                answer = {"status": "Accepted"}
            else:
                answer = {"listVersion": self.version}
            await self.socket.send(orjson.dumps([3, call[1], answer]).decode())


async def test_local_list_full_then_differential(cluster, cluster_stores):
    station_id = new_id("LIST")
    async with ListHoldingStation(cluster.station_url(station_id)) as station:
        await eventually(lambda: _online(cluster_stores, station_id))

        def cli(*arguments):
            done = cluster.cli("locallist", *arguments)
            assert done.returncode == 0, done.stderr
            return done.stdout

        cli("add", station_id, "TAG-A", "TAG-B", "--parent", "FLEET")
        assert "full list version 1 accepted" in await asyncio.to_thread(cli, "send", station_id)
        cli("add", station_id, "TAG-C")
        cli("add", station_id, "TAG-A", "--status", "Blocked")
        cli("remove", station_id, "TAG-B")
        assert "differential list version 4 accepted" in await asyncio.to_thread(
            cli, "send", station_id)
        assert (await asyncio.to_thread(cli, "version", station_id)).strip() == "4"
    full, differential = station.received
    assert (full["updateType"], full["listVersion"]) == ("Full", 1)
    assert full["localAuthorizationList"] == [
        {"idTag": "TAG-A", "idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}},
        {"idTag": "TAG-B", "idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}}]
    assert (differential["updateType"], differential["listVersion"]) == ("Differential", 4)
    assert differential["localAuthorizationList"] == [
        {"idTag": "TAG-A", "idTagInfo": {"status": "Blocked"}},
        {"idTag": "TAG-B"},  # no idTagInfo: removed
        {"idTag": "TAG-C", "idTagInfo": {"status": "Accepted"}}]
    held = await cluster_stores.local_lists.get(station_id)
    assert (held.sent_version, sorted(held.sent)) == (4, ["TAG-A", "TAG-C"])


async def test_local_list_of_an_unknown_station(cluster):
    done = cluster.cli("locallist", "send", "NEVER-CONNECTED")
    assert done.returncode == 1 and "never connected" in done.stderr


async def _online(stores, station_id: str) -> bool:
    record = await stores.presence.get(station_id)
    return record is not None and record.online


# -- transactions ----------------------------------------------------------------------

async def test_events_out_of_order_and_repeated_make_one_transaction(cluster, cluster_stores,
                                                                     cluster_bus):
    station_id, transaction_id = new_id("ORDER"), new_id("tx")
    # A station back from offline sends its queue: the end first, an update twice.
    async with Station(cluster.station_url(station_id), "ocpp2.0.1") as station:
        for payload in (event("Ended", transaction_id, 3, 30, 4000, offline=True),
                        event("Updated", transaction_id, 2, 20, 2500, offline=True),
                        event("Updated", transaction_id, 2, 20, 2500, offline=True),
                        started(transaction_id, None, wh=1000, evse=3, offline=True),
                        event("Updated", transaction_id, 1, 10, 1800, offline=True)):
            await station.call("TransactionEvent", payload)
    record = await eventually(lambda: _complete(cluster_stores, station_id, transaction_id, 4))
    assert sorted(record.applied_keys) == ["seq:0", "seq:1", "seq:2", "seq:3"]
    assert (record.evse_id, record.energy_wh, record.offline_events) == (3, 3000, 4)
    assert record.stopped_at == SESSIONS_BEGIN + timedelta(minutes=30)
    # The end came first, so the session had versions before this one; the last wins.
    query = (f"SELECT energy_wh, stop_reason FROM sessions FINAL WHERE station = '{station_id}' "
             "AND energy_wh = 3000")
    rows = await eventually(lambda: rows_when(cluster_bus, query, 1))
    assert rows == [{"energy_wh": 3000, "stop_reason": "EVDisconnected"}]
    everything = await sql(cluster_bus, f"SELECT count() AS n FROM sessions FINAL "
                                        f"WHERE station = '{station_id}'")
    assert everything == [{"n": 1}]


async def test_a_stop_for_an_unknown_transaction_is_kept(cluster, cluster_stores):
    station_id = new_id("LOST")
    async with Station(cluster.station_url(station_id), "ocpp1.6") as station:
        answer = await station.call("StopTransaction", {
            "transactionId": 55555, "meterStop": 300, "timestamp": "2026-11-21T10:00:00Z",
            "idTag": "NOT-KNOWN"})
    assert answer == {"idTagInfo": {"status": "Invalid"}}
    record = await eventually(lambda: ended(cluster_stores, station_id, "55555"))
    assert record.started_at is None and record.last_reading.wh == 300


async def test_a_station_that_reboots_mid_session_has_it_closed_by_rule(cluster, cluster_stores,
                                                                       cluster_bus):
    station_id, token = new_id("REBOOT"), new_id("TAG")
    add_token(cluster, token)
    async with Station(cluster.station_url(station_id), "ocpp1.6") as station:
        # Started minutes ago: silent for far less than the 48 hours of the other rule.
        start = await station.call("StartTransaction", {
            "connectorId": 1, "idTag": token, "meterStart": 100,
            "timestamp": stamp(ago(minutes=5))})
        transaction_id = str(start["transactionId"])
        await eventually(lambda: cluster_stores.transactions.get("tx", station_id, transaction_id))
        await station.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    record = await eventually(lambda: ended(cluster_stores, station_id, transaction_id))
    assert "rebooted" in record.closed_by_rule
    rows = await eventually(lambda: rows_when(
        cluster_bus, f"SELECT closed_by_rule FROM sessions FINAL WHERE station = '{station_id}'",
        1))
    assert "rebooted" in rows[0]["closed_by_rule"]


async def test_three_workers_many_stations_exactly_once(cluster, cluster_stores, cluster_bus):
    """Every transaction event of 12 stations goes through three workers; each is applied
    once, 1.6 ids never repeat; a repeat sent with a new unique id is recognised."""
    results = await asyncio.gather(*(_drive(cluster, index) for index in range(12)))
    ids = [transaction_id for version, station_id, transactions in results
           if version == "ocpp1.6" for transaction_id in transactions]
    assert len(ids) == len(set(ids)) == 6 * 3
    await _check_applied_once(cluster_stores, cluster_bus, results)


async def test_a_worker_killed_mid_stream_loses_and_doubles_nothing(cluster, cluster_stores,
                                                                   cluster_bus):
    driving = asyncio.gather(*(_drive(cluster, index, pause=0.1) for index in range(8)))
    await asyncio.sleep(1.0)
    victim = cluster.workers[0]
    assert victim.poll() is None  # alive, and by now holding some of the stream
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    results = await driving
    await _check_applied_once(cluster_stores, cluster_bus, results)


async def _drive(system, index: int, pause: float = 0.0):
    """One station running three transactions; even stations speak 1.6, odd ones 2.0.1."""
    version = "ocpp1.6" if index % 2 == 0 else "ocpp2.0.1"
    station_id = new_id(f"LOAD{index}")
    transactions = []
    async with Station(system.station_url(station_id), version) as station:
        for number in range(3):
            if version == "ocpp1.6":
                start = await station.call("StartTransaction", {
                    "connectorId": 1, "idTag": "ANYONE", "meterStart": 1000 * number,
                    "timestamp": stamp(SESSIONS_BEGIN + timedelta(hours=number))})
                transaction_id = str(start["transactionId"])
                await asyncio.sleep(pause)
                await station.call("StopTransaction", {
                    "transactionId": start["transactionId"], "meterStop": 1000 * number + 700,
                    "timestamp": stamp(SESSIONS_BEGIN + timedelta(hours=number,
                                                                  minutes=30))})
            else:
                transaction_id = new_id("tx")
                await station.call("TransactionEvent", started(transaction_id, None,
                                                               wh=1000 * number))
                for seq in (1, 2, 3):
                    payload = event("Updated", transaction_id, seq, seq, 1000 * number + seq * 100)
                    await station.call("TransactionEvent", payload)
                    await asyncio.sleep(pause)
                await station.call("TransactionEvent", payload)  # sent again, new unique id
                await station.call("TransactionEvent",
                                   event("Ended", transaction_id, 4, 40, 1000 * number + 700))
            transactions.append(transaction_id)
    return version, station_id, transactions


async def _check_applied_once(stores, bus, results) -> None:
    for version, station_id, transactions in results:
        expected = ["start", "stop"] if version == "ocpp1.6" else [f"seq:{n}" for n in range(5)]
        for transaction_id in transactions:
            record = await eventually(
                lambda station_id=station_id, transaction_id=transaction_id, expected=expected:
                _complete(stores, station_id, transaction_id, len(expected)), 30)
            assert record is not None, (station_id, transaction_id)
            assert sorted(record.applied_keys) == sorted(expected)
            assert record.energy_wh == 700
        # Events applied out of order make earlier versions of a session; the last wins.
        query = (f"SELECT transaction_id, energy_wh FROM sessions FINAL "
                 f"WHERE station = '{station_id}' AND energy_wh = 700")
        rows = await eventually(lambda query=query: rows_when(bus, query, 3), 30)
        assert sorted(row["transaction_id"] for row in rows) == sorted(transactions)
        every = await sql(bus, f"SELECT count() AS n FROM sessions FINAL "
                               f"WHERE station = '{station_id}'")
        assert every == [{"n": 3}]


async def _complete(stores, station_id: str, transaction_id: str, events: int):
    record = await stores.transactions.get("tx", station_id, transaction_id)
    return record if record is not None and len(record.applied) == events \
        and not record.active else None
