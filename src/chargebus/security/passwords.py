"""Station passwords (OCPP Basic auth) as chargebus stores them: salted scrypt, never clear.

The cost is low on purpose. OCPP station passwords are machine-made (2.0.1's
BasicAuthPassword is 16 to 40 characters; 1.6's AuthorizationKey 16 bytes or more),
so a slow hash buys little against guessing, while an edge verifies every station of a
reconnect storm at once: at n=2**10 a check costs about 4 ms here, 2**14 about 50 ms.
The parameters are stored with each hash, so they can be raised without a migration.
"""
import base64
import enum
import hashlib
import hmac
import os
import secrets

MIN_LENGTH = 16
MAX_LENGTH = 40
_N, _R, _P = 2**10, 8, 1


# The security profiles whose edge checks a station's password (HTTP Basic): 1 and 2.
# Profile 0 checks nothing, profile 3 the client certificate.
CHECKED_IN_PROFILES = (1, 2)


def checked_in_profile(profile: int) -> bool:
    """Whether an edge running this security profile checks station passwords."""
    return profile in CHECKED_IN_PROFILES


class WeakPassword(ValueError):
    pass


class Match(enum.IntEnum):
    """Which stored hash a presented password is: none, the current one, or the one a
    rotation made pending."""
    WRONG = 0
    CURRENT = 1
    PENDING = 2


def check_length(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise WeakPassword(f"a station password has {MIN_LENGTH} to {MAX_LENGTH} characters, "
                           "as OCPP requires")


def hash_password(password: str) -> str:
    check_length(password)
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def hash_pending(password: str, current: str) -> str:
    """The hash of a password that is to replace ``current``, with its salt and
    parameters: one scrypt of what a station presents is then compared with both, so a
    check costs the same whether or not a rotation is pending."""
    check_length(password)
    scheme, n, r, p, salt, digest = current.split("$")
    pending = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), dklen=len(base64.b64decode(digest)))
    return "$".join((scheme, n, r, p, salt, _b64(pending)))


def decoy_hash() -> str:
    """The hash of a password no one knows, at today's parameters: checked where a
    station has no hash of its own, so that it costs the time a wrong password does."""
    return hash_password(secrets.token_urlsafe(MAX_LENGTH)[:MAX_LENGTH])


def verify_password(password: str, stored: str, pending: str | None = None) -> Match:
    """Which of ``stored`` and ``pending`` (made by hash_pending from it) the password
    is, with a single scrypt."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return Match.WRONG
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                                r=int(r), p=int(p), dklen=len(expected))
        next_one = base64.b64decode(pending.rpartition("$")[2]) if pending else b""
    except (ValueError, TypeError):
        return Match.WRONG
    # Both compared, always: the time does not tell which one matched.
    current = hmac.compare_digest(actual, expected)
    rotated = hmac.compare_digest(actual, next_one) if next_one else False
    return Match.CURRENT if current else Match.PENDING if rotated else Match.WRONG


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
