"""Which calls carry meter values, and their meter part read from the station's JSON."""
import msgspec
import orjson

from chargebus.meter.rules import Placement
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.v16.meter_values import MeterValues16, StartTransaction16, StopTransaction16
from chargebus.ocpp.v2x.meter_values import MeterValues2x, TransactionEvent2x

# The actions whose payloads carry meter values, per version.
METER_ACTIONS = {
    OcppVersion.V16: ("MeterValues", "StartTransaction", "StopTransaction"),
    OcppVersion.V201: ("MeterValues", "TransactionEvent"),
    OcppVersion.V21: ("MeterValues", "TransactionEvent"),
}


def meter_action_names() -> list[str]:
    """Every action that carries meter values, in any version: one consumer each."""
    return sorted({action for actions in METER_ACTIONS.values() for action in actions})


MeterCall = MeterValues16 | StopTransaction16 | MeterValues2x | TransactionEvent2x

# What a 1.6 start says of the energy register: one reading, which the sink makes a
# row of itself (chargebus.meter.columns.SampleColumns.add_register).
_START_DECODER = msgspec.json.Decoder(StartTransaction16)

_CALL_TYPES = {
    (OcppVersion.V16, "MeterValues"): MeterValues16,
    (OcppVersion.V16, "StopTransaction"): StopTransaction16,
    (OcppVersion.V201, "MeterValues"): MeterValues2x,
    (OcppVersion.V201, "TransactionEvent"): TransactionEvent2x,
    (OcppVersion.V21, "MeterValues"): MeterValues2x,
    (OcppVersion.V21, "TransactionEvent"): TransactionEvent2x,
}
_DECODERS = {key: msgspec.json.Decoder(call_type) for key, call_type in _CALL_TYPES.items()}


def meter_call(version: OcppVersion, action: str, payload: bytes | dict) -> MeterCall:
    """The meter-relevant part of a call, from its JSON text or an already parsed dict."""
    if not isinstance(payload, dict):
        call = strict_meter_call(version, action, payload)
        if call is not None:
            return call
        # JSON Schema (draft 6, OCPP 2.x) takes 1.0 for an integer; msgspec's strict
        # decoding does not, its lenient conversion does.
        payload = orjson.loads(payload)
    call_type = _CALL_TYPES.get((version, action))
    if call_type is None:
        raise ValueError(f"{version.value} {action} carries no meter values")
    return msgspec.convert(payload, call_type, strict=False)


def strict_meter_call(version: OcppVersion, action: str, payload: bytes) -> MeterCall | None:
    """The call where its JSON has exactly the types of the specification; None where
    only a lenient reading takes it (meter_call does that)."""
    decoder = _DECODERS.get((version, action))
    if decoder is None:
        raise ValueError(f"{version.value} {action} carries no meter values")
    try:
        return decoder.decode(payload)
    except msgspec.ValidationError:
        return None


def transaction_start(payload: bytes) -> StartTransaction16:
    """A 1.6 StartTransaction's connector, meterStart and time (msgspec's
    ValidationError, a ValueError, where the JSON does not have them)."""
    return _START_DECODER.decode(payload)


def placement(version: OcppVersion, action: str, payload: bytes | dict) -> Placement:
    return meter_call(version, action, payload).placement()
