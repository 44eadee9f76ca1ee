"""The operator's HTTP API (chargebus.services.api) against the running system: keys,
scopes and reach, the fleet, operations on real stations of each OCPP version (the
`ocpp` library's, tests/operation_stations.py), tokens, records and problems."""
import asyncio
import ssl
import uuid

import aiohttp
import pytest

from api_client import Api, is_problem, make_key, new_id
from certificates import Authority
from conftest import CHARGEBUS, eventually, free_port, service_process
from site_stations import cli
from test_operations import VERSIONS, Connected
from chargebus.security import apikeys
from chargebus.simulate import Options, parse_mix
from chargebus.simulate.options import versions_of_stations

pytestmark = pytest.mark.asyncio(loop_scope="session")

# -- keys ---------------------------------------------------------------------------------

async def test_only_the_health_check_answers_without_a_key(system, operator_key):
    anonymous = Api(system, None)
    code, health, _ = await anonymous.get("/health")
    assert code == 200 and health["status"] == "ok"
    for path in ("/stations", "/tokens", "/transactions", "/audit/commands",
                 "/commands/" + "0" * 32):
        body = is_problem(await anonymous.get(path), 401, "unauthorized")
        assert "no API key" in body["detail"]
    _, _, headers = await anonymous.get("/stations")
    assert headers["WWW-Authenticate"].startswith("Bearer")
    wrong = operator_key[:-2] + ("AA" if not operator_key.endswith("AA") else "BB")
    assert "no such API key" in is_problem(await Api(system, wrong).get("/stations"), 401,
                                           "unauthorized")["detail"]
    assert "not an API key" in is_problem(await Api(system, "secret").get("/stations"), 401,
                                          "unauthorized")["detail"]


async def test_a_revoked_key_stops_working_at_once(system):
    key = await make_key(system, "read")
    api = Api(system, key)
    assert (await api.get("/stations"))[0] == 200
    revoked = await cli(system, "api-keys", "revoke", apikeys.key_id_of(key))
    assert revoked.returncode == 0, revoked.stderr

    async def refused():
        code, body, _ = await api.get("/stations")
        return code == 401 and "revoked" in body["detail"]
    assert await eventually(refused, timeout=2)


async def test_a_read_key_reads_and_cannot_operate(system, bus):
    reader = Api(system, await make_key(system, "read"))
    async with Connected(system, bus, "ocpp2.0.1") as connected:
        code, station, _ = await reader.get(f"/stations/{connected.station_id}")
        assert code == 200 and station["online"] and station["boot"] is None
        body = is_problem(await reader.post(f"/stations/{connected.station_id}/reset",
                                            {"kind": "Soft"}), 403, "forbidden")
        assert "scope operate" in body["detail"] and "read" in body["detail"]
        is_problem(await reader.call("PUT", "/tokens/NOPE-1", json={}), 403, "forbidden")
    assert connected.station.availability == {}  # nothing reached it


async def test_a_key_limited_to_one_site_sees_nothing_of_another(system, bus, operator_key):
    depot, mall = new_id("depot"), new_id("mall")
    async with Connected(system, bus, "ocpp1.6") as here, \
            Connected(system, bus, "ocpp2.0.1") as there:
        for station_id, site in ((here.station_id, depot), (there.station_id, mall)):
            added = await cli(system, "stations", "add", station_id, "--site", site)
            assert added.returncode == 0, added.stderr
        limited = Api(system, await make_key(system, "operate", "--sites", depot))
        everyone = Api(system, operator_key)

        async def sites_known():
            _, page, _ = await everyone.get("/stations", params={"limit": "10000"})
            sites = {item["station_id"]: item["site"] for item in page["items"]}
            return sites.get(here.station_id) == depot and sites.get(there.station_id) == mall
        assert await eventually(sites_known, timeout=5)

        code, page, _ = await limited.get("/stations", params={"limit": "10000"})
        assert code == 200 and [item["station_id"] for item in page["items"]] == [here.station_id]
        is_problem(await limited.get(f"/stations/{there.station_id}"), 404, "not-found")
        is_problem(await limited.post(f"/stations/{there.station_id}/clear-cache"), 404,
                   "not-found")
        code, done, _ = await limited.post(f"/stations/{here.station_id}/clear-cache")
        assert code == 200 and done["taken"], done
        code, done, _ = await everyone.post(f"/stations/{there.station_id}/clear-cache")
        assert code == 200 and done["taken"], done
        code, trail, _ = await limited.get("/audit/commands")
        stations = {record["station_id"] for record in trail}
        assert here.station_id in stations and there.station_id not in stations
        is_problem(await limited.get("/transactions", params={"station_id": there.station_id}),
                   404, "not-found")
        assert "whole network" in is_problem(await limited.get("/tokens"), 403,
                                             "forbidden")["detail"]


async def test_each_key_has_its_own_rate(system):
    key = await make_key(system, "read")
    api = Api(system, key)
    async with aiohttp.ClientSession() as session:
        async def listing() -> tuple[int, str | None]:
            async with session.get(api.root + "/stations", params={"limit": "1"},
                                   headers=api.headers) as response:
                return response.status, response.headers.get("Retry-After")
        # The default burst is 100: 150 at once cannot all pass.
        answers = await asyncio.gather(*(listing() for _ in range(150)))
    limited = [retry for code, retry in answers if code == 429]
    assert limited and all(retry is not None and int(retry) >= 1 for retry in limited)
    assert sum(code == 200 for code, _ in answers) >= 100
    # Another key is not held back by this one's.
    assert (await Api(system, await make_key(system, "read")).get("/stations"))[0] == 200


# -- stations and operations --------------------------------------------------------------

async def test_the_fleet_is_paged_in_the_order_of_station_ids(system, bus, operator_key):
    api = Api(system, operator_key)
    async with Connected(system, bus, "ocpp1.6") as one, \
            Connected(system, bus, "ocpp2.1") as other:
        async def listed():
            _, page, _ = await api.get("/stations", params={"limit": "10000", "online": "true"})
            ids = [item["station_id"] for item in page["items"]]
            return ids if {one.station_id, other.station_id} <= set(ids) else None
        everything = await eventually(listed, timeout=5)
        assert everything == sorted(everything)
        seen, after = [], None
        while True:
            params = {"limit": "2", "online": "true"} | ({"after": after} if after else {})
            code, page, _ = await api.get("/stations", params=params)
            assert code == 200 and len(page["items"]) <= 2
            seen += [item["station_id"] for item in page["items"]]
            after = page["next"]
            if after is None:
                break
        assert set(everything) <= set(seen) and seen == sorted(seen)
        code, page, _ = await api.get("/stations", params={"version": "ocpp2.1",
                                                           "limit": "10000"})
        versions = {item["version"] for item in page["items"]}
        assert versions == {"ocpp2.1"}
    is_problem(await api.get("/stations", params={"limit": "0"}), 422, "invalid-request")
    is_problem(await api.get("/stations/bad.id"), 422, "invalid-request")
    is_problem(await api.get(f"/stations/{new_id('NEVER')}"), 404, "not-found")


@pytest.mark.parametrize("subprotocol", VERSIONS)
async def test_operations_answer_with_the_stations_result(system, bus, operator_key,
                                                         subprotocol):
    api = Api(system, operator_key)
    async with Connected(system, bus, subprotocol) as connected:
        station = f"/stations/{connected.station_id}"
        code, done, _ = await api.post(f"{station}/availability",
                                       {"availability": "Inoperative", "evse_id": 1})
        assert code == 200 and done["taken"] and done["outcome"] == "result", done
        assert done["result"]["status"] == "Accepted"
        assert list(connected.station.availability.values()) == ["Inoperative"]
        names = [] if connected.is_16 else [{"component": "OCPPCommCtrlr",
                                             "variable": "HeartbeatInterval"}]
        code, done, _ = await api.post(f"{station}/configuration/get", {"names": names})
        assert code == 200 and done["result"]["variables"], done
        code, done, _ = await api.post(f"{station}/trigger", {"message": "Heartbeat"})
        assert code == 200 and done["taken"]
        connected.station.refusing = True
        code, done, _ = await api.post(f"{station}/reset", {"kind": "Soft"})
        assert code == 200 and not done["taken"] and done["result"]["status"] == "Rejected"
        connected.station.refusing = False

        body = is_problem(await api.post(f"{station}/reset", {"kind": "Sideways"}), 422,
                          "invalid-request")
        assert body["errors"][0]["field"] == "body.kind"
        body = is_problem(await api.post(f"{station}/unlock", {"evse_id": 0}), 422,
                          "invalid-request")
        assert body["detail"].startswith("body.evse_id")

        connected.station.silent = True
        body = is_problem(await api.post(f"{station}/clear-cache", params={"timeout": "1"}),
                          504, "station-timeout")
        assert body["outcome"] == "timeout"
        connected.station.silent = False
    body = is_problem(await api.post(f"{station}/clear-cache"), 409, "station-offline")
    assert body["station_id"] == connected.station_id


async def test_a_remote_start_with_a_token_made_through_the_api(system, bus, operator_key):
    api = Api(system, operator_key)
    token = new_id("APITOK").upper()[:20]
    async with Connected(system, bus, "ocpp2.0.1") as connected:
        start = f"/stations/{connected.station_id}/remote-start"
        body = is_problem(await api.post(start, {"id_token": {"value": token}}), 422,
                          "operation-refused")
        assert "unknown to chargebus" in body["detail"]
        code, put, _ = await api.call("PUT", f"/tokens/{token}", json={"status": "Accepted"})
        assert code == 200 and put["token"]["id_token"] == token
        code, done, _ = await api.post(start, {"id_token": {"value": token}, "evse_id": 1})
        assert code == 200 and done["taken"], done
        assert connected.station.remote_starts[-1]["id_token"]["id_token"] == token


async def test_an_operation_not_waited_for_is_polled_to_its_end(system, bus, operator_key):
    api = Api(system, operator_key)
    async with Connected(system, bus, "ocpp1.6") as connected:
        code, accepted, headers = await api.post(
            f"/stations/{connected.station_id}/clear-cache", params={"wait": "false"})
        assert code == 202 and headers["Location"] == accepted["status_url"]
        assert accepted["station_id"] == connected.station_id

        async def done():
            _, state, _ = await api.get(accepted["status_url"].removeprefix("/api/v1"))
            return state if state["state"] == "done" else None
        state = await eventually(done, timeout=10)
    assert state["performed"]["taken"] and state["performed"]["action"] == "ClearCache"
    assert state["requested_by"].startswith("api:")
    is_problem(await api.get("/commands/" + "f" * 32), 404, "not-found")
    is_problem(await api.get("/commands/nonsense"), 422, "invalid-request")


# -- tokens and records ------------------------------------------------------------------

async def test_tokens_are_made_changed_imported_and_deleted_with_the_cli_checks(
        system, operator_key):
    api = Api(system, operator_key)
    first, second, long = new_id("CSV").upper(), new_id("CSV").upper(), new_id("W" * 12)
    code, put, _ = await api.call("PUT", f"/tokens/{long}", json={"max_active": 0})
    assert code == 200 and put["warning"].startswith("longer than 20 characters")
    is_problem(await api.call("PUT", f"/tokens/{first}", json={"max_active": -1}), 422,
               "invalid-request")
    code, blocked, _ = await api.post(f"/tokens/{long}/block")
    assert code == 200 and blocked["status"] == "Blocked"

    bad = f"id_token,status\n{first},Accepted\nX,Sleepy\n".encode()
    body = is_problem(await api.call("POST", "/tokens/import", data=bad,
                                     headers={"Content-Type": "text/csv"}), 422, "invalid-csv")
    assert body["detail"].startswith("line 3")
    is_problem(await api.get(f"/tokens/{first}"), 404, "not-found")
    good = f"id_token,status,max_active\n{first},Accepted,2\n{second},Blocked,\n".encode()
    code, imported, _ = await api.call("POST", "/tokens/import", data=good,
                                       headers={"Content-Type": "text/csv"})
    assert code == 200 and imported["imported"] == 2
    code, token, _ = await api.get(f"/tokens/{first.lower()}")
    assert code == 200 and token["max_active"] == 2
    latin = "id_token\nM\xfcller\n".encode("latin-1")
    assert "not UTF-8" in is_problem(await api.call("POST", "/tokens/import", data=latin),
                                     422, "invalid-csv")["detail"]

    code, _, _ = await api.call("DELETE", f"/tokens/{second}")
    assert code == 204
    is_problem(await api.call("DELETE", f"/tokens/{second}"), 404, "not-found")
    code, changes, _ = await api.get("/audit/changes", params={"limit": "10000"})
    mine = [(change["action"], change["target"]) for change in changes
            if change["target"] in (long, second) or change["action"] == "import"]
    assert ("put", long) in mine and ("block", long) in mine and ("delete", second) in mine
    assert all(change["sender"].startswith("api:operate-") for change in changes
               if change["target"] == long)


async def test_every_route_is_in_the_openapi_document(system):
    async with aiohttp.ClientSession() as session:
        async with session.get(system.api_url + "/openapi.json") as response:
            document = await response.json()
        async with session.get(system.api_url + "/docs") as response:
            page = await response.text()
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/stations/{station_id}/reset" in document["paths"]
    assert document["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    assert "openapi.json" in page and response.status == 200


# -- TLS and a second API process -------------------------------------------------------

async def test_a_second_api_process_serves_https_with_the_same_keys(system, operator_key,
                                                                    tmp_path):
    ca = Authority(tmp_path, "api-ca")
    server = ca.issue("api", server=True)
    port = free_port()
    tls = {"CHARGEBUS_API_PORT": str(port),
           "CHARGEBUS_API_TLS_CERTIFICATE": str(server.certificate),
           "CHARGEBUS_API_TLS_KEY": str(server.key)}
    with service_process("api", system, tls):
        url = f"https://127.0.0.1:{port}/api/v1/stations?limit=1"
        trusting = ssl.create_default_context(cafile=str(ca.certificate))
        async with aiohttp.ClientSession() as session:
            async with session.get(url, ssl=trusting, headers={
                    "Authorization": f"Bearer {operator_key}"}) as response:
                assert response.status == 200 and "items" in await response.json()
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get(url, ssl=ssl.create_default_context())
            async with session.get(url, ssl=trusting) as response:
                assert response.status == 401  # no key, over TLS as well


# -- the simulator's stations -----------------------------------------------------------

@pytest.mark.timeout(120)
async def test_simulated_stations_through_the_api(system, operator_key):
    """The project's simulator, each version: the fleet pages show them all, a token made
    through the API starts a transaction at each, which the API then lists under way and
    the feed reports."""
    api = Api(system, operator_key)
    prefix = f"SAPI{uuid.uuid4().hex[:6]}-"
    mix = "1.6=1,2.0.1=1,2.1=1"
    versions = versions_of_stations(6, parse_mix(mix))
    ids = [Options(url="ws://x/", station_prefix=prefix).station_id(index)
           for index in range(len(versions))]
    token = new_id("SIMTOK").upper()[:20]
    code, _, _ = await api.call("PUT", f"/tokens/{token}", json={"max_active": 0})
    assert code == 200
    simulator = await asyncio.create_subprocess_exec(
        CHARGEBUS, "simulate", "--quiet", "--url", f"ws://127.0.0.1:{system.edge_port}/ocpp/",
        "--mode", "idle", "--stations", str(len(ids)), "--mix", mix, "--duration", "40",
        "--station-prefix", prefix,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async def all_online():
            online, after = {}, None
            while True:
                params = {"limit": "2", "online": "true"} | ({"after": after} if after else {})
                _, page, _ = await api.get("/stations", params=params)
                online |= {item["station_id"]: item["version"] for item in page["items"]
                           if item["station_id"].startswith(prefix)}
                after = page["next"]
                if after is None:
                    return online if len(online) == len(ids) else None
        online = await eventually(all_online, timeout=30)
        assert online == {station_id: version.value
                          for station_id, version in zip(ids, versions, strict=True)}
        started = []
        for station_id in ids[:3]:
            code, done, _ = await api.post(f"/stations/{station_id}/remote-start",
                                           {"id_token": {"value": token}})
            assert code == 200 and done["taken"], done
            started.append(station_id)

        async def under_way():
            _, active, _ = await api.get("/transactions/active")
            stations = {item["station_id"] for item in active["items"]}
            return set(started) <= stations

        assert await eventually(under_way, timeout=30)

        async def reported():
            seen, after = set(), 0
            while True:
                _, page, _ = await api.get("/events", params={
                    "after": str(after), "limit": "1000", "kinds": "transaction.started"})
                seen |= {event["station_id"] for event in page["items"]}
                if page["next"] is None:
                    return set(started) <= seen
                after = page["next"]
        assert await eventually(reported, timeout=20)
    finally:
        if simulator.returncode is None:
            simulator.terminate()
        await simulator.communicate()
