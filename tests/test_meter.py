import math

import orjson
import pytest

from chargebus.meter.calls import meter_call, placement
from chargebus.meter.columns import SampleColumns, samples
from chargebus.meter.rules import Placement
from chargebus.ocpp import OcppVersion


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
    payload = {"evseId": 1, "meterValue": [{
        "timestamp": "2026-01-01T00:00:00+01:00",
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
                                             "sampledValue": [{"value": "6"}]},
                                            {"timestamp": "yesterday",
                                             "sampledValue": [{"value": "7"}]}]}
    call = meter_call(OcppVersion.V16, "MeterValues", good)
    assert columns.add("CP", call, call.placement(), "site-1", 7) == 1
    with pytest.raises(ValueError):
        columns.add("CP", meter_call(OcppVersion.V16, "MeterValues", bad), call.placement(),
                    "site-1", 8)
    assert {name: len(values) for name, values in columns.lists.items()} == dict.fromkeys(
        SampleColumns.NAMES, 1)
    assert columns.lists["stream_seq"] == [7] and columns.lists["site"] == ["site-1"]
    assert columns.lists["value"] == [5.0] and columns.lists["evse_id"] == [1]


@pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201, OcppVersion.V21])
def test_a_sampled_value_without_a_value_is_refused_with_its_place(version):
    payload = orjson.dumps({"connectorId" if version is OcppVersion.V16 else "evseId": 1,
                            "meterValue": [{"timestamp": "2026-11-21T10:00:00Z",
                                            "sampledValue": [{"unit": "Wh"}]}]})
    with pytest.raises(ValueError, match=r"value.*sampledValue\[0\]"):
        meter_call(version, "MeterValues", payload)


def test_an_integer_written_with_a_fraction_is_read_as_json_schema_reads_it():
    """Draft 6 (OCPP 2.x) takes 1.0 for an integer; the edge lets it through."""
    payload = (b'{"evseId": 2.0, "meterValue": [{"timestamp": "2026-11-21T10:00:00Z",'
               b' "sampledValue": [{"value": 1.5, "unitOfMeasure": {"unit": "kWh",'
               b' "multiplier": 1.0}}]}]}')
    call = meter_call(OcppVersion.V201, "MeterValues", payload)
    [sample] = samples("CS", OcppVersion.V201, "MeterValues", payload, call.placement())
    assert (sample.evse_id, sample.unit, sample.value) == (2, "Wh", 15_000.0)


def test_the_json_text_and_the_parsed_payload_give_the_same_samples():
    payload = {"connectorId": 2, "transactionId": 9, "meterValue": [
        {"timestamp": "2026-11-21T10:00:00Z", "sampledValue": [
            {"value": "1.5", "unit": "kWh"}, {"value": "nan"}, {"value": "x", "phase": "L1"},
            {"value": "42", "format": "SignedData", "context": "Transaction.End"}]},
        {"timestamp": "2026-11-21T10:00:00.5+02:00", "sampledValue": [{"value": "-3"}]}],
        "unknownField": {"ignored": [1, 2]}}
    where = placement(OcppVersion.V16, "MeterValues", payload)
    from_text = samples("CP", OcppVersion.V16, "MeterValues", orjson.dumps(payload), where)
    from_dict = samples("CP", OcppVersion.V16, "MeterValues", payload, where)
    assert [sample._replace(value=str(sample.value)) for sample in from_text] == [
        sample._replace(value=str(sample.value)) for sample in from_dict]
    assert [(sample.unit, str(sample.value), sample.raw_value) for sample in from_text] == [
        ("Wh", "1500.0", ""), ("Wh", "nan", "nan"), ("Wh", "nan", "x"), ("Wh", "42.0", "42"),
        ("Wh", "-3.0", "")]
    assert from_text[-1].timestamp_ms == 1795248000500  # 08:00:00.5 UTC
