import math

import pytest

from chargebus.meter import Placement, SampleColumns, placement, samples
from chargebus.protocol import OcppVersion


def test_16_meter_values_with_defaults_and_signed_data():
    payload = {"connectorId": 3, "transactionId": 77, "meterValue": [{
        "timestamp": "2026-01-02T03:04:05.678Z",
        "sampledValue": [
            {"value": "12.5"},
            {"value": "AB12CD", "format": "SignedData", "measurand": "Voltage", "unit": "V",
             "phase": "L2", "location": "Inlet", "context": "Trigger"},
        ]}]}
    where = placement(OcppVersion.V16, "MeterValues", payload)
    assert where == Placement(3, 0, "77")
    first, second = samples("CP", OcppVersion.V16, "MeterValues", payload, where)
    assert first.timestamp_ms == 1767323045678
    assert (first.measurand, first.unit, first.context, first.location, first.value) == (
        "Energy.Active.Import.Register", "Wh", "Sample.Periodic", "Outlet", 12.5)
    assert (second.measurand, second.phase, second.location, second.context) == (
        "Voltage", "L2", "Inlet", "Trigger")
    assert math.isnan(second.value)  # signed data is no number
    assert (first.raw_value, second.raw_value) == ("", "AB12CD")  # the signed data is kept


def test_16_stop_transaction_data_has_no_connector():
    payload = {"transactionId": 5, "meterStop": 10, "timestamp": "2026-01-01T00:00:00Z",
               "transactionData": [{"timestamp": "2026-01-01T00:00:00Z",
                                    "sampledValue": [{"value": "10"}]}]}
    where = placement(OcppVersion.V16, "StopTransaction", payload)
    assert where == Placement(None, 0, "5")
    [sample] = samples("CP", OcppVersion.V16, "StopTransaction", payload, where._replace(evse_id=2))
    assert (sample.evse_id, sample.transaction_id, sample.value) == (2, "5", 10.0)


def test_201_multiplier_and_unit():
    payload = {"evseId": 1, "meterValue": [{"timestamp": "2026-01-01T00:00:00+01:00",
               "sampledValue": [{"value": 123, "unitOfMeasure": {"unit": "kWh", "multiplier": 3}}]}]}
    where = placement(OcppVersion.V201, "MeterValues", payload)
    [sample] = samples("CS", OcppVersion.V201, "MeterValues", payload, where)
    # 123 kWh times 10^3, in the one unit energy has in the table: Wh.
    assert (sample.evse_id, sample.transaction_id, sample.unit, sample.value) == (
        1, "", "Wh", 123_000_000.0)
    assert sample.timestamp_ms == 1767222000000  # the offset is honoured


def test_201_transaction_event_placement():
    payload = {"transactionInfo": {"transactionId": "T1"}, "evse": {"id": 4, "connectorId": 2}}
    assert placement(OcppVersion.V201, "TransactionEvent", payload) == Placement(4, 2, "T1")
    assert placement(OcppVersion.V201, "TransactionEvent",
                     {"transactionInfo": {"transactionId": "T1"}}) == Placement(None, 0, "T1")
    assert list(samples("CS", OcppVersion.V201, "TransactionEvent", payload,
                        Placement(4, 2, "T1"))) == []


def test_201_signed_meter_value_is_kept_beside_the_number():
    payload = {"evseId": 1, "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [
        {"value": 7.5, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "kW"},
         "signedMeterValue": {"signedMeterData": "c2lnbmVk", "signingMethod": "ECDSA",
                              "encodingMethod": "OCMF", "publicKey": "a2V5"}}]}]}
    [sample] = samples("CS", OcppVersion.V201, "MeterValues", payload,
                       placement(OcppVersion.V201, "MeterValues", payload))
    assert (sample.unit, sample.value, sample.raw_value) == ("W", 7500.0, "c2lnbmVk")


def test_a_call_that_cannot_be_read_leaves_the_columns_as_they_were():
    columns = SampleColumns()
    good = {"connectorId": 1, "meterValue": [{"timestamp": "2026-11-21T10:00:00Z",
                                              "sampledValue": [{"value": "5"}]}]}
    bad = {"connectorId": 1, "meterValue": [{"timestamp": "2026-11-21T10:00:00Z",
                                             "sampledValue": [{"value": "6"}, {"unit": "Wh"}]}]}
    where = placement(OcppVersion.V16, "MeterValues", good)
    assert columns.add("CP", OcppVersion.V16, "MeterValues", good, where, "site-1", 7) == 1
    with pytest.raises(KeyError):
        columns.add("CP", OcppVersion.V16, "MeterValues", bad, where, "site-1", 8)
    assert {name: len(values) for name, values in columns.lists.items()} == dict.fromkeys(
        SampleColumns.NAMES, 1)
    assert columns.lists["stream_seq"] == [7] and columns.lists["site"] == ["site-1"]
    assert columns.lists["value"] == [5.0] and columns.lists["evse_id"] == [1]
