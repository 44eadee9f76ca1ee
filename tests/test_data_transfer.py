"""DataTransfer from a station, in every version, with the `ocpp` package's ChargePoint:
the integration that serves its vendor id answers it (on subjects.vendor_data, under
the data-transfer identity); where none does, chargebus answers UnknownVendorId; and
the call is kept in the OCPP stream with the answer the station got."""
import uuid

import orjson
import pytest
from ocpp import v16, v21, v201

from conftest import ocpp_station
from chargebus.bus import events, subjects
from chargebus.security.permissions import Role
from schema_cases import messages

ASYNC = pytest.mark.asyncio(loop_scope="session")

CLIENTS = {"ocpp1.6": v16, "ocpp2.0.1": v201, "ocpp2.1": v21}
RESPONSE_SCHEMAS = {message.version: message for message in messages()
                    if message.action == "DataTransfer" and message.direction == "response"}


@ASYNC
@pytest.mark.parametrize("version", list(CLIENTS))
async def test_data_transfer_is_answered_unknown_vendor_and_kept(system, bus, version):
    client = CLIENTS[version]
    station_id = f"DT-{uuid.uuid4().hex[:8]}"
    async with ocpp_station(system, station_id, client.ChargePoint, [version],
                            version) as station:
        reply = await station.call(client.call.DataTransfer(
            vendor_id="com.example.meters", message_id="Reading", data="42"))
    assert reply.status == "UnknownVendorId"

    kept = await bus.jetstream().get_last_msg(
        subjects.OCPP_STREAM, subjects.station_event(station_id, "DataTransfer"))
    assert orjson.loads(kept.data) == {"vendorId": "com.example.meters",
                                       "messageId": "Reading", "data": "42"}
    assert kept.headers[events.VERSION] == version
    answer = orjson.loads(kept.headers[events.ANSWER])  # what the station was answered
    assert answer == {"status": "UnknownVendorId"}
    assert not RESPONSE_SCHEMAS[version].oracle_errors(answer)


@ASYNC
@pytest.mark.parametrize("version", list(CLIENTS))
async def test_the_integration_of_the_vendor_answers(system, version):
    client = CLIENTS[version]
    station_id = f"DTV-{uuid.uuid4().hex[:8]}"
    vendor_id = f"com.example.{uuid.uuid4().hex[:6]}"
    integration = await system.connect(Role.DATA_TRANSFER)
    asked = []

    async def answer(msg):
        asked.append((orjson.loads(msg.data), msg.headers[events.STATION]))
        request = orjson.loads(msg.data)
        if request.get("messageId") == "Broken":
            await msg.respond(b'{"status": "Maybe"}')
        else:
            await msg.respond(orjson.dumps({"status": "Accepted", "data": "pong"}))
    await integration.subscribe(subjects.vendor_data(vendor_id), cb=answer)
    try:
        async with ocpp_station(system, station_id, client.ChargePoint, [version],
                                version) as station:
            served = await station.call(client.call.DataTransfer(
                vendor_id=vendor_id, message_id="Ping", data="ping"))
            broken = await station.call(client.call.DataTransfer(
                vendor_id=vendor_id, message_id="Broken"))
    finally:
        await integration.close()
    assert (served.status, served.data) == ("Accepted", "pong")
    # What the version does not allow goes no further than the edge.
    assert broken.status == "Rejected"
    assert asked == [({"vendorId": vendor_id, "messageId": "Ping", "data": "ping"}, station_id),
                     ({"vendorId": vendor_id, "messageId": "Broken"}, station_id)]


def test_a_vendor_id_is_one_subject_token():
    assert subjects.vendor_data("com.example") == "cb.vendor.com=2Eexample"
    assert subjects.vendor_data("A-b_9") == "cb.vendor.A-b_9"
    assert subjects.vendor_data("x y>*é") == "cb.vendor.x=20y=3E=2A=C3=A9"
