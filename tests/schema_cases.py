"""Test cases from the OCA schemas: valid instances built from each schema, and
mutations of them that break exactly one rule, for the differential tests against
jsonschema (the oracle)."""
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources

import orjson
from jsonschema import Draft4Validator, Draft6Validator, FormatChecker

from chargebus_core.errors import KIND_OF_KEYWORD

# subprotocol -> (schema folder in ocpp, oracle, whether floats are decimals as the
# ocpp library reads OCPP 1.6: 0.3 is a multiple of 0.1)
VERSIONS = {
    "ocpp1.6": ("v16", Draft4Validator, True),
    "ocpp2.0.1": ("v201", Draft6Validator, False),
    "ocpp2.1": ("v21", Draft6Validator, False),
}

VALID_DATETIMES = ["2026-11-21T10:00:00Z", "2026-11-21t10:00:00z", "2024-02-29T23:59:59.5Z",
                   "2026-11-21T10:00:00.123456789+05:30", "2026-12-31T00:00:00-23:59",
                   "0001-01-01T00:00:00Z"]
INVALID_DATETIMES = ["2026-11-21 10:00:00Z", "2026-11-21T10:00:00", "2026-13-01T00:00:00Z",
                     "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-21T24:00:00Z",
                     "2026-11-21T10:60:00Z", "2026-11-21T10:00:60Z", "2026-11-21T10:00:00.Z",
                     "2026-11-21T10:00:00+24:00", "2026-11-21T10:00:00+0100",
                     "0000-01-01T00:00:00Z", "26-11-21T10:00:00Z", "yesterday", "",
                     "2026-11-21T10:00:00ZZ", "２０２６-11-21T10:00:00Z"]


@dataclass(frozen=True)
class Message:
    version: str
    action: str
    direction: str  # "request" or "response"
    schema: dict
    oracle: object
    decimals: bool

    @property
    def name(self) -> str:
        return f"{self.version}-{self.action}-{self.direction}"

    def oracle_errors(self, instance) -> set[tuple[str, tuple]]:
        """(kind, path) of every error the oracle finds; empty when valid."""
        if self.decimals:
            instance = json.loads(orjson.dumps(instance), parse_float=Decimal)
        return {_kind_and_path(error) for error in self.oracle.iter_errors(instance)}


def _kind_and_path(error) -> tuple[str, tuple]:
    path = tuple(error.absolute_path)
    if error.validator == "required":
        path += (re.match(r"'(.+)' is a required property", error.message).group(1),)
    elif error.validator == "additionalProperties":
        path += (re.search(r"\('(.+)' was unexpected\)", error.message).group(1),)
    return KIND_OF_KEYWORD[error.validator], path


def messages() -> list[Message]:
    found = []
    for version, (folder, oracle_class, decimals) in VERSIONS.items():
        schemas = resources.files("ocpp") / folder / "schemas"
        for entry in sorted(schemas.iterdir(), key=lambda item: item.name):
            if not entry.name.endswith(".json"):
                continue
            text = entry.read_text(encoding="utf-8")
            name = entry.name.removesuffix(".json")
            direction = "response" if name.endswith("Response") else "request"
            action = name.removesuffix("Response").removesuffix("Request")
            oracle_schema = json.loads(text, parse_float=Decimal) if decimals else json.loads(text)
            oracle = oracle_class(oracle_schema, format_checker=FormatChecker())
            found.append(Message(version, action, direction, json.loads(text), oracle, decimals))
    return found


def resolve(node: dict, root: dict) -> dict:
    while "$ref" in node:
        node = root["definitions"][node["$ref"].removeprefix("#/definitions/")]
    return node


def example(node: dict, root: dict, full: bool):
    """A valid value: only what is required (full=False), or everything (full=True)."""
    node = resolve(node, root)
    if "enum" in node:
        return node["enum"][-1 if full else 0]
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties", {})
        names = list(properties) if full else node.get("required", [])
        return {name: example(properties[name], root, full) if name in properties else 1
                for name in names}
    if kind == "array":
        low = node.get("minItems", 0)
        count = max(low, min(node.get("maxItems", 2), 2)) if full else low
        return [example(node["items"], root, full) for _ in range(count)]
    if kind == "string":
        if node.get("format") == "date-time":
            return VALID_DATETIMES[3 if full else 0]
        if node.get("format") == "uri":
            return "https://example.com/firmware.bin"
        return "x" * (node["maxLength"] if full and "maxLength" in node else 1)
    if kind == "integer":
        if full and "maximum" in node:
            return node["maximum"]
        return node.get("minimum", 0) + (3 if full else 0)
    if kind == "number":
        if "multipleOf" in node:
            return 7.3 if full else 0.3
        if full and "maximum" in node:
            return node["maximum"]
        return node.get("minimum", 0) + (2.5 if full else 0)
    if kind == "boolean":
        return full
    return "anything"


WRONG_TYPE = {"string": 12, "integer": "12", "number": "1.5", "boolean": "true",
              "object": [1], "array": {"a": 1}}


def mutations(node: dict, root: dict, value) -> Iterator[tuple[str, object]]:
    """(what, replacement) for the value at one place; each breaks one rule, except
    those named valid-*, which a validator must accept."""
    node = resolve(node, root)
    kind = node.get("type")
    if kind in WRONG_TYPE:
        yield "wrong-type", WRONG_TYPE[kind]
        yield "null", None
    if kind == "integer":
        yield "fraction", 1.5
        yield "integral-float", 2.0  # invalid in draft 4, valid from draft 6 on
    if kind in ("integer", "number"):
        if "minimum" in node:
            yield "below-minimum", node["minimum"] - 1
        if "maximum" in node:
            yield "above-maximum", node["maximum"] + 1
        if "multipleOf" in node:
            yield "not-a-multiple", 0.35
            yield "valid-decimal-multiple", 0.7
    if kind == "string":
        if "maxLength" in node:
            yield "too-long", "y" * (node["maxLength"] + 1)
            yield "valid-max-length-unicode", "é" * node["maxLength"]
        if node.get("format") == "date-time":
            # One of each here; the whole list is checked against the oracle on its own.
            yield "bad-datetime", INVALID_DATETIMES[4]
            yield "valid-datetime", VALID_DATETIMES[1]
    if "enum" in node:
        yield "not-in-enum", "NotAMember"
        yield "enum-wrong-case", str(node["enum"][0]).swapcase()
    if kind == "array" and isinstance(value, list):
        if node.get("minItems", 0) > 0:
            yield "too-few-items", []
        if "maxItems" in node and value:
            yield "too-many-items", [value[0]] * (node["maxItems"] + 1)
    if kind == "object" and isinstance(value, dict):
        for name in node.get("required", []):
            if name in value:
                yield f"missing {name}", {key: item for key, item in value.items() if key != name}
        if node.get("additionalProperties", True) is False:
            yield "extra-property", {**value, "unexpectedProperty": 1}


def places(node: dict, root: dict, value, path=()) -> Iterator[tuple[tuple, dict, object]]:
    """(path, schema, value) of every value inside an instance, the instance first."""
    node = resolve(node, root)
    yield path, node, value
    if isinstance(value, dict):
        for name, item in value.items():
            child = node.get("properties", {}).get(name)
            if child is not None:
                yield from places(child, root, item, path + (name,))
    elif isinstance(value, list) and value and isinstance(node.get("items"), dict):
        # The items share one schema: the last one stands for all, and its index
        # tests that paths count.
        index = len(value) - 1
        yield from places(node["items"], root, value[index], path + (index,))


def replaced(instance, path: tuple, replacement):
    if not path:
        return replacement
    copy = orjson.loads(orjson.dumps(instance))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = replacement
    return copy


# A definition used in many places (2.x customData is in every object) is mutated in
# this many of them; the rest add time, not coverage.
PLACES_PER_DEFINITION = 2


def cases(message: Message) -> Iterator[tuple[str, object]]:
    """(label, instance): the two valid examples, then mutations of each."""
    root = message.schema
    for full in (False, True):
        instance = example(root, root, full)
        label = "full" if full else "minimal"
        yield label, instance
        mutated: dict[tuple[int, str], int] = {}
        for path, node, value in places(root, root, instance):
            for what, replacement in mutations(node, root, value):
                if not path and not isinstance(replacement, dict):
                    continue  # a payload that is no object is the envelope's business
                seen = mutated.get((id(node), what), 0)
                if seen >= PLACES_PER_DEFINITION:
                    continue
                mutated[(id(node), what)] = seen + 1
                yield f"{label} {list(path)} {what}", replaced(instance, path, replacement)
