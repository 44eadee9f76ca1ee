"""The OCPP-J envelope decoder, run on both builds: compiled (frame_c) and pure (frame_py)."""
import importlib
import os

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

BUILDS = ["chargebus_core.frame_c", "chargebus_core.frame_py"]


@pytest.fixture(params=BUILDS, ids=["compiled", "pure"])
def frame(request):
    return importlib.import_module(request.param)


def test_compiled_build_is_really_compiled():
    compiled = importlib.import_module("chargebus_core.frame_c")
    assert compiled.__file__.endswith(".so"), compiled.__file__
    # frame_c.pxd declares _read_unique_id cdef: invisible from Python only if Cython
    # applied the .pxd (it silently does not when it cannot find it by dotted path).
    assert not hasattr(compiled, "_read_unique_id")
    assert hasattr(importlib.import_module("chargebus_core.frame_py"), "_read_unique_id")


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
    decoded = frame.decode(b'[2, "19223201", "BootNotification", {"chargePointVendor": "V"}]')
    assert (decoded.message_type, decoded.unique_id, decoded.action, decoded.payload) == (
        frame.CALL, "19223201", "BootNotification", {"chargePointVendor": "V"})


def test_str_input(frame):
    assert frame.decode('[2,"1","Heartbeat",{}]').action == "Heartbeat"


def test_call_result_and_error(frame):
    result = frame.decode(b'[3, "a", {"currentTime": "2026-01-01T00:00:00Z"}]')
    assert result.message_type == frame.CALLRESULT and result.payload == {
        "currentTime": "2026-01-01T00:00:00Z"}
    error = frame.decode(b'[4, "a", "NotSupported", "no", {"x": 1}]')
    assert (error.error_code, error.error_description, error.error_details) == (
        "NotSupported", "no", {"x": 1})


def test_ocpp21_message_types_decode(frame):
    assert frame.decode(b'[6, "s", "NotifyPeriodicEventStream", {}]').message_type == frame.SEND
    assert frame.decode(b'[5, "r", "InternalError", "", {}]').message_type == frame.CALLRESULTERROR


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
    with pytest.raises(frame.FrameError) as raised:
        frame.decode(data)
    assert (raised.value.kind, raised.value.unique_id) == (kind, unique_id)
    assert raised.value.description


def test_unique_id_of_36_characters_is_fine(frame):
    assert frame.decode(b'[2, "' + b"x" * 36 + b'", "Heartbeat", {}]').unique_id == "x" * 36


def test_encoders(frame):
    assert orjson.loads(frame.encode_call("1", "Reset", {"type": "Hard"})) == [
        2, "1", "Reset", {"type": "Hard"}]
    assert orjson.loads(frame.encode_call_result("1", {})) == [3, "1", {}]
    assert orjson.loads(frame.encode_call_error("-1", "RpcFrameworkError", "bad", {})) == [
        4, "-1", "RpcFrameworkError", "bad", {}]


@pytest.mark.parametrize("build", BUILDS)
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_give_a_frame_or_a_frame_error(build, data):
    frame = importlib.import_module(build)
    try:
        decoded = frame.decode(data)
    except frame.FrameError as error:
        assert error.kind in (frame.RPC_FRAMEWORK, frame.MESSAGE_TYPE, frame.FORMAT)
    else:
        assert decoded.message_type in (2, 3, 4, 5, 6)


@given(message=st.lists(st.integers(0, 8) | st.text(max_size=40)
                        | st.dictionaries(st.text(max_size=5), st.integers(-2**63, 2**63 - 1)),
                        max_size=6))
def test_arbitrary_arrays_agree_between_builds(message):
    data = orjson.dumps(message)
    compiled = importlib.import_module("chargebus_core.frame_c")
    pure = importlib.import_module("chargebus_core.frame_py")

    def outcome(module):
        try:
            decoded = module.decode(data)
        except module.FrameError as error:
            return ("error", error.kind, error.unique_id)
        return ("frame", decoded.message_type, decoded.unique_id, decoded.action,
                decoded.payload, decoded.error_code)

    assert outcome(compiled) == outcome(pure)
