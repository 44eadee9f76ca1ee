"""The generated validators, compiled and pure, against jsonschema as the oracle
(Draft 4 with decimals for OCPP 1.6, as the ocpp library reads it; Draft 6 for 2.0.1
and 2.1; date-time checked by the format checker), on every message schema of every
version: valid instances built from each schema, and mutations that break one rule."""
import importlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rfc3339_validator import validate_rfc3339

from chargebus_core.errors import SchemaViolation
from schema_cases import INVALID_DATETIMES, VALID_DATETIMES, cases, messages

MESSAGES = messages()
BUILDS = {name: importlib.import_module(f"chargebus_core.frame_{name}") for name in ("c", "py")}


def verdict(build: str, message, instance):
    """None when valid, else (kind, path) of the violation."""
    dialect = BUILDS[build].DIALECTS[message.version]
    validators = dialect.requests if message.direction == "request" else dialect.responses
    try:
        validators[message.action](instance)
    except SchemaViolation as violation:
        return violation.kind, tuple(violation.path)
    return None


def test_every_schema_of_every_version_is_covered():
    counts = {version: 0 for version in ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")}
    for message in MESSAGES:
        counts[message.version] += 1
        dialect = BUILDS["c"].DIALECTS[message.version]
        table = dialect.requests if message.direction == "request" else dialect.responses
        assert message.action in table, message.name
    assert counts == {"ocpp1.6": 78, "ocpp2.0.1": 128, "ocpp2.1": 181}


@pytest.mark.parametrize("message", MESSAGES, ids=lambda message: message.name)
def test_validators_agree_with_the_oracle(message):
    checked = 0
    for label, instance in cases(message):
        expected = message.oracle_errors(instance)
        for build in BUILDS:
            outcome = verdict(build, message, instance)
            if not expected:
                assert outcome is None, (build, label, outcome)
            else:
                assert outcome in expected, (build, label, outcome, expected)
        if label.startswith(("minimal", "full")) and " " not in label:
            assert not expected, (label, expected)  # the examples themselves are valid
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("text", VALID_DATETIMES + INVALID_DATETIMES + [
    "2026-11-21T10:00:00.1234Z", "2000-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
    "2026-06-30T00:00:00Z", "2026-06-31T00:00:00Z", "2026-11-21T10:00:00+01",
    "2026-11-21T10:00:00+1:00", "2026-11-21T10:00:00.+01:00", "2026-1-21T10:00:00Z",
    "2026-11-21T1:00:00Z", "2026-11-21T10:00:00z "])
def test_datetime_agrees_with_rfc3339_validator(build, text):
    schemas = importlib.import_module(f"chargebus_core.schemas_v201_{build}")
    validator = schemas.REQUESTS["Heartbeat"] and schemas.RESPONSES["Heartbeat"]
    try:
        validator({"currentTime": text})
        ours = True
    except SchemaViolation:
        ours = False
    assert ours == validate_rfc3339(text.upper())


@pytest.mark.parametrize("build", BUILDS)
@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet="0123456789-:TtZz+.", min_size=18, max_size=32)
       | st.builds(lambda y, mo, d, h, mi, s, zone:
                   f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{zone}",
                   st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
                   st.integers(0, 61), st.integers(0, 61),
                   st.sampled_from(["Z", "+01:00", "-23:59", "+24:00", ""])))
def test_datetime_agrees_with_rfc3339_validator_on_generated_text(build, text):
    schemas = importlib.import_module(f"chargebus_core.schemas_v201_{build}")
    try:
        schemas.RESPONSES["Heartbeat"]({"currentTime": text})
        ours = True
    except SchemaViolation:
        ours = False
    assert ours == validate_rfc3339(text.upper())


@pytest.mark.parametrize("build", BUILDS)
def test_a_trailing_newline_is_refused_where_the_oracle_lets_it_pass(build):
    """rfc3339-validator's regex ends in $, which matches before a final newline;
    RFC 3339 has no newline, and chargebus follows the RFC."""
    assert validate_rfc3339("2026-11-21T10:00:00Z\n")
    schemas = importlib.import_module(f"chargebus_core.schemas_v201_{build}")
    with pytest.raises(SchemaViolation):
        schemas.RESPONSES["Heartbeat"]({"currentTime": "2026-11-21T10:00:00Z\n"})
