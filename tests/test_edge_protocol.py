"""What the edge answers to frames and connections that are not what they should be."""
import uuid

import orjson
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from chargebus.bus import subjects

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def exchange(system, subprotocol: str, frames: list[bytes | str]) -> list:
    """Send each frame and read one answer to each."""
    station_id = f"RAW-{uuid.uuid4().hex[:8]}"
    async with websockets.connect(system.station_url(station_id),
                                  subprotocols=[subprotocol]) as socket:
        answers = []
        for frame in frames:
            await socket.send(frame)
            answers.append(orjson.loads(await socket.recv()))
        return answers


@pytest.mark.parametrize("subprotocol, codes", [
    ("ocpp2.0.1", {"rpc": "RpcFrameworkError", "format": "FormatViolation",
                   "type": "MessageTypeNotSupported"}),
    ("ocpp1.6", {"rpc": "FormationViolation", "format": "FormationViolation",
                 "type": "FormationViolation"}),
])
async def test_broken_frames_get_the_versions_error_codes(system, subprotocol, codes):
    answers = await exchange(system, subprotocol, [
        "this is not json",
        '{"not": "an array"}',
        '[2, 42, "Heartbeat", {}]',
        '[2, "f-1", "Heartbeat"]',
        '[2, "f-2", "Heartbeat", "payload"]',
        '[9, "t-1", "Heartbeat", {}]',
        '[2, "ok-1", "Heartbeat", {}]',  # the connection is still fine afterwards
    ])
    assert [answer[:3] for answer in answers[:6]] == [
        [4, "-1", codes["rpc"]],
        [4, "-1", codes["rpc"]],
        [4, "-1", codes["rpc"]],
        [4, "f-1", codes["format"]],
        [4, "f-2", codes["format"]],
        [4, "t-1", codes["type"]],
    ]
    assert all(len(answer) == 5 and answer[3] and answer[4] == {} for answer in answers[:6])
    assert answers[6][:2] == [3, "ok-1"] and answers[6][2]["currentTime"].endswith("Z")


async def test_ocpp21_message_types_are_refused_on_201(system):
    answers = await exchange(system, "ocpp2.0.1", ['[6, "s-1", "NotifyPeriodicEventStream", {}]'])
    assert answers[0][:3] == [4, "s-1", "MessageTypeNotSupported"]


@pytest.mark.parametrize("subprotocol, action, payload, code", [
    ("ocpp1.6", "Reset", '{"type": "Soft"}', "NotSupported"),  # the CSMS's to send
    ("ocpp1.6", "TransactionEvent", "{}", "NotImplemented"),  # a 2.x action
    ("ocpp1.6", "MakeCoffee", "{}", "NotImplemented"),
    ("ocpp2.0.1", "Reset", '{"type": "Immediate"}', "NotSupported"),
    ("ocpp2.0.1", "StartTransaction", "{}", "NotImplemented"),  # a 1.6 action
    ("ocpp2.0.1", "MakeCoffee", "{}", "NotImplemented"),
])
async def test_unhandled_and_unknown_actions(system, subprotocol, action, payload, code):
    answers = await exchange(system, subprotocol, [f'[2, "a-1", "{action}", {payload}]'])
    assert answers[0][:3] == [4, "a-1", code]
    assert action in answers[0][3]


@pytest.mark.parametrize("subprotocol, action, payload", [
    ("ocpp1.6", "FirmwareStatusNotification", {"status": "Installed"}),
    ("ocpp1.6", "SecurityEventNotification",
     {"type": "FirmwareUpdated", "timestamp": "2026-11-21T10:00:00Z"}),
    ("ocpp2.0.1", "SecurityEventNotification",
     {"type": "SettingSystemTime", "timestamp": "2026-11-21T10:00:00Z"}),
    ("ocpp2.0.1", "NotifyReport", {"requestId": 1, "generatedAt": "2026-11-21T10:00:00Z",
                                   "seqNo": 0}),
])
async def test_notifications_are_kept_before_they_are_answered(system, bus, subprotocol,
                                                               action, payload):
    station_id = f"NOTE-{uuid.uuid4().hex[:8]}"
    async with websockets.connect(system.station_url(station_id),
                                  subprotocols=[subprotocol]) as socket:
        await socket.send(orjson.dumps([2, "n-1", action, payload]).decode())
        answer = orjson.loads(await socket.recv())
    assert answer == [3, "n-1", {}]
    kept = await bus.jetstream().get_last_msg(subjects.OCPP_STREAM,
                                              subjects.station_event(station_id, action))
    assert orjson.loads(kept.data) == payload


async def test_replies_from_the_station_are_not_answered(system):
    station_id = f"RAW-{uuid.uuid4().hex[:8]}"
    async with websockets.connect(system.station_url(station_id),
                                  subprotocols=["ocpp1.6"]) as socket:
        await socket.send('[3, "never-sent", {}]')
        await socket.send('[4, "never-sent-2", "GenericError", "", {}]')
        await socket.send('[2, "hb", "Heartbeat", {}]')
        answer = orjson.loads(await socket.recv())
    assert answer[:2] == [3, "hb"]  # the first thing back is the heartbeat's answer


@pytest.mark.parametrize("path, subprotocols, status", [
    ("/ocpp/CP.1", ["ocpp1.6"], 400),  # '.' would split a NATS subject
    ("/ocpp/CP*", ["ocpp1.6"], 400),
    ("/ocpp/CP%3E1", ["ocpp1.6"], 400),  # '>' percent-encoded
    ("/ocpp/" + "x" * 49, ["ocpp1.6"], 400),
    ("/ocpp/", ["ocpp1.6"], 400),
    ("/ocpp/CP%2F..%2Fetc", ["ocpp1.6"], 400),
    ("/other/CP1", ["ocpp1.6"], 404),
    ("/ocpp/CP1", ["ocpp1.5"], 400),  # no common subprotocol
    ("/ocpp/CP1", [], 400),
])
async def test_connections_refused_before_the_upgrade(system, path, subprotocols, status):
    url = f"ws://127.0.0.1:{system.edge_port}{path}"
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(url, subprotocols=subprotocols or None):
            pass
    assert refused.value.response.status_code == status
    assert refused.value.response.body  # the reason, in words


async def test_station_id_with_allowed_punctuation_connects(system):
    async with websockets.connect(system.station_url("CP-1_a=b:c+d|e@f"),
                                  subprotocols=["ocpp1.6"]) as socket:
        await socket.send('[2, "hb", "Heartbeat", {}]')
        assert orjson.loads(await socket.recv())[:2] == [3, "hb"]


async def test_a_second_connection_of_a_station_replaces_the_first(system):
    url = system.station_url(f"DUP-{uuid.uuid4().hex[:8]}")
    async with websockets.connect(url, subprotocols=["ocpp1.6"]) as first:
        async with websockets.connect(url, subprotocols=["ocpp1.6"]) as second:
            await first.wait_closed()
            assert first.close_code == 1008
            await second.send('[2, "hb", "Heartbeat", {}]')
            assert orjson.loads(await second.recv())[:2] == [3, "hb"]


async def test_ocpp21_is_preferred_and_answered(system, stores):
    station_id = f"V21-{uuid.uuid4().hex[:8]}"
    async with websockets.connect(system.station_url(station_id),
                                  subprotocols=["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]) as socket:
        assert socket.subprotocol == "ocpp2.1"
        # SEND needs no answer and gets none: the next thing back answers the boot.
        await socket.send(orjson.dumps([6, "s-1", "NotifyPeriodicEventStream", {
            "id": 1, "pending": 0, "basetime": "2026-11-21T10:00:00Z",
            "data": [{"t": 0.5, "v": "1"}]}]).decode())
        await socket.send(orjson.dumps([2, "b-1", "BootNotification", {
            "reason": "PowerUp",
            "chargingStation": {"model": "M21", "vendorName": "V21"}}]).decode())
        answer = orjson.loads(await socket.recv())
    assert answer[:2] == [3, "b-1"] and answer[2]["status"] == "Accepted"
    info = await stores.stations.get(station_id)
    assert (info.version, info.model) == ("ocpp2.1", "M21")
