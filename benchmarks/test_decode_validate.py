"""Per frame: decode plus validate, chargebus against its peers, in one run.

    make bench        (or: .venv/bin/python -m pytest benchmarks --benchmark-only)

chargebus_compiled is what the edge runs: the frame validated in place, the payload
kept as the station's JSON text (the edge forwards it to the bus as is).
chargebus_compiled_then_dict also asks the frame for its payload as Python objects,
which parses that text: what a consumer that wants a dict pays.

Peers: bare orjson.loads (parsing alone, the floor); msgspec decoding the whole frame
into typed structs; jsonschema (orjson.loads, then a Draft 4/6 validator with the
format checker); the `ocpp` library's unpack plus its synchronous validation. Read
the ratios within one run, not absolute times: the machine is shared and noisy.
"""
import json
from importlib import resources

import orjson
import pytest
from jsonschema import Draft4Validator, Draft6Validator, FormatChecker
from ocpp.messages import _validate_payload, unpack

from chargebus_core import frame_c, frame_py
from frames import FRAMES
from msgspec_types import DECODERS as MSGSPEC


def jsonschema_decoder(version: str, action: str):
    folder, name, oracle = {"ocpp1.6": ("v16", action, Draft4Validator),
                            "ocpp2.0.1": ("v201", action + "Request", Draft6Validator)}[version]
    text = (resources.files("ocpp") / folder / "schemas" / f"{name}.json").read_text()
    validator = oracle(json.loads(text), format_checker=FormatChecker())

    def decode(data):
        message = orjson.loads(data)
        validator.validate(message[3])
        return message
    return decode


def ocpp_library_decoder(ocpp_version: str):
    def decode(data):
        message = unpack(data.decode())
        _validate_payload(message, ocpp_version)
        return message
    return decode


def compiled_then_dict(data, dialect):
    return frame_c.decode(data, dialect).payload


def decoders(name: str) -> dict:
    """peer -> (function, extra arguments): each is called directly, no wrapper, so
    that no peer pays for a call the others do not."""
    data, version, ocpp_version = FRAMES[name]
    action = orjson.loads(data)[2]
    return {
        "chargebus_compiled": (frame_c.decode, (frame_c.DIALECTS[version],)),
        "chargebus_compiled_then_dict": (compiled_then_dict, (frame_c.DIALECTS[version],)),
        "chargebus_pure": (frame_py.decode, (frame_py.DIALECTS[version],)),
        "orjson_loads": (orjson.loads, ()),
        "msgspec_typed": (MSGSPEC[name].decode, ()),
        "jsonschema": (jsonschema_decoder(version, action), ()),
        "ocpp_library": (ocpp_library_decoder(ocpp_version), ()),
    }


PEERS = ["chargebus_compiled", "chargebus_compiled_then_dict", "chargebus_pure", "orjson_loads",
         "msgspec_typed", "jsonschema", "ocpp_library"]


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("name", list(FRAMES))
def test_decode_and_validate(benchmark, name, peer):
    benchmark.group = name
    decode, extra = decoders(name)[peer]
    data = FRAMES[name][0]
    assert decode(data, *extra) is not None  # every peer takes the frame as valid
    benchmark(decode, data, *extra)
