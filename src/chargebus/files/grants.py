"""The credentials in the file service's URLs.

Every URL chargebus hands out opens one grant: a download of one file, or the uploads of
one request. The URL carries the grant's id and a random secret; chargebus keeps only
the secret's SHA-256 (KV bucket file-grants), so a reader of the bucket cannot upload,
and a grant opens nothing after it expires. Over HTTP the two are parts of the path
(/files/<grant>/<secret>/<name>); over FTP they are the user name and password, which
is how an FTP URL carries credentials (ftp://<grant>:<secret>@host:port/).
"""
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Literal

from chargebus.runtime.config import Settings
from chargebus.state.records import FileGrant, StoredFile
from chargebus.state.stores import Stores

# The first part of every URL path of the file service.
URL_ROOT = "files"
# What a file's name may be: it ends URLs and names a file in a folder.
# (A KV key takes these too: an image's record is keyed by its name.)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
NAME_RULE = "1 to 128 characters of A-Z a-z 0-9 . _ -, not starting with . _ or -"
# The location of an operation whose URL of the file service is made just before it is
# sent (chargebus firmware update --image, chargebus logs request).
FILE_SERVICE = "chargebus-files:"
# Where uploads without a name of their own (an HTTP POST of a bare body) are kept.
UNNAMED = "upload.bin"
# What a grant's id is made of (secrets.token_urlsafe); anything else names no grant.
GRANT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_GRANT_ID_BYTES = 9
_SECRET_BYTES = 24

FIRMWARE = "firmware"
DIAGNOSTICS = "diagnostics"
LOG = "log"

Kind = Literal["download", "upload"]


class Refusal(Enum):
    """Why a grant does not open a URL, with the HTTP status that says it."""

    UNKNOWN = 404
    WRONG_SECRET = 403
    WRONG_KIND = 405
    EXPIRED = 410


@dataclass(frozen=True)
class Issued:
    grant: FileGrant
    secret: str


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise ValueError(f"a file name is {NAME_RULE}, not {name!r}")
    return name


def image_key(name: str) -> str:
    """Where a firmware image is kept."""
    return f"{FIRMWARE}/{check_name(name)}"


def image_file_id(name: str) -> str:
    """The record of an image: one per name, the latest published."""
    return f"{FIRMWARE}-{check_name(name)}"


class ImageMissing(ValueError):
    pass


async def held_image(stores: Stores, name: str) -> StoredFile:
    """The record of the image ``name``; ImageMissing where chargebus holds none."""
    stored = await stores.files.get(image_file_id(name))
    if stored is None:
        raise ImageMissing(f"chargebus holds no firmware image {name} "
                           "(chargebus files publish puts one there)")
    return stored


async def image_url(stores: Stores, settings: Settings, name: str, *, station_id: str,
                    issued_by: str, now: datetime) -> str:
    """A URL of its own for one station to download the image ``name``."""
    stored = await held_image(stores, name)
    issued = await issue(stores, kind="download", purpose=FIRMWARE, key=stored.key,
                         name=name, station_id=station_id, max_bytes=stored.size,
                         lifetime=timedelta(minutes=settings.files_download_minutes),
                         issued_by=issued_by, now=now)
    return http_url(settings, issued, name)


def upload_folder(station_id: str, grant_id: str) -> str:
    """Where a request's uploads are kept: a folder per station and grant."""
    return f"uploads/{station_id}/{grant_id}"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def refusal(grant: FileGrant | None, secret: str, kind: Kind, now: datetime
            ) -> Refusal | None:
    """None where ``secret`` opens ``grant`` for ``kind`` now."""
    if grant is None:
        return Refusal.UNKNOWN
    if not hmac.compare_digest(grant.secret_sha256, secret_hash(secret)):
        return Refusal.WRONG_SECRET
    if grant.kind != kind:
        return Refusal.WRONG_KIND
    if now >= grant.expires_at:
        return Refusal.EXPIRED
    return None


async def issue(stores: Stores, *, kind: Kind, purpose: str, lifetime: timedelta,
                max_bytes: int, issued_by: str, now: datetime, key: str | None = None,
                name: str | None = None, station_id: str | None = None,
                request_id: int | None = None) -> Issued:
    """A new grant, kept before its URL is handed out. An upload grant's files go to a
    folder of its own unless ``key`` names one (an operator publishing an image)."""
    grant_id = secrets.token_urlsafe(_GRANT_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    if key is None:
        if kind == "download":
            raise ValueError("a download grant names the file it opens")
        key = upload_folder(station_id or "-", grant_id)
    grant = FileGrant(grant_id=grant_id, secret_sha256=secret_hash(secret), kind=kind,
                      key=key, name=name, purpose=purpose, station_id=station_id,
                      request_id=request_id, max_bytes=max_bytes, issued_at=now,
                      expires_at=now + lifetime, issued_by=issued_by)
    await stores.file_grants.put(grant, grant_id)
    return Issued(grant, secret)


def http_url(settings: Settings, issued: Issued, name: str = "") -> str:
    """The grant's HTTP(S) URL; for a download, the file's name ends it."""
    return f"{settings.files_url}{URL_ROOT}/{issued.grant.grant_id}/{issued.secret}/{name}"


def ftp_url(settings: Settings, issued: Issued) -> str:
    host, port = settings.files_ftp_address
    return f"ftp://{issued.grant.grant_id}:{issued.secret}@{host}:{port}/"
