"""The OCPP-J envelope decoder, run on both builds: compiled (frame_c) and pure (frame_py)."""
import importlib
import os

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargebus_core.errors import KIND_OF_KEYWORD, FrameError

KINDS = {"rpc_framework", "message_type", "format", "not_implemented", *KIND_OF_KEYWORD.values()}

BUILDS = ["chargebus_core.frame_c", "chargebus_core.frame_py"]


class Build:
    """One build of the frame codec, with the 1.6 dialect at hand."""

    def __init__(self, name: str):
        self.module = importlib.import_module(name)
        self.v16 = self.module.DIALECTS["ocpp1.6"]
        self.v201 = self.module.DIALECTS["ocpp2.0.1"]
        self.v21 = self.module.DIALECTS["ocpp2.1"]

    def __getattr__(self, name):
        return getattr(self.module, name)

    def decode(self, data, dialect=None):
        return self.module.decode(data, dialect or self.v16)


@pytest.fixture(params=BUILDS, ids=["compiled", "pure"])
def frame(request):
    return Build(request.param)


def test_compiled_build_is_really_compiled():
    compiled = importlib.import_module("chargebus_core.frame_c")
    assert compiled.__file__.endswith(".so"), compiled.__file__
    # frame_c.pxd declares _read_unique_id cdef: invisible from Python only if Cython
    # applied the .pxd (it silently does not when it cannot find it by dotted path).
    assert not hasattr(compiled, "_read_unique_id")
    assert hasattr(importlib.import_module("chargebus_core.frame_py"), "_read_unique_id")
    # The compiled codec validates with the compiled schemas, the pure one with the pure.
    for version, dialect in compiled.DIALECTS.items():
        validator = dialect.requests["Heartbeat"]
        assert type(validator).__name__ == "cython_function_or_method", (version, validator)
    pure = importlib.import_module("chargebus_core.frame_py")
    assert type(pure.DIALECTS["ocpp1.6"].requests["Heartbeat"]).__name__ == "function"


@pytest.mark.parametrize("version", ["v16", "v201", "v21"])
def test_generated_schema_modules_are_compiled_with_their_pxd(version):
    compiled = importlib.import_module(f"chargebus_core.schemas_{version}_c")
    assert compiled.__file__.endswith(".so")
    assert not hasattr(compiled, "_is_datetime")  # cdef in the generated .pxd
    assert hasattr(importlib.import_module(f"chargebus_core.schemas_{version}_py"),
                   "_is_datetime")


def test_the_switch_selects_the_build():
    selected = importlib.import_module("chargebus_core.frame")
    if os.environ.get("CHARGEBUS_NO_EXTENSIONS"):
        assert selected.COMPILED is False
    else:
        assert selected.COMPILED is True
        assert selected.decode is importlib.import_module("chargebus_core.frame_c").decode


def test_pure_switch_in_a_fresh_interpreter():
    import subprocess
    import sys

    probe = "import chargebus_core.frame as f; print(f.COMPILED, f.decode.__module__)"
    pure = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=os.environ | {"CHARGEBUS_NO_EXTENSIONS": "1"}, check=True)
    assert pure.stdout.split() == ["False", "chargebus_core.frame_py"]


def test_call(frame):
    decoded = frame.decode(
        b'[2, "19223201", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]')
    assert (decoded.message_type, decoded.unique_id, decoded.action, decoded.payload) == (
        frame.CALL, "19223201", "BootNotification",
        {"chargePointVendor": "V", "chargePointModel": "M"})


def test_str_input(frame):
    assert frame.decode('[2,"1","Heartbeat",{}]').action == "Heartbeat"


def test_call_result_and_error(frame):
    result = frame.decode(b'[3, "a", {"currentTime": "2026-01-01T00:00:00Z"}]')
    assert result.message_type == frame.CALLRESULT and result.payload == {
        "currentTime": "2026-01-01T00:00:00Z"}
    error = frame.decode(b'[4, "a", "NotSupported", "no", {"x": 1}]')
    assert (error.error_code, error.error_description, error.error_details) == (
        "NotSupported", "no", {"x": 1})


def test_ocpp21_message_types_decode_on_21_only(frame):
    send = (b'[6, "s", "NotifyPeriodicEventStream", {"id": 1, "pending": 0, '
            b'"basetime": "2026-11-21T10:00:00Z", "data": [{"t": 0.5, "v": "1"}]}]')
    assert frame.decode(send, frame.v21).message_type == frame.SEND
    result_error = b'[5, "r", "InternalError", "", {}]'
    assert frame.decode(result_error, frame.v21).message_type == frame.CALLRESULTERROR
    for dialect in (frame.v16, frame.v201):
        for data in (send, result_error):
            with pytest.raises(FrameError) as raised:
                frame.decode(data, dialect)
            assert raised.value.kind == "message_type"


@pytest.mark.parametrize("data, kind, description", [
    (b'[2, "1", "MakeCoffee", {}]', "not_implemented", "MakeCoffee is not an action of ocpp1.6"),
    (b'[2, "1", "TransactionEvent", {}]', "not_implemented",
     "TransactionEvent is not an action of ocpp1.6"),
    (b'[2, "1", "Heartbeat", {"x": 1}]', "format", "Heartbeat: x is not allowed here"),
    (b'[2, "1", "Authorize", {}]', "occurrence_constraint", "Authorize: idTag is required"),
    (b'[2, "1", "Authorize", {"idTag": 1}]', "type_constraint",
     "Authorize: idTag must be a string"),
    (b'[2, "1", "Authorize", {"idTag": "123456789012345678901"}]', "type_constraint",
     "Authorize: idTag must be at most 20 characters"),
    (b'[2, "1", "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": '
     b'"2026-11-21T10:00:00Z", "sampledValue": [{"value": "1"}, '
     b'{"value": "2", "unit": "furlong"}]}]}]',
     "property_constraint", "MeterValues: meterValue[0].sampledValue[1].unit must be one of"),
    (b'[2, "1", "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": '
     b'"2026-11-21 10:00:00", "sampledValue": [{"value": "1"}]}]}]',
     "type_constraint", "MeterValues: meterValue[0].timestamp must be an RFC 3339 date-time"),
    (b'[2, "1", "MeterValues", {"connectorId": 1, "meterValue": []}]', "occurrence_constraint",
     "MeterValues: meterValue must have at least 1 items"),
])
def test_payloads_are_validated(frame, data, kind, description):
    with pytest.raises(FrameError) as raised:
        frame.decode(data)
    assert (raised.value.kind, raised.value.unique_id) == (kind, "1")
    assert raised.value.description.startswith(description)


def test_encoders_refuse_what_breaks_the_schema(frame):
    assert orjson.loads(frame.encode_call(frame.v16, "1", "Reset", {"type": "Hard"})) == [
        2, "1", "Reset", {"type": "Hard"}]
    with pytest.raises(FrameError, match="Reset request: type must be one of"):
        frame.encode_call(frame.v16, "1", "Reset", {"type": "Gentle"})
    answer = {"currentTime": "2026-11-21T10:00:00Z"}
    assert orjson.loads(frame.encode_call_result(frame.v201, "9", "Heartbeat", answer)) == [
        3, "9", answer]
    with pytest.raises(FrameError, match="Heartbeat response: currentTime is required"):
        frame.encode_call_result(frame.v201, "9", "Heartbeat", {})
    with pytest.raises(FrameError, match="not an action"):
        frame.encode_call(frame.v201, "1", "MakeCoffee", {})


def test_responses_are_validated_against_the_calls_action(frame):
    frame.validate_response(frame.v16, "Reset", {"status": "Accepted"})
    with pytest.raises(FrameError) as raised:
        frame.validate_response(frame.v16, "Reset", {"status": "Maybe"})
    assert raised.value.kind == "property_constraint"


@pytest.mark.parametrize("data, kind, unique_id", [
    (b"", "rpc_framework", None),
    (b"not json", "rpc_framework", None),
    (b'{"a": 1}', "rpc_framework", None),
    (b"[2]", "rpc_framework", None),
    (b'[2, 17, "Heartbeat", {}]', "rpc_framework", None),
    (b'[2, "' + b"x" * 37 + b'", "Heartbeat", {}]', "rpc_framework", None),
    (b'["2", "id", "Heartbeat", {}]', "rpc_framework", "id"),
    (b'[7, "id", "Heartbeat", {}]', "message_type", "id"),
    (b'[2, "id", "Heartbeat"]', "format", "id"),
    (b'[2, "id", "Heartbeat", {}, 1]', "format", "id"),
    (b'[2, "id", 5, {}]', "format", "id"),
    (b'[2, "id", "Heartbeat", []]', "format", "id"),
    (b'[3, "id", null]', "format", "id"),
    (b'[4, "id", "E", "d"]', "format", "id"),
    (b'[4, "id", "E", 3, {}]', "format", "id"),
])
def test_broken_frames(frame, data, kind, unique_id):
    with pytest.raises(FrameError) as raised:
        frame.decode(data)
    assert (raised.value.kind, raised.value.unique_id) == (kind, unique_id)
    assert raised.value.description


def test_unique_id_of_36_characters_is_fine(frame):
    assert frame.decode(b'[2, "' + b"x" * 36 + b'", "Heartbeat", {}]').unique_id == "x" * 36


def test_call_error_encoder(frame):
    assert orjson.loads(frame.encode_call_error("-1", "RpcFrameworkError", "bad", {})) == [
        4, "-1", "RpcFrameworkError", "bad", {}]


@pytest.mark.parametrize("build", BUILDS)
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_give_a_frame_or_a_frame_error(build, data):
    frame = Build(build)
    for dialect in (frame.v16, frame.v201, frame.v21):
        try:
            decoded = frame.decode(data, dialect)
        except FrameError as error:
            assert error.kind in KINDS
        else:
            assert decoded.message_type in (2, 3, 4, 5, 6)


@given(message=st.lists(st.integers(0, 8) | st.text(max_size=40)
                        | st.dictionaries(st.text(max_size=5), st.integers(-2**63, 2**63 - 1)),
                        max_size=6))
def test_arbitrary_arrays_agree_between_builds(message):
    data = orjson.dumps(message)
    compiled = Build("chargebus_core.frame_c")
    pure = Build("chargebus_core.frame_py")

    def outcome(build):
        try:
            decoded = build.decode(data, build.v21)
        except FrameError as error:
            return ("error", error.kind, error.unique_id, error.description)
        return ("frame", decoded.message_type, decoded.unique_id, decoded.action,
                decoded.payload, decoded.error_code)

    assert outcome(compiled) == outcome(pure)
