"""Station ids and token ids as they travel in URLs, NATS subjects and KV keys."""
import re

MAX_STATION_ID_LENGTH = 48
# What a 2.0.1 station's idToken holds (2.1 takes 255): chargebus keeps only tokens that
# any 2.x station can present. A 1.6 idTag holds 20; chargebus.locallists checks that
# where a list goes to a 1.6 station.
MAX_TOKEN_ID_LENGTH = 36

STATION_ID_RULE = f"1 to {MAX_STATION_ID_LENGTH} characters of A-Z a-z 0-9 - _ = : + | @"
TOKEN_ID_RULE = (f"1 to {MAX_TOKEN_ID_LENGTH} printable characters, without spaces at "
                 "either end")

# OCPP 2.0.1 identifierString is a-z A-Z 0-9 * - _ = : + | @ . ; chargebus drops '*'
# and '.', which would change the meaning of a NATS subject the id is a token of.
STATION_ID_PATTERN = rf"[A-Za-z0-9\-_=:+|@]{{1,{MAX_STATION_ID_LENGTH}}}"
_STATION_ID = re.compile(STATION_ID_PATTERN)

_KV_KEY_SAFE = re.compile(r"[A-Za-z0-9\-_]")
_KV_KEY_SAFE_PART = re.compile(r"[A-Za-z0-9\-_]+")


class InvalidIdentifier(ValueError):
    pass


def check_station_id(station_id: str) -> str:
    if not _STATION_ID.fullmatch(station_id):
        raise InvalidIdentifier(f"station id must be {STATION_ID_RULE}")
    return station_id


def check_token_id(id_token: str) -> str:
    """OCPP lets a token id be any string up to its length; a control character, or a
    space at either end, is a slip of whoever typed it that no card would ever match."""
    if not (0 < len(id_token) <= MAX_TOKEN_ID_LENGTH and id_token.isprintable()
            and id_token == id_token.strip()):
        raise InvalidIdentifier(f"a token id is {TOKEN_ID_RULE}")
    return id_token


def kv_key(*parts: str) -> str:
    """A JetStream KV key made of parts, each escaped to the characters KV keys allow.

    '=' escapes: a character outside [A-Za-z0-9-_] becomes '=' and its code point in
    hex, fixed-width per byte of UTF-8, so distinct parts never collide; '.' joins parts.
    """
    if len(parts) == 1:  # a station's key: made on every connect
        return _escape(parts[0])
    return ".".join(map(_escape, parts))


def _escape(part: str) -> str:
    if not part:
        raise InvalidIdentifier("an empty identifier cannot be a key")
    if _KV_KEY_SAFE_PART.fullmatch(part):  # most ids need no escaping
        return part
    return "".join(
        char if _KV_KEY_SAFE.match(char) else "".join(f"={byte:02X}" for byte in char.encode())
        for char in part
    )
