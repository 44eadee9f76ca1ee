"""The frames the benchmarks decode, as a station sends them."""
import orjson

HEARTBEAT = b'[2,"19223201","Heartbeat",{}]'

BOOT_NOTIFICATION = orjson.dumps([2, "19223202", "BootNotification", {
    "chargePointVendor": "Alfen BV", "chargePointModel": "NG920-5250",
    "chargePointSerialNumber": "ACE0123456", "firmwareVersion": "6.1.2-4077"}])

# OCPP 1.6 MeterValues with four sampled values (445 bytes, as in shared/measured-here.md).
METER_VALUES_16 = orjson.dumps([2, "19223203", "MeterValues", {
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
        ]}]}])

# OCPP 2.0.1 TransactionEvent Updated with meter values.
TRANSACTION_EVENT_201 = orjson.dumps([2, "19223204", "TransactionEvent", {
    "eventType": "Updated", "timestamp": "2026-11-21T10:05:00.000Z",
    "triggerReason": "MeterValuePeriodic", "seqNo": 7,
    "transactionInfo": {"transactionId": "5d8f0c1e-7f0a-4f47-9d8b-0c2e7a9d1f3b",
                        "chargingState": "Charging"},
    "evse": {"id": 1, "connectorId": 1},
    "meterValue": [{
        "timestamp": "2026-11-21T10:05:00.000Z", "sampledValue": [
            {"value": 15240.5, "context": "Sample.Periodic",
             "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"}},
            {"value": 7360, "context": "Sample.Periodic", "measurand": "Power.Active.Import",
             "unitOfMeasure": {"unit": "W"}},
            {"value": 16.02, "context": "Sample.Periodic", "measurand": "Current.Import",
             "phase": "L1", "unitOfMeasure": {"unit": "A"}},
            {"value": 230.4, "context": "Sample.Periodic", "measurand": "Voltage",
             "phase": "L1-N", "unitOfMeasure": {"unit": "V"}},
        ]}]}])

# name -> (frame, OCPP version as chargebus names it, as the ocpp library names it)
FRAMES = {
    "Heartbeat": (HEARTBEAT, "ocpp1.6", "1.6"),
    "BootNotification": (BOOT_NOTIFICATION, "ocpp1.6", "1.6"),
    "MeterValues16": (METER_VALUES_16, "ocpp1.6", "1.6"),
    "TransactionEvent201": (TRANSACTION_EVENT_201, "ocpp2.0.1", "2.0.1"),
}
