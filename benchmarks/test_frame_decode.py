"""Envelope decoding per frame: chargebus compiled and pure against bare orjson.loads
and the `ocpp` library's unpack, in one run. Schema validation is not in these numbers.

    make bench        (or: .venv/bin/python -m pytest benchmarks --benchmark-only)

Read the ratios, not the absolute times: the machine is shared and noisy.
"""
import orjson
import pytest
from ocpp.messages import unpack

from chargebus_core import frame_c, frame_py

FRAMES = {
    "Heartbeat": b'[2,"19223201","Heartbeat",{}]',
    "BootNotification": orjson.dumps([2, "19223202", "BootNotification", {
        "chargePointVendor": "Alfen BV", "chargePointModel": "NG920-5250",
        "chargePointSerialNumber": "ACE0123456", "firmwareVersion": "6.1.2-4077"}]),
    "MeterValues16": orjson.dumps([2, "19223203", "MeterValues", {
        "connectorId": 1, "transactionId": 1042, "meterValue": [{
            "timestamp": "2026-11-21T10:05:00.000Z", "sampledValue": [
                {"value": "15240.5", "context": "Sample.Periodic",
                 "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": "7.36", "context": "Sample.Periodic",
                 "measurand": "Power.Active.Import", "unit": "kW"},
                {"value": "16.02", "context": "Sample.Periodic", "measurand": "Current.Import",
                 "phase": "L1", "unit": "A"},
                {"value": "230.4", "context": "Sample.Periodic", "measurand": "Voltage",
                 "phase": "L1-N", "unit": "V"},
            ]}]}]),
}

DECODERS = {
    "chargebus_compiled": frame_c.decode,
    "chargebus_pure": frame_py.decode,
    "orjson_loads": orjson.loads,
    "ocpp_unpack": unpack,
}


@pytest.mark.parametrize("decoder", list(DECODERS))
@pytest.mark.parametrize("name", list(FRAMES))
def test_decode(benchmark, name, decoder):
    benchmark.group = name
    data = FRAMES[name]
    # The ocpp library takes str; the edge gets bytes from the socket, the others take them.
    argument = data.decode() if decoder == "ocpp_unpack" else data
    result = benchmark(DECODERS[decoder], argument)
    assert result is not None
