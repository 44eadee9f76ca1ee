"""msgspec types for the benchmarked frames: the whole frame decoded and validated into
typed structs, msgspec's best case, written by hand for just these messages."""
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

String20 = Annotated[str, Meta(max_length=20)]
String25 = Annotated[str, Meta(max_length=25)]
String50 = Annotated[str, Meta(max_length=50)]
Measurand = Literal[
    "Current.Export", "Current.Import", "Current.Offered", "Energy.Active.Export.Register",
    "Energy.Active.Import.Register", "Energy.Reactive.Export.Register",
    "Energy.Reactive.Import.Register", "Energy.Active.Export.Interval",
    "Energy.Active.Import.Interval", "Energy.Reactive.Export.Interval",
    "Energy.Reactive.Import.Interval", "Frequency", "Power.Active.Export",
    "Power.Active.Import", "Power.Factor", "Power.Offered", "Power.Reactive.Export",
    "Power.Reactive.Import", "RPM", "SoC", "Temperature", "Voltage"]
Context = Literal["Interruption.Begin", "Interruption.End", "Sample.Clock", "Sample.Periodic",
                  "Transaction.Begin", "Transaction.End", "Trigger", "Other"]
Phase = Literal["L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"]
Location = Literal["Cable", "EV", "Inlet", "Outlet", "Body"]


class Strict(Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


class Heartbeat(Strict):
    pass


class BootNotification(Strict, rename="camel"):
    charge_point_vendor: String20
    charge_point_model: String20
    charge_point_serial_number: String25 | None = None
    charge_box_serial_number: String25 | None = None
    firmware_version: Annotated[str, Meta(max_length=50)] | None = None
    iccid: String20 | None = None
    imsi: String20 | None = None
    meter_type: String25 | None = None
    meter_serial_number: String25 | None = None


class SampledValue16(Strict):
    value: str
    context: Context | None = None
    format: Literal["Raw", "SignedData"] | None = None
    measurand: Measurand | None = None
    phase: Phase | None = None
    location: Location | None = None
    unit: Literal["Wh", "kWh", "varh", "kvarh", "W", "kW", "VA", "kVA", "var", "kvar", "A", "V",
                  "Celsius", "Fahrenheit", "K", "Percent"] | None = None


class MeterValue16(Strict, rename="camel"):
    timestamp: msgspec.Raw | str
    sampled_value: Annotated[list[SampledValue16], Meta(min_length=1)]


class MeterValues16(Strict, rename="camel"):
    connector_id: Annotated[int, Meta(ge=0)]
    meter_value: Annotated[list[MeterValue16], Meta(min_length=1)]
    transaction_id: int | None = None


class UnitOfMeasure(Strict):
    unit: String20 | None = None
    multiplier: int | None = None


class SampledValue201(Strict, rename="camel"):
    value: float
    context: Context | None = None
    measurand: Measurand | None = None
    phase: Phase | None = None
    location: Location | None = None
    unit_of_measure: UnitOfMeasure | None = None


class MeterValue201(Strict, rename="camel"):
    timestamp: str
    sampled_value: Annotated[list[SampledValue201], Meta(min_length=1)]


class TransactionInfo(Strict, rename="camel"):
    transaction_id: Annotated[str, Meta(max_length=36)]
    charging_state: Literal["Charging", "EVConnected", "SuspendedEV", "SuspendedEVSE",
                            "Idle"] | None = None
    time_spent_charging: int | None = None
    stopped_reason: str | None = None
    remote_start_id: int | None = None


class Evse(Strict, rename="camel"):
    id: int
    connector_id: int | None = None


class TransactionEvent201(Strict, rename="camel"):
    event_type: Literal["Ended", "Started", "Updated"]
    timestamp: str
    trigger_reason: str
    seq_no: int
    transaction_info: TransactionInfo
    offline: bool | None = None
    number_of_phases_used: int | None = None
    cable_max_current: int | None = None
    reservation_id: int | None = None
    evse: Evse | None = None
    meter_value: Annotated[list[MeterValue201], Meta(min_length=1)] | None = None


DECODERS = {
    name: msgspec.json.Decoder(tuple[int, str, str, payload])
    for name, payload in (("Heartbeat", Heartbeat), ("BootNotification", BootNotification),
                          ("MeterValues16", MeterValues16),
                          ("TransactionEvent201", TransactionEvent201))
}
