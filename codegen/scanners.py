"""The in-place request scanners of chargebus_core, written from the OCA JSON schemas.

    .venv/bin/python -m codegen scanners

writes, per version, ``src/chargebus_core/scanners_<v>_py.py`` (plain Python, the pure
build), the link ``scanners_<v>_c.py`` and ``scanners_<v>_c.pxd`` (the C types of the
compiled build). The output is committed, so that building needs neither this package
nor the network.

A scanner reads the bytes of a CALL (or 2.1 SEND) frame once, checking the envelope
and the payload against the action's request schema as it goes, without building a
Python object for any value: the edge forwards the payload to the bus as the station
sent it. A scanner answers only "valid" or "not sure": it steps aside on anything
it does not check exactly as the validators of codegen/validators.py do (an escape or
a byte outside printable ASCII in a string, null, an exponent, a fraction where the
schema limits the number, a repeated or unknown key, multipleOf, ...), and on every
error; the full decoder (orjson, then the validators) then decides and words the
answer. So a scanner must never accept what the validators refuse;
tests/test_scanners.py checks both builds against them.
"""
import math
from pathlib import Path

from codegen.oca import (OUTPUT, VERSIONS, canonical, function_name, header, message_schemas,
                         resolve)
from codegen.writer import Writer, write_both_builds

COMMAND = "python -m codegen scanners"
MAX_UNIQUE_ID_LENGTH = 36
# An integer of up to 18 digits fits a C long long; longer ones go to the full decoder.
MAX_INTEGER_DIGITS = 18
LIMITLESS = 10 ** MAX_INTEGER_DIGITS

WHITESPACE = (32, 9, 10, 13)
QUOTE, COMMA, COLON, OPEN_OBJECT, CLOSE_OBJECT, OPEN_ARRAY, CLOSE_ARRAY = (
    34, 44, 58, 123, 125, 91, 93)

# Local variables of every generated function, as C types in the compiled build.
LOCALS = ('@cython.locals(q=Py_ssize_t, k=Py_ssize_t, n=Py_ssize_t, count=Py_ssize_t, '
          'seen="unsigned long long")')


def distinguishing_order(words: list[str]) -> list[int]:
    """Byte positions of same-length words, the most telling first: a word that does
    not match fails at its first comparison, usually."""
    size = len(words[0])
    return sorted(range(size), key=lambda index: -len({word[index] for word in words}))


def word_test(word: str, start: str, order: list[int]) -> str:
    """A condition that the bytes at ``start`` spell ``word`` (of a length already
    checked): the most telling byte first, then the whole word."""
    encoded = word.encode("ascii")
    first = order[0]
    at = f"{start} + {first}" if first else start
    if len(encoded) <= 4:
        return " and ".join(f"b[{start} + {index}] == {encoded[index]}" if index
                            else f"b[{start}] == {encoded[0]}" for index in order)
    return f"b[{at}] == {encoded[first]} and _same(b, {start}, {encoded!r}, {len(encoded)})"


class ScannersModule:
    """The scanner functions of one version, one per distinct object or array schema."""

    def __init__(self) -> None:
        self.functions: dict[str, str] = {}
        self.bodies: list[Writer] = []
        self.declarations: list[str] = []
        self.enum_matchers: dict[str, str] = {}

    def function_for(self, node: dict, root: dict, hint: str) -> str:
        node = resolve(node, root)
        key = canonical(node, root)
        if key in self.functions:
            return self.functions[key]
        name = function_name(node, key, hint)
        self.functions[key] = name
        body = (self.object_function(name, node, root) if node["type"] == "object"
                else self.array_function(name, node, root, hint))
        self.declarations += [LOCALS, f"cdef Py_ssize_t {name}(text b, Py_ssize_t p, "
                              "Py_ssize_t end) noexcept"]
        self.bodies.append(body)
        return name

    def enum_matcher(self, members: list[str]) -> str:
        key = repr(sorted(members))
        if key in self.enum_matchers:
            return self.enum_matchers[key]
        name = f"_is_enum{len(self.enum_matchers)}"
        by_length: dict[int, list[str]] = {}
        for member in members:
            by_length.setdefault(len(member.encode("ascii")), []).append(member)
        body = Writer()
        with body.block(f"def {name}(b, k, n):"):
            for size, same in sorted(by_length.items()):
                order = distinguishing_order(same)
                with body.block(f"if n == {size}:"):
                    body.line("return " + " or ".join(
                        f"({word_test(member, 'k', order)})" for member in same))
            body.line("return False")
        self.bodies.append(body)
        self.declarations.append(f"cdef bint {name}(text b, Py_ssize_t k, Py_ssize_t n) noexcept")
        self.enum_matchers[key] = name
        return name

    def value_code(self, out: Writer, node: dict, root: dict, hint: str) -> None:
        """Statements that read one value at ``p`` (not whitespace) and leave ``p``
        just after it, or return -1."""
        node = resolve(node, root)
        kind = node.get("type")
        if kind == "string":
            if not all(isinstance(member, str) and member.isascii()
                       for member in node.get("enum", [])):
                out.line("return -1  # an enum of other than ASCII strings")
                return
            tests = ["q < 0"]
            if "enum" in node:
                tests.append(f"not {self.enum_matcher(node['enum'])}(b, p + 1, q - p - 2)")
            if node.get("format") == "date-time":
                tests.append("not _is_datetime(b, p + 1, q - p - 2)")
            limit = int(node.get("maxLength", -1))
            out.line(f"q = _text(b, p, end, {limit})")
            with out.block(f"if {' or '.join(tests)}:"):
                out.line("return -1")
            out.line("p = q")
            return
        if "enum" in node:
            out.line("return -1  # an enum of other than strings")
            return
        if kind in ("integer", "number"):
            if "multipleOf" in node:
                out.line("return -1  # multipleOf: decimal arithmetic, left to the validators")
                return
            if "minimum" in node or "maximum" in node:
                # A limited number is taken in integer form only; for an integer,
                # x >= 0.5 is x >= 1 and x <= 2.5 is x <= 2.
                lowest = math.ceil(node.get("minimum", -LIMITLESS))
                highest = math.floor(node.get("maximum", LIMITLESS))
                reader = f"_integer_within(b, p, end, {lowest}, {highest})"
            else:
                reader = f"{'_integer' if kind == 'integer' else '_number'}(b, p, end)"
            self.read(out, reader)
        elif kind == "boolean":
            self.read(out, "_boolean(b, p, end)")
        elif kind in ("object", "array"):
            self.read(out, f"{self.function_for(node, root, hint)}(b, p, end)")
        else:
            out.line("return -1  # a value of any type")

    @staticmethod
    def read(out: Writer, reader: str) -> None:
        """``p`` moved past a value by ``reader``, or -1 returned."""
        out.line(f"p = {reader}")
        with out.block("if p < 0:"):
            out.line("return -1")

    @staticmethod
    def opening(out: Writer, bracket: int) -> None:
        """The opening ``bracket`` at ``p``, or -1 returned."""
        with out.block(f"if b[p] != {bracket}:"):
            out.line("return -1")

    @staticmethod
    def separator(out: Writer, closing: int) -> None:
        """After a member or an item: a comma and more, or the ``closing`` bracket,
        which ends the loop."""
        out.line("p = _ws(b, p, end)")
        with out.block("if p < 0:"):
            out.line("return -1")
        with out.block(f"if b[p] == {COMMA}:"):
            out.line("p = _ws(b, p + 1, end)")
            with out.block("if p < 0:"):
                out.line("return -1")
        with out.block(f"elif b[p] == {closing}:"):
            out.line("p += 1")
            out.line("break")
        with out.block("else:"):
            out.line("return -1")

    def object_function(self, name: str, node: dict, root: dict) -> Writer:
        properties = node.get("properties", {})
        required = node.get("required", [])
        out = Writer()
        with out.block(f"def {name}(b, p, end):"):
            if any(field not in properties for field in required) or len(properties) > 63:
                out.line("return -1")
                return out
            self.opening(out, OPEN_OBJECT)
            if not properties:
                # additionalProperties false or not, only {} is certainly valid here.
                out.line("p = _ws(b, p + 1, end)")
                with out.block(f"if p < 0 or b[p] != {CLOSE_OBJECT}:"):
                    out.line("return -1")
                out.line("return p + 1")
                return out
            fields = list(properties)
            required_mask = sum(1 << fields.index(field) for field in required)
            out.line("seen = 0")
            self.read(out, "_ws(b, p + 1, end)")
            with out.block(f"if b[p] == {CLOSE_OBJECT}:"):
                out.line("p += 1")
            with out.block("else:"), out.block("while True:"):
                with out.block(f"if b[p] != {QUOTE}:"):
                    out.line("return -1")
                out.line("q = _string(b, p, end)")
                with out.block("if q < 0:"):
                    out.line("return -1")
                out.line("k = p + 1")
                out.line("n = q - p - 2")
                self.read(out, "_member_value(b, q, end)")
                by_length: dict[int, list[str]] = {}
                for field in fields:
                    by_length.setdefault(len(field.encode("ascii")), []).append(field)
                for number, (size, same) in enumerate(sorted(by_length.items())):
                    with out.block(f"{'elif' if number else 'if'} n == {size}:"):
                        order = distinguishing_order(same)
                        for position, field in enumerate(same):
                            bit = 1 << fields.index(field)
                            with out.block(f"{'elif' if position else 'if'} "
                                           f"{word_test(field, 'k', order)}:"):
                                with out.block(f"if seen & {bit}:"):
                                    out.line("return -1")
                                out.line(f"seen |= {bit}")
                                self.value_code(out, properties[field], root, field)
                        with out.block("else:"):
                            out.line("return -1")
                with out.block("else:"):
                    out.line("return -1")
                self.separator(out, CLOSE_OBJECT)
            if required_mask:
                with out.block(f"if seen & {required_mask} != {required_mask}:"):
                    out.line("return -1")
            out.line("return p")
        return out

    def array_function(self, name: str, node: dict, root: dict, hint: str) -> Writer:
        items = node.get("items")
        out = Writer()
        with out.block(f"def {name}(b, p, end):"):
            if not isinstance(items, dict):
                out.line("return -1")
                return out
            self.opening(out, OPEN_ARRAY)
            out.line("count = 0")
            self.read(out, "_ws(b, p + 1, end)")
            with out.block(f"if b[p] == {CLOSE_ARRAY}:"):
                out.line("p += 1")
            with out.block("else:"), out.block("while True:"):
                self.value_code(out, items, root, hint)
                out.line("count += 1")
                self.separator(out, CLOSE_ARRAY)
            limits = []
            if "minItems" in node:
                limits.append(f"count < {int(node['minItems'])}")
            if "maxItems" in node:
                limits.append(f"count > {int(node['maxItems'])}")
            if limits:
                with out.block(f"if {' or '.join(limits)}:"):
                    out.line("return -1")
            out.line("return p")
        return out

    @staticmethod
    def expect(out: Writer, condition: str) -> None:
        """In _scan: None (not sure) unless ``condition`` is false."""
        with out.block(f"if {condition}:"):
            out.line("return None")

    def entry(self, requests: dict[str, str]) -> Writer:
        """scan_call: the envelope, then the payload of the action the frame names."""
        out = Writer()
        with out.block("def scan_call(data, has_send):"):
            out.line('"""(message type, unique id, action, payload as sent) of a CALL, or with\n'
                     "``has_send`` a SEND, whose payload is valid; None when any of it is not\n"
                     'certainly so."""')
            out.line("return _scan(data, len(data), has_send)")
        out.line("\n")
        with out.block("def _scan(b, end, has_send):"):
            out.line("p = _ws(b, 0, end)")
            self.expect(out, f"p < 0 or b[p] != {OPEN_ARRAY}")
            out.line("p = _ws(b, p + 1, end)")
            self.expect(out, "p < 0")
            out.line("message_type = b[p] - 48")
            self.expect(out, "message_type != 2 and (message_type != 6 or not has_send)")
            out.line("p = _ws(b, p + 1, end)")
            self.expect(out, f"p < 0 or b[p] != {COMMA}")
            out.line("p = _ws(b, p + 1, end)")
            self.expect(out, f"p < 0 or b[p] != {QUOTE}")
            out.line("q = _string(b, p, end)")
            self.expect(out, f"q < 0 or q - p - 2 > {MAX_UNIQUE_ID_LENGTH}")
            out.line("unique_id = b[p + 1:q - 1].decode('ascii')")
            out.line("p = _ws(b, q, end)")
            self.expect(out, f"p < 0 or b[p] != {COMMA}")
            out.line("p = _ws(b, p + 1, end)")
            self.expect(out, f"p < 0 or b[p] != {QUOTE}")
            out.line("q = _string(b, p, end)")
            self.expect(out, "q < 0")
            out.line("k = p + 1")
            out.line("n = q - p - 2")
            out.line("p = _ws(b, q, end)")
            self.expect(out, f"p < 0 or b[p] != {COMMA}")
            out.line("p = _ws(b, p + 1, end)")
            self.expect(out, "p < 0")
            out.line("start = p")
            by_length: dict[int, list[str]] = {}
            for action in sorted(requests):
                by_length.setdefault(len(action), []).append(action)
            for number, (size, same) in enumerate(sorted(by_length.items())):
                with out.block(f"{'elif' if number else 'if'} n == {size}:"):
                    order = distinguishing_order(same)
                    for position, action in enumerate(same):
                        with out.block(f"{'elif' if position else 'if'} "
                                       f"{word_test(action, 'k', order)}:"):
                            out.line(f"action = {action!r}")
                            out.line(f"p = {requests[action]}(b, p, end)")
                    with out.block("else:"):
                        out.line("return None")
            with out.block("else:"):
                out.line("return None")
            self.expect(out, "p < 0")
            out.line("stop = p")
            out.line("p = _ws(b, p, end)")
            self.expect(out, f"p < 0 or b[p] != {CLOSE_ARRAY} or _ws(b, p + 1, end) != -1")
            out.line("return (message_type, unique_id, action, b[start:stop])")
        return out


RUNTIME = '''
def _ws(b, p, end):
    """The position of the first byte from ``p`` on that is not JSON whitespace, or -1
    when there is none: every caller expects something more."""
    while p < end:
        c = b[p]
        if c != 32 and c != 10 and c != 13 and c != 9:
            return p
        p += 1
    return -1


def _same(b, k, word, size):
    for index in range(size):
        if b[k + index] != word[index]:
            return False
    return True


def _member_value(b, q, end):
    """After a member's name: the colon, and the position where its value starts."""
    q = _ws(b, q, end)
    if q < 0 or b[q] != 58:
        return -1
    return _ws(b, q + 1, end)


def _string(b, p, end):
    """The position after the string that starts at ``p`` (a quote), or -1 when it has
    an escape, a control character or a byte outside ASCII: those the full decoder
    reads, so that a length here is a count of characters."""
    p += 1
    while p < end:
        c = b[p]
        if c == 34:
            return p + 1
        if c < 32 or c > 126 or c == 92:
            return -1
        p += 1
    return -1


def _integer_part(b, p, end):
    """The position after -?(0|[1-9][0-9]*) at ``p`` of at most 18 digits, or -1."""
    if b[p] == 45:
        p += 1
        if p >= end:
            return -1
    if b[p] == 48:
        return p + 1
    start = p
    while p < end and 48 <= b[p] <= 57:
        p += 1
    if p == start or p - start > 18:
        return -1
    return p


def _integer(b, p, end):
    """The position after an integer in JSON form (no fraction, no exponent, at most
    18 digits) at ``p``, or -1."""
    p = _integer_part(b, p, end)
    if p < 0 or (p < end and (b[p] == 46 or b[p] == 101 or b[p] == 69 or 48 <= b[p] <= 57)):
        return -1
    return p


def _integer_within(b, p, end, lowest, highest):
    """As _integer, and -1 too for an integer below ``lowest`` or above ``highest``."""
    q = _integer(b, p, end)
    if q < 0:
        return -1
    negative = b[p] == 45
    if negative:
        p += 1
    value = 0
    while p < q:
        value = value * 10 + (b[p] - 48)
        p += 1
    if negative:
        value = -value
    if value < lowest or value > highest:
        return -1
    return q


def _text(b, p, end, max_length):
    """The position after a string at ``p`` of at most ``max_length`` characters
    (-1: any length), or -1."""
    if b[p] != 34:
        return -1
    q = _string(b, p, end)
    if q < 0 or (max_length >= 0 and q - p - 2 > max_length):
        return -1
    return q


def _number(b, p, end):
    """The position after a number at ``p``: an integer, or one with a fraction (at
    most 18 digits before the point, 30 after); -1 for an exponent, which the full
    decoder reads, or anything else."""
    p = _integer_part(b, p, end)
    if p < 0 or p == end:
        return p
    c = b[p]
    if 48 <= c <= 57 or c == 101 or c == 69:
        return -1
    if c != 46:
        return p
    p += 1
    start = p
    while p < end and 48 <= b[p] <= 57:
        p += 1
    # A long fraction is left to the full decoder, which rounds it as it will.
    if p == start or p - start > 30 or (p < end and (b[p] == 101 or b[p] == 69)):
        return -1
    return p


def _boolean(b, p, end):
    if (p + 4 <= end and b[p] == 116 and b[p + 1] == 114 and b[p + 2] == 117
            and b[p + 3] == 101):
        return p + 4
    if (p + 5 <= end and b[p] == 102 and b[p + 1] == 97 and b[p + 2] == 108
            and b[p + 3] == 115 and b[p + 4] == 101):
        return p + 5
    return -1


def _digits(b, k, count):
    """The decimal number of ``count`` ASCII digits at ``k``, or -1."""
    result = 0
    for index in range(k, k + count):
        digit = b[index] - 48
        if digit < 0 or digit > 9:
            return -1
        result = result * 10 + digit
    return result


def _is_datetime(b, k, n):
    """RFC 3339 date-time, by the rules of the validators' _is_datetime (T and Z in
    either case, fraction of any length, offset within +-23:59, no leap second, no
    year 0), on the ``n`` bytes at ``k``."""
    if n < 20:
        return False
    if (b[k + 4] != 45 or b[k + 7] != 45 or b[k + 13] != 58 or b[k + 16] != 58
            or (b[k + 10] != 84 and b[k + 10] != 116)):
        return False
    year = _digits(b, k, 4)
    month = _digits(b, k + 5, 2)
    day = _digits(b, k + 8, 2)
    if year <= 0 or month < 1 or month > 12 or day < 1:
        return False
    if day > 28:
        if month == 2:
            if day > 29 or year % 4 != 0 or (year % 100 == 0 and year % 400 != 0):
                return False
        elif day > 30 + ((month + month // 8) % 2):
            return False
    hour = _digits(b, k + 11, 2)
    minute = _digits(b, k + 14, 2)
    second = _digits(b, k + 17, 2)
    if hour < 0 or hour > 23 or minute < 0 or minute > 59 or second < 0 or second > 59:
        return False
    index = 19
    if b[k + index] == 46:
        index += 1
        start = index
        while index < n and 48 <= b[k + index] <= 57:
            index += 1
        if index == start or index >= n:
            return False
    zone = b[k + index]
    if zone == 90 or zone == 122:
        return index + 1 == n
    if (zone != 43 and zone != 45) or n - index != 6 or b[k + index + 3] != 58:
        return False
    hours = _digits(b, k + index + 1, 2)
    minutes = _digits(b, k + index + 4, 2)
    return 0 <= hours <= 23 and 0 <= minutes <= 59
'''

RUNTIME_DECLARATIONS = """\
cimport cython

# The frame's bytes. Every index a scanner reads is below ``end`` (checked where the
# frame's length is not already known to allow it), so no read leaves the frame.
ctypedef const unsigned char* text

@cython.locals(c=int)
cdef Py_ssize_t _ws(text b, Py_ssize_t p, Py_ssize_t end) noexcept
@cython.locals(index=Py_ssize_t)
cdef bint _same(text b, Py_ssize_t k, const char* word, Py_ssize_t size) noexcept
cdef Py_ssize_t _member_value(text b, Py_ssize_t q, Py_ssize_t end) noexcept
@cython.locals(c=int)
cdef Py_ssize_t _string(text b, Py_ssize_t p, Py_ssize_t end) noexcept
@cython.locals(start=Py_ssize_t)
cdef Py_ssize_t _integer_part(text b, Py_ssize_t p, Py_ssize_t end) noexcept
cdef Py_ssize_t _integer(text b, Py_ssize_t p, Py_ssize_t end) noexcept
@cython.locals(q=Py_ssize_t, value="long long", negative=bint)
cdef Py_ssize_t _integer_within(text b, Py_ssize_t p, Py_ssize_t end, long long lowest,
                                long long highest) noexcept
@cython.locals(q=Py_ssize_t)
cdef Py_ssize_t _text(text b, Py_ssize_t p, Py_ssize_t end,
                     Py_ssize_t max_length) noexcept
@cython.locals(c=int, start=Py_ssize_t)
cdef Py_ssize_t _number(text b, Py_ssize_t p, Py_ssize_t end) noexcept
cdef Py_ssize_t _boolean(text b, Py_ssize_t p, Py_ssize_t end) noexcept
@cython.locals(result=long, digit=int, index=Py_ssize_t)
cdef long _digits(text b, Py_ssize_t k, Py_ssize_t count) noexcept
@cython.locals(year=long, month=long, day=long, hour=long, minute=long, second=long,
               index=Py_ssize_t, start=Py_ssize_t, zone=int, hours=long, minutes=long)
cdef bint _is_datetime(text b, Py_ssize_t k, Py_ssize_t n) noexcept
"""


def write_version(tag: str, package: str, output: Path = OUTPUT) -> int:
    module = ScannersModule()
    requests = {}
    for action, direction, schema in message_schemas(package):
        if direction == "request":
            requests[action] = module.function_for(schema, schema, action + "Request")

    first = header(COMMAND, package)
    out = Writer()
    out.line(first)
    out.line(f'"""In-place scanners of every OCPP {package} request: see '
             'codegen/scanners.py."""')
    out.line(RUNTIME)
    for body in module.bodies:
        out.line("\n")
        out.include(body)
    out.line("\n")
    out.include(module.entry(requests))
    write_both_builds(output, f"scanners_{tag}", out.text())
    declarations = Writer()
    declarations.line(first)
    declarations.line()
    declarations.line(RUNTIME_DECLARATIONS)
    for declaration in module.declarations:
        declarations.line(declaration)
    declarations.line("@cython.locals(p=Py_ssize_t, q=Py_ssize_t, k=Py_ssize_t, n=Py_ssize_t, "
                      "start=Py_ssize_t, stop=Py_ssize_t, message_type=int)")
    declarations.line("cdef object _scan(text b, Py_ssize_t end, bint has_send)")
    declarations.line("cpdef object scan_call(bytes data, bint has_send)")
    (output / f"scanners_{tag}_c.pxd").write_text(declarations.text(), encoding="utf-8")
    return len(requests)


def generate(output: Path = OUTPUT) -> list[str]:
    """Write the scanners of every version into ``output``; one line per version."""
    return [f"{tag}: {write_version(tag, package, output)} request scanners -> "
            f"scanners_{tag}_py.py" for tag, (package, _) in VERSIONS.items()]
