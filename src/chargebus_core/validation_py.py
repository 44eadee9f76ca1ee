"""What every generated validator module (schemas_<v>) calls: the checks that are not
written out inline, and those that raise. One source, two builds, as frame_py: the
compiled schema modules cimport these from validation_c (through their .pxd), the pure
ones import them from here.
"""
from decimal import Decimal

from chargebus_core.errors import SchemaViolation

# What the pure validator modules import with *: the names start with _, which * skips
# unless they are listed.
__all__ = (
    "_is_datetime", "_violation", "_too_long", "_not_a_member", "_check_integer4",
    "_check_integer6", "_check_number", "_check_boolean", "_check_minimum", "_check_maximum",
    "_check_multiple", "_identify", "_missing",
)


def _number(text, start, length):
    """The decimal number of ``length`` ASCII digits at ``start``, or -1."""
    result = 0
    for index in range(start, start + length):
        digit = ord(text[index]) - 48
        if digit < 0 or digit > 9:
            return -1
        result = result * 10 + digit
    return result


def _is_datetime(text):
    """RFC 3339 date-time, as jsonschema's format checker (rfc3339-validator) takes it:
    T and Z in either case, fraction of any length, offset within +-23:59, no leap
    second, no year 0. Unlike that checker, a trailing newline is refused."""
    length = len(text)
    if length < 20:
        return False
    if (text[4] != "-" or text[7] != "-" or text[13] != ":" or text[16] != ":"
            or (text[10] != "T" and text[10] != "t")):
        return False
    year = _number(text, 0, 4)
    month = _number(text, 5, 2)
    day = _number(text, 8, 2)
    if year <= 0 or month < 1 or month > 12 or day < 1:
        return False
    if day > 28:
        if month == 2:
            if day > 29 or year % 4 != 0 or (year % 100 == 0 and year % 400 != 0):
                return False
        elif day > 30 + ((month + month // 8) % 2):
            return False
    hour = _number(text, 11, 2)
    minute = _number(text, 14, 2)
    second = _number(text, 17, 2)
    if hour < 0 or hour > 23 or minute < 0 or minute > 59 or second < 0 or second > 59:
        return False
    index = 19
    if text[index] == ".":
        index += 1
        start = index
        while index < length and "0" <= text[index] <= "9":
            index += 1
        if index == start or index >= length:
            return False
    zone = text[index]
    if zone == "Z" or zone == "z":
        return index + 1 == length
    if (zone != "+" and zone != "-") or length - index != 6 or text[index + 3] != ":":
        return False
    hours = _number(text, index + 1, 2)
    minutes = _number(text, index + 4, 2)
    return 0 <= hours <= 23 and 0 <= minutes <= 59


def _violation(keyword, message):
    raise SchemaViolation(keyword, [], message)


def _too_long(max_length):
    raise SchemaViolation("maxLength", [], f"must be at most {max_length} characters")


def _not_a_member(members):
    raise SchemaViolation("enum", [], "must be one of " + ", ".join(members))


def _check_integer4(value):
    if type(value) is not int:
        raise SchemaViolation("type", [], "must be an integer")
    return 0


def _check_integer6(value):
    """From JSON Schema draft 6 on, 1.0 is an integer too."""
    if type(value) is not int and not (type(value) is float and value.is_integer()):
        raise SchemaViolation("type", [], "must be an integer")
    return 0


def _check_number(value):
    if type(value) is not int and type(value) is not float:
        raise SchemaViolation("type", [], "must be a number")
    return 0


def _check_boolean(value):
    if type(value) is not bool:
        raise SchemaViolation("type", [], "must be true or false")
    return 0


def _check_minimum(value, minimum):
    if value < minimum:
        raise SchemaViolation("minimum", [], f"must be at least {minimum}")
    return 0


def _check_maximum(value, maximum):
    if value > maximum:
        raise SchemaViolation("maximum", [], f"must be at most {maximum}")
    return 0


def _check_multiple(value, step):
    """multipleOf on decimals, as the OCPP 1.6 schemas mean it (0.3 is a multiple of 0.1)."""
    if Decimal(repr(value)) % Decimal(step) != 0:
        raise SchemaViolation("multipleOf", [], f"must be a multiple of {step}")
    return 0


def _identify(key, names, seen):
    """The index of the property named ``key``, or -1; remembers the key object."""
    for index in range(len(names)):
        if key == names[index]:
            seen[index] = key
            return index
    return -1


def _missing(value, required):
    for name in required:
        if name not in value:
            raise SchemaViolation("required", [name], "is required")
    return 0
