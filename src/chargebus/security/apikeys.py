"""API keys: who may use chargebus's HTTP API, for what, and over which stations.

A key is shown once, when it is made: ``cbk_<id>_<secret>``. chargebus keeps its id,
name, scope and reach (KV bucket api-keys) and only the SHA-256 of its secret: a secret
of 256 random bits needs no slow hash, and a reader of the bucket cannot use a key.

Scopes nest: ``read`` sees, ``operate`` also sends operations to stations and changes
what stations use (tokens, profiles, ...), ``admin`` also manages keys, webhooks and
sites. A key limited to sites or stations sees and touches only those (a station is in
reach when it is listed, or its site is).
"""
import hashlib
import hmac
import re
import secrets
from datetime import datetime
from enum import IntEnum
from typing import Literal

from chargebus.state.records import ApiKey

PREFIX = "cbk"
_ID_BYTES = 6
_SECRET_BYTES = 32
_KEY = re.compile(rf"{PREFIX}_([A-Za-z0-9]+)_([A-Za-z0-9_-]+)")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = "1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit"


ScopeWord = Literal["read", "operate", "admin"]


class Scope(IntEnum):
    READ = 1
    OPERATE = 2
    ADMIN = 3

    @property
    def word(self) -> ScopeWord:
        return _WORDS[self]

    @classmethod
    def of(cls, word: str) -> "Scope":
        try:
            return cls[word.upper()]
        except KeyError:
            raise ValueError(f"a scope is read, operate or admin, not {word!r}") from None


_WORDS: dict[Scope, ScopeWord] = {Scope.READ: "read", Scope.OPERATE: "operate",
                                  Scope.ADMIN: "admin"}


class Refused(Exception):
    """Why a key opens nothing; the message is what its holder is told."""


def issue(name: str, scope: Scope, now: datetime, created_by: str,
          sites: list[str] | None = None, stations: list[str] | None = None
          ) -> tuple[ApiKey, str]:
    """A new key's record and its text, which is not kept."""
    if not NAME.fullmatch(name):
        raise ValueError(f"a key's name is {NAME_RULE}, not {name!r}")
    # Letters and digits only in the id: the key's text splits on its underscores.
    key_id = secrets.token_hex(_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    record = ApiKey(key_id=key_id, name=name, scope=scope.word,
                    secret_sha256=_hash(secret), sites=sorted(set(sites or [])),
                    stations=sorted(set(stations or [])), created_at=now,
                    created_by=created_by)
    return record, f"{PREFIX}_{key_id}_{secret}"


def key_id_of(text: str) -> str:
    """The id in a key's text; Refused where the text is no key."""
    found = _KEY.fullmatch(text)
    if found is None:
        raise Refused("not an API key of chargebus (cbk_...)")
    return found[1]


def authenticated(record: ApiKey | None, text: str) -> ApiKey:
    """The key ``text`` is, where it is one chargebus issued and did not revoke."""
    found = _KEY.fullmatch(text)
    if found is None:
        raise Refused("not an API key of chargebus (cbk_...)")
    if record is None or not hmac.compare_digest(record.secret_sha256, _hash(found[2])):
        raise Refused("no such API key")
    if record.revoked_at is not None:
        raise Refused(f"this API key was revoked at {record.revoked_at.isoformat()}")
    return record


def allows(record: ApiKey, needed: Scope) -> bool:
    return Scope.of(record.scope) >= needed


def reaches(record: ApiKey, station_id: str, site: str | None) -> bool:
    """Whether the key may see and touch this station."""
    if not record.sites and not record.stations:
        return True
    return station_id in record.stations or (site is not None and site in record.sites)


def limited(record: ApiKey) -> bool:
    """Whether the key reaches only some stations."""
    return bool(record.sites or record.stations)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
