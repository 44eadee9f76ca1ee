"""The generated in-place scanners, compiled and pure, against the full decoder
(orjson, then the validators, themselves checked against jsonschema in
test_schemas.py). A scanner may leave any frame to the full decoder; what it accepts,
the full decoder must accept with the same unique id, action and payload. The pure
build also stands guard over the compiled one's reads: the same code that would read
past the frame in C raises IndexError in Python."""
import functools
import importlib
import json
import os
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chargebus_core import frame_py
from chargebus_core.errors import FrameError
from schema_cases import cases, messages

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from frames import FRAMES

REQUESTS = [message for message in messages() if message.direction == "request"]
REQUEST_BY_NAME = {message.name: message for message in REQUESTS}
VERSION_TAG = {"ocpp1.6": "v16", "ocpp2.0.1": "v201", "ocpp2.1": "v21"}
SCANNERS = {
    (version, build): importlib.import_module(f"chargebus_core.scanners_{tag}_{build}")
    for version, tag in VERSION_TAG.items() for build in ("c", "py")
}
HAS_SEND = {"ocpp1.6": False, "ocpp2.0.1": False, "ocpp2.1": True}


def serializations(unique_id: str, action: str, payload, example: bool) -> list[bytes]:
    """The same CALL as stations write it: compact; an example (not a mutation of one)
    also with spaces and indented."""
    frame = [2, unique_id, action, payload]
    if not example:
        return [orjson.dumps(frame)]
    return [orjson.dumps(frame), json.dumps(frame).encode(),
            json.dumps(frame, indent=2).encode()]


def integers_written_as_integers(value):
    """The case with 2.0 written 2, as stations write their integers (the cases of
    2.x write limited integers as floats, which JSON Schema draft 6 allows)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: integers_written_as_integers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [integers_written_as_integers(item) for item in value]
    return value


def instances(message) -> list[tuple[str, object, bool]]:
    """(label, instance, valid) of every case, and of each with its integers written
    as integers. Valid as the full decoder says: test_schemas.py checks it against
    jsonschema on these very cases."""
    return _instances(message.name)


@functools.cache
def _instances(name: str) -> list[tuple[str, object, bool]]:
    message = REQUEST_BY_NAME[name]
    found = []
    for label, instance in cases(message):
        found.append((label, instance))
        rewritten = integers_written_as_integers(instance)
        if orjson.dumps(rewritten) != orjson.dumps(instance):
            found.append((label + " (integers)", rewritten))
    return [(label, instance, not isinstance(
        full_decode(orjson.dumps([2, "case-1", message.action, instance]), message.version),
        FrameError)) for label, instance in found]


def full_decode(data: bytes, version: str):
    """(message type, unique id, action, payload) by the full decoder, or the error."""
    try:
        frame = frame_py.decode(data, frame_py.DIALECTS[version])
    except FrameError as error:
        return error
    return frame.message_type, frame.unique_id, frame.action, frame.payload


# The pure scanner reads a byte at a time in Python: frames longer than this (the
# largest cases run to 100 KB of maximal strings) are read by the compiled one only.
PURE_SCAN_LIMIT = 4096


def scan_both(data: bytes, version: str):
    """The scanner's answer, the same from both builds."""
    compiled = SCANNERS[(version, "c")].scan_call(data, HAS_SEND[version])
    if len(data) <= PURE_SCAN_LIMIT:
        pure = SCANNERS[(version, "py")].scan_call(data, HAS_SEND[version])
        assert compiled == pure, data
    return compiled


def check(data: bytes, version: str):
    """Scan; when the scanner accepts, the full decoder agrees. Returns the scan."""
    scanned = scan_both(data, version)
    if scanned is not None:
        message_type, unique_id, action, payload_json = scanned
        expected = full_decode(data, version)
        assert not isinstance(expected, FrameError), (data, expected)
        assert (message_type, unique_id, action, orjson.loads(payload_json)) == expected, data
    return scanned


def test_scanner_modules_are_compiled_with_their_pxd():
    for tag in VERSION_TAG.values():
        compiled = importlib.import_module(f"chargebus_core.scanners_{tag}_c")
        assert compiled.__file__.endswith(".so"), compiled.__file__
        assert not hasattr(compiled, "_string")  # cdef in the generated .pxd
        assert hasattr(importlib.import_module(f"chargebus_core.scanners_{tag}_py"), "_string")


def test_every_request_of_every_version_has_a_scanner():
    for message in REQUESTS:
        source = SCANNERS[(message.version, "py")]
        assert f"action = {message.action!r}" in Path(source.__file__).read_text(), message.name
    assert len(REQUESTS) == 39 + 64 + 91


@pytest.mark.parametrize("message", REQUESTS, ids=lambda message: message.name)
def test_scanners_accept_only_what_the_oracle_and_validators_accept(message):
    accepted = refused = 0
    for label, instance, valid in instances(message):
        example = " " not in label.removesuffix(" (integers)")
        for data in serializations("case-1", message.action, instance, example):
            scanned = check(data, message.version)
            if scanned is not None:
                assert valid, (label, data)
                accepted += 1
            elif not valid:
                refused += 1
    # Every schema has at least its broken cases, all left to the full decoder.
    assert refused > 0
    if message.action in ("Heartbeat", "BootNotification", "MeterValues", "StatusNotification",
                          "Authorize", "TransactionEvent", "StartTransaction",
                          "StopTransaction"):
        assert accepted > 0, message.name  # the frames of every minute are read in place


def test_how_many_cases_the_scanners_cover():
    """Of the valid cases written as stations write them (ASCII text, integers without
    a fraction), the share the scanners read in place. What is left is what they
    leave on purpose: multipleOf (1.6 charging limits) and values of any type
    (DataTransfer data). Each frame left to the full decoder costs time, not
    correctness; this keeps the share from sliding."""
    valid = accepted = 0
    for message in REQUESTS:
        for _, instance, valid_case in instances(message):
            data = orjson.dumps([2, "case-1", message.action, instance])
            if not valid_case or not data.isascii() or orjson.dumps(
                    integers_written_as_integers(instance)) != orjson.dumps(instance):
                continue
            valid += 1
            accepted += scan_both(data, message.version) is not None
    assert valid > 1000
    assert accepted / valid > 0.97, (accepted, valid)


@pytest.mark.parametrize("name", FRAMES)
def test_the_benchmark_frames_are_read_in_place(name):
    data, version, _ = FRAMES[name]
    assert check(data, version) is not None
    assert check(b" \n" + data.replace(b",", b" , ") + b"\r\n", version) is not None


LEFT_TO_THE_FULL_DECODER = {
    "escape in a string": b'[2,"1","Authorize",{"idTag":"AB\\u0043"}]',
    "escape in the unique id": b'[2,"1\\n","Heartbeat",{}]',
    "text outside ASCII": '[2,"1","Authorize",{"idTag":"Zürich"}]'.encode(),
    "repeated key": b'[2,"1","Authorize",{"idTag":"A","idTag":"B"}]',
    "null": b'[2,"1","Authorize",{"idTag":null}]',
    "exponent": (b'[2,"1","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":'
                 b'"2026-11-21T10:05:00Z","sampledValue":[{"value":"1"}]}],"transactionId":1e3}]'),
    "integral float for an integer": b'[2,"1","StatusNotification",{"connectorId":1.0,'
                                     b'"errorCode":"NoError","status":"Available"}]',
    "unknown action": b'[2,"1","Teleport",{}]',
    "CALLRESULT": b'[3,"1",{"currentTime":"2026-11-21T10:05:00Z"}]',
    "long unique id": b'[2,"' + b"x" * 37 + b'","Heartbeat",{}]',
    "five elements": b'[2,"1","Heartbeat",{},{}]',
    "after the array": b'[2,"1","Heartbeat",{}] x',
    "leading zero": b'[2,"1","StatusNotification",{"connectorId":01,'
                    b'"errorCode":"NoError","status":"Available"}]',
    "message type 2.0": b'[2.0,"1","Heartbeat",{}]',
    "message type 20": b'[20,"1","Heartbeat",{}]',
    "SEND in 1.6": b'[6,"1","Heartbeat",{}]',
}


@pytest.mark.parametrize("data", LEFT_TO_THE_FULL_DECODER.values(),
                         ids=list(LEFT_TO_THE_FULL_DECODER))
def test_what_the_scanner_leaves_to_the_full_decoder(data):
    assert scan_both(data, "ocpp1.6") is None


@pytest.mark.parametrize("build", ["c", "py"])
def test_decode_reads_in_place_and_parses_the_payload_when_asked(build):
    module = importlib.import_module(f"chargebus_core.frame_{build}")
    data, version, _ = FRAMES["MeterValues16"]
    decoded = module.decode(data, module.DIALECTS[version])
    assert decoded.payload == orjson.loads(data)[3]
    assert orjson.loads(decoded.payload_json) == decoded.payload
    if build == "c":  # the compiled build keeps the station's own text
        assert decoded.payload_json == orjson.dumps(orjson.loads(data)[3])
        assert module.decode(data.decode(), module.DIALECTS[version]).payload_json == (
            decoded.payload_json)


def test_a_repeated_key_is_decided_as_orjson_reads_it():
    """Left to the full decoder, which takes the last of repeated keys (as the
    workers' orjson will when they read the forwarded text)."""
    module = importlib.import_module("chargebus_core.frame_c")
    dialect = module.DIALECTS["ocpp1.6"]
    data = b'[2,"1","Authorize",{"idTag":"' + b"x" * 30 + b'","idTag":"B"}]'
    assert module.decode(data, dialect).payload == {"idTag": "B"}
    with pytest.raises(FrameError):
        module.decode(b'[2,"1","Authorize",{"idTag":"B","idTag":"' + b"x" * 30 + b'"}]', dialect)


VALID_FRAMES = [(data, version) for data, version, _ in FRAMES.values()]


@pytest.mark.parametrize("data, version", VALID_FRAMES)
def test_every_truncation_and_byte_change_of_a_valid_frame(data, version):
    for end in range(len(data)):
        check(data[:end], version)
    for index in range(len(data)):
        for byte in b'"\\,:{}[]0-.eZ \x00\xff':
            check(data[:index] + bytes([byte]) + data[index + 1:], version)


@settings(max_examples=int(os.environ.get("CHARGEBUS_FUZZ_EXAMPLES", "1500")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(
    st.binary(max_size=300),
    st.sampled_from(VALID_FRAMES).flatmap(lambda frame: st.tuples(
        st.just(frame[0]), st.integers(0, len(frame[0])), st.binary(max_size=8),
        st.integers(0, 8)).map(
            lambda parts: parts[0][:parts[1]] + parts[2] + parts[0][parts[1] + parts[3]:])),
), version=st.sampled_from(list(VERSION_TAG)))
def test_fuzz_never_raises_and_never_accepts_what_the_full_decoder_refuses(data, version):
    check(data, version)
