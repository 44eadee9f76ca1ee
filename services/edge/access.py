"""Who may connect, decided before the WebSocket upgrade.

picows asks for the upgrade answer synchronously, so the edge checks passwords against
a mirror of the access bucket (chargebus.access), without a round trip. A password that verified once for a stored hash is remembered by its
SHA-256, so that a reconnecting station costs no second scrypt.

Security profiles (OCPP security whitepaper / 2.0.1 part 2 A00):
    0  no authentication (development only)
    1  HTTP Basic over ws
    2  HTTP Basic over TLS
    3  TLS with a client certificate whose subject CN is the station id: the TLS
       handshake proves the certificate, the edge checks the CN once connected (picows
       offers no peer certificate before the upgrade) and closes with 1008 if it differs.
"""
import base64
import binascii
import hashlib
import logging
from dataclasses import dataclass
from http import HTTPStatus

from chargebus.access import AccessDirectory
from chargebus.passwords import verify_password
from chargebus.protocol import OcppVersion
from chargebus.records import StationAccess

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Refusal:
    status: HTTPStatus
    reason: str  # a metric label: a short fixed word
    message: str  # for the station's log


class Gate:
    """The admission policy of one listener."""

    def __init__(self, directory: AccessDirectory, profile: int, unknown_stations: str):
        self._directory = directory
        self._profile = profile
        self._unknown = unknown_stations
        self._verified: dict[str, tuple[str, bytes]] = {}  # station -> (hash, sha256(pw))

    @property
    def profile(self) -> int:
        return self._profile

    def admit(self, station_id: str, authorization: str | None) -> Refusal | None:
        """None if the station may go on to the upgrade."""
        access = self._directory.get(station_id)
        if access is None:
            if self._unknown == "reject":
                return Refusal(HTTPStatus.NOT_FOUND, "unknown_station",
                               f"{station_id} is not a station of this CSMS")
            return None  # admitted; the registry answers its boot with Pending if so told
        if self._profile in (1, 2):
            return self._check_password(station_id, access, authorization)
        return None

    def allowed_versions(self, station_id: str) -> list[OcppVersion] | None:
        access = self._directory.get(station_id)
        return access.versions if access is not None else None

    def certificate_matches(self, station_id: str, peer_certificate: dict | None) -> bool:
        """Profile 3: the verified client certificate names the station as subject CN."""
        if self._profile != 3:
            return True
        if not peer_certificate:
            return False
        names = [value for rdn in peer_certificate.get("subject", ())
                 for key, value in rdn if key == "commonName"]
        return names == [station_id]

    def _check_password(self, station_id: str, access: StationAccess,
                        authorization: str | None) -> Refusal | None:
        credentials = _basic_credentials(authorization)
        if credentials is None:
            return Refusal(HTTPStatus.UNAUTHORIZED, "no_credentials",
                           "HTTP Basic credentials are required")
        user, password = credentials
        if user != station_id or access.password_hash is None:
            return Refusal(HTTPStatus.UNAUTHORIZED, "bad_credentials",
                           "wrong user name or password")
        fingerprint = hashlib.sha256(password.encode()).digest()
        if self._verified.get(station_id) == (access.password_hash, fingerprint):
            return None
        if not verify_password(password, access.password_hash):
            return Refusal(HTTPStatus.UNAUTHORIZED, "bad_credentials",
                           "wrong user name or password")
        self._verified[station_id] = (access.password_hash, fingerprint)
        return None


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None
