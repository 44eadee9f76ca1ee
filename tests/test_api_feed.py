"""The API's event feed and webhooks (chargebus.feed, services/workers/feed.py and
webhooks.py) on the running system: a live feed cut off and resumed from the last id
it gave misses nothing; a webhook whose receiver is down for 60 s gets every event
afterwards, each id once after deduplication, each signed."""
import asyncio
import time

import aiohttp
import orjson
import pytest
from aiohttp import web

from conftest import eventually, free_port
from api_client import Api, is_problem, make_key, new_id
from test_workers import Station
from chargebus.manage import webhooks

STATUSES = ("Available", "Preparing", "Charging", "SuspendedEV", "Finishing")


async def statuses(station: Station, count: int, start: int = 0) -> None:
    for index in range(start, start + count):
        await station.call("StatusNotification", {
            "connectorId": 1, "errorCode": "NoError", "status": STATUSES[index % len(STATUSES)],
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


async def feed_ids(api: Api, station_id: str) -> list[int]:
    """The ids of the station's status events, as the feed's pages hold them."""
    ids, after = [], 0
    while True:
        code, page, _ = await api.get("/events", params={
            "after": str(after), "limit": "1000", "station_id": station_id,
            "kinds": "status.changed"})
        assert code == 200, page
        ids += [event["id"] for event in page["items"]]
        if page["next"] is None:
            return ids
        after = page["next"]


async def read_events(response: aiohttp.ClientResponse, wanted: int, seen: list[dict],
                      timeout: float = 20) -> None:
    """Server-sent events from ``response`` into ``seen`` until it holds ``wanted``."""
    async def read() -> None:
        fields: dict[str, str] = {}
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if not line:
                if "data" in fields:
                    seen.append({"id": int(fields["id"]), "event": fields["event"],
                                 "data": orjson.loads(fields["data"])})
                    if len(seen) >= wanted:
                        return
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
    try:
        await asyncio.wait_for(read(), timeout)
    except TimeoutError:
        raise AssertionError(f"{len(seen)} of {wanted} events came: {seen}") from None


@pytest.mark.asyncio(loop_scope="session")
async def test_a_feed_cut_off_and_resumed_misses_nothing(system, operator_key):
    api = Api(system, operator_key)
    station_id = new_id("FEED")
    url = f"{system.api_url}/events/stream"
    params = {"station_id": station_id, "kinds": "status.changed"}
    seen: list[dict] = []
    async with Station(system.station_url(station_id), "ocpp1.6") as station:
        await station.call("BootNotification", {"chargePointVendor": "V",
                                                "chargePointModel": "M"})
        async with aiohttp.ClientSession(headers=api.headers) as session:
            async with session.get(url, params=params | {"after": "0"}) as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/event-stream")
                await statuses(station, 3)
                await read_events(response, 3, seen)
            # Cut off: the connection is gone while the station goes on.
            await statuses(station, 4, start=3)
            last = seen[-1]["id"]
            async with session.get(url, params=params,
                                   headers={"Last-Event-ID": str(last)}) as response:
                await statuses(station, 2, start=7)
                await read_events(response, 9, seen)
    ids = [event["id"] for event in seen]
    assert ids == sorted(set(ids)) and len(ids) == 9
    assert ids == await feed_ids(api, station_id)
    assert [event["data"]["data"]["status"] for event in seen] == [
        STATUSES[index % len(STATUSES)] for index in range(9)]
    assert {event["event"] for event in seen} == {"status.changed"}
    body = is_problem(await api.get("/events/stream",
                                    headers={"Last-Event-ID": "not-a-number"}), 422,
                      "invalid-request")
    assert "last-event-id" in body["detail"]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_key_sees_only_the_events_of_stations_in_its_reach(system, operator_key):
    site = new_id("feedsite")
    inside, outside = new_id("IN"), new_id("OUT")
    assert (await asyncio.to_thread(system.cli, "stations", "add", inside, "--site",
                                    site)).returncode == 0
    limited = Api(system, await make_key(system, "read", "--sites", site))
    for station_id in (inside, outside):
        async with Station(system.station_url(station_id), "ocpp1.6") as station:
            await statuses(station, 1)

    async def both_in_the_feed():
        return (await feed_ids(Api(system, operator_key), inside)
                and await feed_ids(Api(system, operator_key), outside))
    assert await eventually(both_in_the_feed)
    after = 0
    stations = set()
    while True:
        code, page, _ = await limited.get("/events", params={"after": str(after),
                                                             "limit": "1000"})
        assert code == 200
        stations |= {event["station_id"] for event in page["items"]}
        if page["next"] is None:
            break
        after = page["next"]
    assert inside in stations and outside not in stations
    is_problem(await limited.get("/events", params={"station_id": outside}), 404, "not-found")


class Receiver:
    """A webhook's receiver on a real socket, which can go down and come back."""

    def __init__(self, secret: list[str]):
        self.port = free_port()
        self.secret = secret
        self.received: list[dict] = []
        self.bad_signatures = 0
        self._runner: web.AppRunner | None = None

    async def take(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not webhooks.verify(self.secret[0], request.headers[webhooks.EVENT_ID],
                               request.headers[webhooks.TIMESTAMP], body,
                               request.headers[webhooks.SIGNATURE]):
            self.bad_signatures += 1
            return web.Response(status=400)
        event = orjson.loads(body)
        assert str(event["id"]) == request.headers[webhooks.EVENT_ID]
        self.received.append(event)
        return web.Response(status=204)

    async def up(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.take)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def down(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.mark.timeout(300)
@pytest.mark.asyncio(loop_scope="session")
async def test_a_webhook_receiver_down_for_60_s_gets_every_event_afterwards(system):
    admin = Api(system, await make_key(system, "admin"))
    station_id = new_id("HOOK")
    secret: list[str] = []
    receiver = Receiver(secret)
    await receiver.up()
    code, made, _ = await admin.post("/webhooks", {"url": receiver.url,
                                                   "kinds": ["status.changed"],
                                                   "stations": [station_id]})
    assert code == 201 and made["secret"], made
    assert made["secret"].startswith("whsec_")
    secret.append(made["secret"])
    code, listed, _ = await admin.get("/webhooks")
    assert code == 200 and "secret" not in [hook for hook in listed
                                            if hook["webhook_id"] == made["webhook_id"]][0]
    async with Station(system.station_url(station_id), "ocpp1.6") as station:
        await statuses(station, 2)
        assert await eventually(lambda: _received(receiver, 2), timeout=20)
        await receiver.down()
        down_since = time.monotonic()
        await statuses(station, 5, start=2)
        await asyncio.sleep(max(0.0, 60 - (time.monotonic() - down_since)))
        await receiver.up()
        await statuses(station, 1, start=7)
        async def all_in_the_feed():
            ids = await feed_ids(admin, station_id)
            return ids if len(ids) == 8 else None
        expected = await eventually(all_in_the_feed)
        assert expected and len(expected) == 8
        # Retries back off to at most a minute apart: it is back within that.
        assert await eventually(lambda: _received(receiver, 8), timeout=90)
    distinct = sorted({event["id"] for event in receiver.received})
    assert distinct == expected
    assert [event["kind"] for event in receiver.received] == ["status.changed"] * len(
        receiver.received)
    assert receiver.bad_signatures == 0
    code, _, _ = await admin.call("DELETE", f"/webhooks/{made['webhook_id']}")
    assert code == 204
    await receiver.down()
    reader = Api(system, await make_key(system, "operate"))
    is_problem(await reader.post("/webhooks", {"url": receiver.url}), 403, "forbidden")
    is_problem(await admin.post("/webhooks", {"url": "ftp://example/hook"}), 422,
               "invalid-request")


async def _received(receiver: Receiver, count: int) -> bool:
    return len({event["id"] for event in receiver.received}) >= count


def test_signatures_are_those_of_the_standard_webhooks_specification():
    # The example of standardwebhooks.com's specification, verified as its libraries do.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    given = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert webhooks.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                              body) == given
    assert webhooks.verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body,
                           f"v1,other {given}", now=1614265330 + 60)
    assert not webhooks.verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body,
                               given, now=1614265330 + webhooks.TOLERANCE_SECONDS + 1)
    assert not webhooks.verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
                               body + b" ", given, now=1614265330)
