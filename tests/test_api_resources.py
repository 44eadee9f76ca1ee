"""The HTTP API's other resources on the running system, each against what the command
line does with the same library: sites and limits, roll-outs, local lists, log requests
and files, configuration, analytics and station events (JSON and CSV)."""
import uuid

import aiohttp
import pytest

from api_client import Api, is_problem, make_key, new_id
from conftest import eventually
from moments import ago, stamp
from site_stations import cli
from test_operations import Connected
from test_workers import Station

pytestmark = pytest.mark.asyncio(loop_scope="session")


def site_of(site_id: str, station_id: str) -> dict:
    return {"site_id": site_id, "groups": [
        {"group_id": site_id, "watts": 50000},
        {"group_id": "FEEDER-A", "parent": site_id, "amperes": 40, "phases": 3}],
        "evses": [{"station_id": station_id, "evse_id": 1, "group_id": "FEEDER-A",
                   "phases": ["L1", "L2", "L3"], "max_current": 16, "priority": 1}]}


async def test_sites_are_defined_limited_and_removed(system, operator_key):
    admin = Api(system, await make_key(system, "admin"))
    operator = Api(system, operator_key)
    site_id, station_id = f"SITE-{uuid.uuid4().hex[:6]}", new_id("SC")
    is_problem(await operator.call("PUT", f"/sites/{site_id}",
                                   json=site_of(site_id, station_id)), 403, "forbidden")
    code, record, _ = await admin.call("PUT", f"/sites/{site_id}",
                                       json=site_of(site_id, station_id))
    assert code == 200 and record["site"]["site_id"] == site_id, record
    assert record["changed_by"].startswith("api:admin-")
    code, listed, _ = await operator.get("/sites")
    assert site_id in [each["site"]["site_id"] for each in listed]
    taken = is_problem(await admin.call("PUT", "/sites/SITE-OTHER", json=dict(
        site_of("SITE-OTHER", station_id))), 422, "site-refused")
    assert f"is in site {site_id}" in taken["detail"]
    is_problem(await admin.call("PUT", "/sites/SITE-X", json=site_of("SITE-Y", station_id)),
               422, "invalid-request")

    code, limit, _ = await operator.post(f"/sites/{site_id}/limits",
                                         {"group": "FEEDER-A", "amperes": 20, "minutes": 30})
    assert code == 201 and limit["amperes"] == 20 and limit["group_id"] == "FEEDER-A"
    body = is_problem(await operator.post(f"/sites/{site_id}/limits",
                                          {"group": "NOPE", "amperes": 20, "minutes": 5}),
                      422, "site-refused")
    assert "has no group NOPE" in body["detail"]
    is_problem(await operator.post(f"/sites/{site_id}/limits", {"amperes": 20}), 422,
               "invalid-request")

    async def divided():
        code, allocation, _ = await operator.get(f"/sites/{site_id}/allocation")
        return allocation if code == 200 else None
    allocation = await eventually(divided)
    assert allocation and [each["group_id"] for each in allocation["limits"]] == ["FEEDER-A"]
    code, _, _ = await operator.call("DELETE", f"/sites/{site_id}/limits")
    assert code == 204
    code, allocation, _ = await operator.get(f"/sites/{site_id}/allocation")
    assert allocation["limits"] == []

    other_key = Api(system, await make_key(system, "operate", "--sites", "ELSEWHERE"))
    is_problem(await other_key.get(f"/sites/{site_id}"), 404, "not-found")
    assert site_id not in [each["site"]["site_id"] for each in (await other_key.get(
        "/sites"))[1]]
    code, changes, _ = await admin.get("/audit/changes", params={"limit": "10000"})
    assert {("define", site_id), ("limit", site_id), ("unlimit", site_id)} <= {
        (change["action"], change["target"]) for change in changes
        if change["resource"] == "sites"}
    code, _, _ = await admin.call("DELETE", f"/sites/{site_id}")
    assert code == 204
    is_problem(await admin.get(f"/sites/{site_id}"), 404, "not-found")


async def test_a_rollout_is_made_followed_and_cannot_be_changed_once_done(system,
                                                                         operator_key):
    api = Api(system, operator_key)
    never = [new_id("RO"), new_id("RO")]  # never connected: each fails at once
    code, made, _ = await api.post("/rollouts", {"url": "https://example.com/fw.bin",
                                                 "stations": never, "pause_share": 1})
    assert code == 201 and [each["station_id"] for each in made["stations"]] == never, made
    assert made["created_by"].startswith("api:")

    async def done():
        _, record, _ = await api.get(f"/rollouts/{made['rollout_id']}")
        return record if record["state"] == "done" else None
    record = await eventually(done, timeout=30)
    assert record and {each["state"] for each in record["stations"]} == {"failed"}
    body = is_problem(await api.post(f"/rollouts/{made['rollout_id']}/pause"), 409,
                      "rollout-unchanged")
    assert "is done" in body["detail"]
    code, listed, _ = await api.get("/rollouts")
    assert made["rollout_id"] in [each["rollout_id"] for each in listed]
    is_problem(await api.post("/rollouts", {"url": "https://example.com/fw.bin",
                                            "model": f"NO-SUCH-{uuid.uuid4().hex}"}),
               422, "rollout-refused")
    is_problem(await api.post("/rollouts", {"image": "missing.bin", "stations": never}),
               422, "rollout-refused")
    is_problem(await api.post("/rollouts", {"url": "https://example.com/fw.bin"}), 422,
               "invalid-request")
    is_problem(await api.get("/rollouts/R-00000000"), 404, "not-found")


async def test_a_local_list_is_edited_through_the_api(system, operator_key):
    api = Api(system, operator_key)
    station_id, token = new_id("LL"), new_id("LLT").upper()[:20]
    path = f"/stations/{station_id}/local-list"
    code, listed, _ = await api.call("PUT", f"{path}/entries/{token}",
                                     json={"status": "Accepted"})
    assert code == 200 and listed["version"] == 1 and token in listed["entries"], listed
    code, listed, _ = await api.get(path)
    assert code == 200 and listed["entries"][token]["status"] == "Accepted"
    body = is_problem(await api.post(f"{path}/send"), 422, "local-list-refused")
    assert "never connected" in body["detail"]
    code, listed, _ = await api.call("DELETE", f"{path}/entries/{token}")
    assert code == 200 and listed["version"] == 2 and listed["entries"] == {}
    is_problem(await api.call("DELETE", f"{path}/entries/{token}"), 404, "not-found")


async def test_configuration_is_fetched_and_read(system, bus, operator_key):
    api = Api(system, operator_key)
    async with Connected(system, bus, "ocpp1.6") as connected:
        station = f"/stations/{connected.station_id}"
        code, done, _ = await api.post(f"{station}/configuration/fetch")
        assert code == 200 and done["taken"], done
        code, components, _ = await api.get(f"{station}/configuration")
        assert code == 200
        keys = {name for component in components for name in component["variables"]}
        assert "HeartbeatInterval" in keys
        body = is_problem(await api.post(f"{station}/firmware/update", {
            "location": "chargebus-files:no-such-image.bin", "retrieve_at": stamp(ago())}),
            422, "operation-refused")
        assert "no-such-image.bin" in body["detail"]


async def test_files_are_listed_and_fetched_through_the_file_service(system, operator_key,
                                                                    tmp_path):
    api = Api(system, operator_key)
    name = f"fw-{uuid.uuid4().hex[:8]}.bin"
    image = tmp_path / name
    image.write_bytes(b"firmware " * 1000)
    published = await cli(system, "files", "publish", str(image))
    assert published.returncode == 0, published.stderr
    code, held, _ = await api.get("/files", params={"purpose": "firmware"})
    [stored] = [each for each in held if each["name"] == name]
    async with aiohttp.ClientSession(headers=api.headers) as session:
        async with session.get(f"{api.root}/files/{stored['file_id']}/download",
                               allow_redirects=False) as response:
            assert response.status == 303
            location = response.headers["Location"]
        assert location.startswith(f"http://127.0.0.1:{system.files_port}/")
        async with session.get(location) as response:
            assert response.status == 200 and await response.read() == image.read_bytes()
    limited = Api(system, await make_key(system, "read", "--sites", "NOWHERE"))
    code, seen, _ = await limited.get("/files")
    assert code == 200 and name not in [each["name"] for each in seen]
    is_problem(await limited.get(f"/files/{stored['file_id']}/download"), 404, "not-found")
    code, requests, _ = await api.get("/log-requests")
    assert code == 200 and isinstance(requests, list)


async def test_analytics_and_station_events_as_json_and_csv(system, operator_key):
    api = Api(system, operator_key)
    station_id = new_id("AN")
    async with Station(system.station_url(station_id), "ocpp1.6") as station:
        await station.call("BootNotification", {"chargePointVendor": "V",
                                                "chargePointModel": "M"})
        await station.call("MeterValues", {"connectorId": 1, "meterValue": [{
            "timestamp": stamp(ago(minutes=1)), "sampledValue": [{"value": "1234"}]}]})

    async def series():
        code, rows, _ = await api.get(f"/stations/{station_id}/series")
        return rows if code == 200 and rows else None
    rows = await eventually(series, timeout=30)
    assert rows and rows[0]["value"] == 1234, rows
    async with aiohttp.ClientSession(headers=api.headers) as session:
        async with session.get(f"{api.root}/stations/{station_id}/series",
                               params={"format": "csv"}) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/csv")
            lines = (await response.text()).splitlines()
    assert lines[0].split(",")[:2] == ["at", "evse_id"] and len(lines) == 2

    async def booted():
        code, found, _ = await api.get("/station-events", params={
            "station_id": station_id, "action": "BootNotification"})
        return found if code == 200 and found else None
    events = await eventually(booted, timeout=30)
    assert events and events[0]["action"] == "BootNotification"
    code, silent, _ = await api.get("/analytics/silent", params={"minutes": "100000"})
    assert code == 200 and isinstance(silent, list)
    body = is_problem(await api.get("/analytics/energy", params={
        "since": stamp(ago(minutes=1)), "until": stamp(ago(minutes=2))}), 422,
        "invalid-request")
    assert body["detail"].startswith("query.since")
    is_problem(await api.get("/analytics/energy", params={"since": "0"}), 422,
               "invalid-request")
    outside = Api(system, await make_key(system, "read", "--stations", new_id("ELSE")))
    code, rows, _ = await outside.get("/analytics/silent", params={"minutes": "1"})
    assert code == 200 and station_id not in [row.get("station") for row in rows]
    is_problem(await outside.get(f"/stations/{station_id}/series"), 404, "not-found")
