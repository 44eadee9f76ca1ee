"""The OCPP schema validators of chargebus_core, written from the OCA JSON schemas.

    .venv/bin/python -m codegen validators

reads every schema the installed ``ocpp`` package ships (v16, v201, v21: each request and
each response) and writes, per version, ``src/chargebus_core/schemas_<v>_py.py`` (plain
Python, the pure build), the link ``schemas_<v>_c.py`` to it and ``schemas_<v>_c.pxd``
(the C types of the compiled build). The output is committed, so that building needs
neither this package nor the network.

What the validators check is what the schemas say: type (integer versus number per
draft), required, additionalProperties, enum, maxLength, minimum, maximum, multipleOf,
minItems, maxItems, nested objects and arrays through $ref, and format date-time
(RFC 3339). A violation raises chargebus_core.errors.SchemaViolation with the schema
keyword that failed and the JSON path to the value.
"""
from pathlib import Path

from codegen.oca import (OUTPUT, VERSIONS, canonical, function_name, header, message_schemas,
                         resolve)
from codegen.writer import Writer, cimport_line, write_both_builds

COMMAND = "python -m codegen validators"

# Formats the oracle (jsonschema without optional packages) does not check either.
UNCHECKED_FORMATS = {"uri"}


class ValidatorsModule:
    """The validator functions of one version, one function per distinct object or
    array schema (the 2.x files repeat their shared definitions in every file)."""

    def __init__(self, draft: int):
        self.draft = draft
        self.functions: dict[str, str] = {}  # canonical schema -> function name
        self.bodies: list[Writer] = []
        self.declarations: list[str] = []
        self.constants: dict[str, tuple[str, str]] = {}  # literal -> (name, pxd type)
        self.enum_matchers: dict[str, str] = {}  # sorted members -> matcher function
        self.seen_lists: dict[str, int] = {}  # identity cache of an object's keys -> size

    def constant(self, literal: str, pxd_type: str, prefix: str) -> str:
        if literal not in self.constants:
            self.constants[literal] = (f"_{prefix}{len(self.constants)}", pxd_type)
        return self.constants[literal][0]

    def function_for(self, node: dict, root: dict, hint: str) -> str:
        """The name of the function that validates a value of this object or array schema."""
        node = resolve(node, root)
        key = canonical(node, root)
        if key in self.functions:
            return self.functions[key]
        name = function_name(node, key, hint)
        self.functions[key] = name
        if node["type"] == "object":
            body = self.object_function(name, node, root)
            # cpdef: a C call inside the module, and a Python entry for the tables
            self.declarations.append(f"cpdef int {name}(dict value) except -1")
        else:
            body = self.array_function(name, node, root, hint)
            self.declarations.append(f"cdef int {name}(list value) except -1")
        self.bodies.append(body)
        return name

    def value_checks(self, out: Writer, node: dict, root: dict, variable: str,
                     hint: str) -> None:
        """Statements that check ``variable`` against a schema. The frequent tests
        (string, object, array, enum) are written out, so that a valid value costs no
        call; every failure is one call of a runtime helper that raises."""
        node = resolve(node, root)
        kind = node.get("type")
        if kind == "string":
            with out.block(f"if type({variable}) is not str:"):
                out.line("_violation('type', 'must be a string')")
            if "maxLength" in node:
                limit = int(node["maxLength"])
                with out.block(f"if len({variable}) > {limit}:"):
                    out.line(f"_too_long({limit})")
            if node.get("format") == "date-time":
                with out.block(f"if not _is_datetime({variable}):"):
                    out.line("_violation('format', 'must be an RFC 3339 date-time')")
            elif "format" in node and node["format"] not in UNCHECKED_FORMATS:
                raise SystemExit(f"unsupported format {node['format']}")
        elif kind == "integer":
            out.line(f"_check_integer{self.draft}({variable})")
        elif kind == "number":
            out.line(f"_check_number({variable})")
        elif kind == "boolean":
            out.line(f"_check_boolean({variable})")
        elif kind in ("object", "array"):
            python_type = "dict" if kind == "object" else "list"
            with out.block(f"if type({variable}) is not {python_type}:"):
                out.line(f"_violation('type', 'must be an {kind}')")
            out.line(f"{self.function_for(node, root, hint)}({variable})")
        elif kind is not None:
            raise SystemExit(f"unsupported type {kind!r}")

        if kind in ("integer", "number"):
            if "minimum" in node:
                out.line(f"_check_minimum({variable}, {node['minimum']!r})")
            if "maximum" in node:
                out.line(f"_check_maximum({variable}, {node['maximum']!r})")
            if "multipleOf" in node:
                step = self.constant(repr(str(node["multipleOf"])), "str", "STEP")
                out.line(f"_check_multiple({variable}, {step})")
        if "enum" in node:
            self.enum_check(out, node["enum"], variable, kind)

    def enum_check(self, out: Writer, members: list, variable: str, kind: str | None) -> None:
        """A string enum is matched by length, then by comparing the few members of
        that length: no hashing of the value, which a set lookup would need."""
        if kind != "string" or not all(isinstance(member, str) for member in members):
            raise SystemExit(f"unsupported enum of non-strings {members}")
        listed = self.constant("(" + ", ".join(repr(member) for member in members) + ",)",
                               "tuple", "MEMBERS")
        key = repr(sorted(members))
        if key not in self.enum_matchers:
            name = f"_is_enum{len(self.enum_matchers)}"
            by_length: dict[int, list[str]] = {}
            for member in members:
                by_length.setdefault(len(member), []).append(member)
            body = Writer()
            with body.block(f"def {name}(value):"):
                body.line("size = len(value)")
                for size, same in sorted(by_length.items()):
                    with body.block(f"if size == {size}:"):
                        body.line("return " + " or ".join(f"value == {m!r}" for m in same))
                body.line("return False")
            self.bodies.append(body)
            self.declarations.append(f"cdef bint {name}(str value) except -1")
            self.enum_matchers[key] = name
        with out.block(f"if not {self.enum_matchers[key]}({variable}):"):
            out.line(f"_not_a_member({listed})")

    def object_function(self, name: str, node: dict, root: dict) -> Writer:
        """Walks the keys the object has (not all it may have). A key is recognised by
        identity with the key object last seen for that property: orjson hands out the
        same cached key objects message after message, so after the first message no
        text is compared. A key not recognised so is compared by text (_identify),
        which remembers it; holding it also keeps its address from being reused."""
        properties = node.get("properties", {})
        required = node.get("required", [])
        closed = node.get("additionalProperties", True) is False
        out = Writer()
        with out.block(f"def {name}(value):"):
            if not properties and not required:
                if closed:
                    with out.block("for key in value:"):
                        out.line("raise SchemaViolation('additionalProperties', [key], "
                                 "'is not allowed here')")
                out.line("return 0")
                return out
            fields = list(properties) + [field for field in required
                                         if field not in properties]
            names = self.constant(repr(tuple(fields)), "tuple", "NAMES")
            seen = f"_SEEN_{name.lstrip('_')}"
            self.seen_lists[seen] = len(fields)
            if required:
                out.line("present = 0")
            out.line("key = None")
            with out.block("try:"), out.block("for key, member in value.items():"):
                for index in range(len(fields)):
                    branch = "if" if index == 0 else "elif"
                    with out.block(f"{branch} key is {seen}[{index}]:"):
                        out.line(f"index = {index}")
                with out.block("else:"):
                    out.line(f"index = _identify(key, {names}, {seen})")
                for index, field in enumerate(fields):
                    branch = "if" if index == 0 else "elif"
                    with out.block(f"{branch} index == {index}:"):
                        if field in required:
                            out.line("present += 1")
                        if field in properties:
                            self.value_checks(out, properties[field], root, "member", field)
                if closed:
                    with out.block("else:"):
                        out.line("raise SchemaViolation('additionalProperties', [], "
                                 "'is not allowed here')")
            with out.block("except SchemaViolation as violation:"):
                out.line("violation.path.insert(0, key)")
                out.line("raise")
            if required:
                listed = self.constant(repr(tuple(required)), "tuple", "REQUIRED")
                with out.block(f"if present != {len(required)}:"):
                    out.line(f"_missing(value, {listed})")
            out.line("return 0")
        return out

    def array_function(self, name: str, node: dict, root: dict, hint: str) -> Writer:
        items = node.get("items")
        if isinstance(items, list):
            raise SystemExit("tuple-typed arrays are not used by OCPP and not supported")
        out = Writer()
        with out.block(f"def {name}(value):"):
            out.line("count = len(value)")
            if "minItems" in node:
                with out.block(f"if count < {int(node['minItems'])}:"):
                    out.line(f"raise SchemaViolation('minItems', [], "
                             f"'must have at least {node['minItems']} items')")
            if "maxItems" in node:
                with out.block(f"if count > {int(node['maxItems'])}:"):
                    out.line(f"raise SchemaViolation('maxItems', [], "
                             f"'must have at most {node['maxItems']} items')")
            checks = Writer()
            if items:
                self.value_checks(checks, items, root, "item", hint)
            if checks:
                out.line("index = 0")
                with out.block("try:"), out.block("for index in range(count):"):
                    out.line("item = value[index]")
                    out.include(checks)
                with out.block("except SchemaViolation as violation:"):
                    out.line("violation.path.insert(0, index)")
                    out.line("raise")
            out.line("return 0")
        return out


# What the generated modules call from chargebus_core.validation_py (validation_c in the
# compiled build: cimported, so a C call through a pointer).
RUNTIME = ("_is_datetime", "_violation", "_too_long", "_not_a_member", "_check_integer4",
           "_check_integer6", "_check_number", "_check_boolean", "_check_minimum",
           "_check_maximum", "_check_multiple", "_identify", "_missing")


def write_version(tag: str, package: str, draft: int, output: Path = OUTPUT) -> int:
    module = ValidatorsModule(draft)
    requests, responses = {}, {}
    for action, direction, schema in message_schemas(package):
        if schema.get("type") != "object":
            raise SystemExit(f"{package}/{action} {direction}: the root is not an object")
        function = module.function_for(schema, schema, action + direction.title())
        (requests if direction == "request" else responses)[action] = function

    first = header(COMMAND, package)
    out = Writer()
    out.line(first)
    out.line(f'"""Validators of every OCPP {package} message (JSON Schema draft {draft} '
             'semantics)."""')
    out.line("from chargebus_core.errors import SchemaViolation")
    out.line()
    with out.block('if __name__.endswith("_py"):'):
        out.line("# The compiled build cimports these from validation_c: see the .pxd.")
        out.line("from chargebus_core.validation_py import *  # noqa: F403")
    out.line()
    for literal, (name, _) in module.constants.items():
        out.line(f"{name} = {literal}")
    for name, size in module.seen_lists.items():
        out.line(f"{name} = [None] * {size}")
    for body in module.bodies:
        out.line("\n")
        out.include(body)
    for direction, table in (("request", requests), ("response", responses)):
        out.line("\n")
        with out.block(f"def validate_{direction}(action, payload):"):
            out.line(f'"""Validate the payload of a {direction} of ``action``: 0 when valid, '
                     "1 when\n"
                     "the version has no such action. The action is found by its length, "
                     "then\n"
                     'its text: no hashing of a string the station just sent."""')
            out.line("size = len(action)")
            by_length: dict[int, list[str]] = {}
            for action in sorted(table):
                by_length.setdefault(len(action), []).append(action)
            for size, actions in sorted(by_length.items()):
                with out.block(f"if size == {size}:"):
                    for action in actions:
                        with out.block(f"if action == {action!r}:"):
                            out.line(f"return {table[action]}(payload)")
            out.line("return 1")
    out.line("\n")
    out.line("# action -> validator of its payload, per direction")
    for title, table in (("REQUESTS", requests), ("RESPONSES", responses)):
        with out.block(f"{title} = {{"):
            for action, function in sorted(table.items()):
                out.line(f"{action!r}: {function},")
        out.line("}")

    write_both_builds(output, f"schemas_{tag}", out.text())
    declarations = Writer()
    declarations.line(first)
    declarations.line()
    declarations.line(cimport_line("chargebus_core.validation_c", RUNTIME))
    declarations.line()
    for name, pxd_type in module.constants.values():
        declarations.line(f"cdef {pxd_type} {name}")
    for name in module.seen_lists:
        declarations.line(f"cdef list {name}")
    declarations.line()
    for declaration in module.declarations:
        declarations.line(declaration)
    declarations.line("cpdef int validate_request(str action, dict payload) except -1")
    declarations.line("cpdef int validate_response(str action, dict payload) except -1")
    (output / f"schemas_{tag}_c.pxd").write_text(declarations.text(), encoding="utf-8")
    return len(requests) + len(responses)


def generate(output: Path = OUTPUT) -> list[str]:
    """Write the validators of every version into ``output``; one line per version."""
    return [f"{tag}: {write_version(tag, package, draft, output)} schemas -> "
            f"schemas_{tag}_py.py" for tag, (package, draft) in VERSIONS.items()]
