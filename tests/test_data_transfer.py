"""DataTransfer from a station, in every version, with the `ocpp` package's ChargePoint:
chargebus knows no vendor's extension, so it answers UnknownVendorId, and keeps the
call in the OCPP stream as it keeps the notifications."""
import uuid

import orjson
import pytest
from ocpp import v16, v21, v201

from conftest import ocpp_station
from chargebus.bus import events, subjects
from schema_cases import messages

pytestmark = pytest.mark.asyncio(loop_scope="session")

CLIENTS = {"ocpp1.6": v16, "ocpp2.0.1": v201, "ocpp2.1": v21}
RESPONSE_SCHEMAS = {message.version: message for message in messages()
                    if message.action == "DataTransfer" and message.direction == "response"}


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
