"""Who may connect, decided before the WebSocket upgrade.

The edge mirrors the admission bucket (chargebus.state.admission: nothing secret) and asks
the workers to check passwords (checking; the edge may not read the hashes), the
request read ahead of picows (handshake) so that the answer is still an HTTP status. A
password the workers found right is remembered by its SHA-256 with the generation of
the station's password, so that a reconnecting station costs no second check, until
the password changes. A check no worker answers is a 503, never an admission.

Guessing: where unknown stations are rejected, an unknown id is checked by the workers
against a decoy hash and answered as a wrong password is, in the same bytes and the
same time, so ids cannot be told apart. Failures are limited per id (delays, then a
lockout: 429 with Retry-After) and per source address (its attempts held before their
check), see attempts.

A station's record may name the lowest security profile it connects with: an edge
running a lower one refuses it (403), the whitepaper forbids going down. Under
profiles 1 and 2 only once its password is right, so that the answer tells nothing of
the id to who does not know the password.

Security profiles (OCPP security whitepaper / 2.0.1 part 2 A00):
    0  no authentication (development only)
    1  HTTP Basic over ws
    2  HTTP Basic over TLS
    3  TLS with a client certificate whose subject CN is the station id: the TLS
       handshake proves the certificate (of CHARGEBUS_EDGE_TLS_CLIENT_CA, or chargebus's
       own CA, chargebus.security.authority), the edge checks the CN once connected (picows
       offers no peer certificate before the upgrade) and closes with 1008 if it differs.
"""
import asyncio
import base64
import binascii
import hashlib
import logging
import math
import random
from dataclasses import dataclass
from http import HTTPStatus

from chargebus.ocpp import OcppVersion
from chargebus.security.password_check import Verdict
from chargebus.security.passwords import checked_in_profile
from chargebus.services.edge.attempts import FailedAttempts, address_key
from chargebus.services.edge.checking import ChecksBusy, PasswordChecks
from chargebus.services.edge.metrics import EdgeMetrics
from chargebus.state.admission import AdmissionDirectory
from chargebus.state.records import StationAdmission

log = logging.getLogger(__name__)

# Attempts held at once, at most: each holds a socket (and a file descriptor).
MAX_HELD = 4096
WRONG_PASSWORD = "wrong user name or password"
CHECKS_BUSY_RETRY_SECONDS = 5


@dataclass(frozen=True, slots=True)
class Refusal:
    status: HTTPStatus
    reason: str  # a metric label: a short fixed word
    message: str  # for the station's log
    retry_after: int | None = None  # seconds, for a Retry-After header
    headers: tuple[tuple[str, str], ...] = ()  # more that the status calls for


NO_CREDENTIALS = Refusal(HTTPStatus.UNAUTHORIZED, "no_credentials",
                         "HTTP Basic credentials are required")
ADDRESS_BUSY = Refusal(HTTPStatus.TOO_MANY_REQUESTS, "address_busy",
                       "too many failed attempts from this address; try again later",
                       CHECKS_BUSY_RETRY_SECONDS)
CHECKS_BUSY = Refusal(HTTPStatus.SERVICE_UNAVAILABLE, "checks_busy",
                      "too many stations are being checked; try again later",
                      CHECKS_BUSY_RETRY_SECONDS)
CHECKS_UNREACHABLE = Refusal(HTTPStatus.SERVICE_UNAVAILABLE, "checks_unreachable",
                             "credentials cannot be checked right now; try again later",
                             CHECKS_BUSY_RETRY_SECONDS)


class Gate:
    """The admission policy of one listener."""

    def __init__(self, directory: AdmissionDirectory, profile: int, unknown_stations: str,
                 attempts: FailedAttempts, checks: PasswordChecks, metrics: EdgeMetrics):
        self._directory = directory
        self._profile = profile
        self._unknown = unknown_stations
        self._attempts = attempts
        self._checks = checks
        self._metrics = metrics
        # station -> (its password generation, sha256 of the password found right)
        self._verified: dict[str, tuple[int, bytes]] = {}
        self._held = 0  # attempts held, of every address
        self._held_from: dict[str, int] = {}  # address key -> its attempts held for a check

    @property
    def profile(self) -> int:
        return self._profile

    @property
    def checks_passwords(self) -> bool:
        return checked_in_profile(self._profile)

    def admit(self, station_id: str) -> Refusal | None:
        """Profiles 0 and 3, where nothing is checked before the upgrade: None if the
        station may go on to it."""
        admission = self._directory.get(station_id)
        if admission is None and self._unknown == "reject":
            return Refusal(HTTPStatus.NOT_FOUND, "unknown_station",
                           f"{station_id} is not a station of this CSMS")
        # Admitted, unless its profile is higher; the registry answers an unknown one's
        # boot Pending if so told.
        return self._profile_refusal(station_id, admission)

    async def authenticate(self, station_id: str, authorization: str | None,
                           address: str) -> Refusal | None:
        """Profiles 1 and 2: None if the station may go on to the upgrade. ``address``
        is where it connects from."""
        admission = self._directory.get(station_id)
        if admission is None and self._unknown != "reject":
            return None  # admitted without a password, its boot answered as told
        credentials = _basic_credentials(authorization)
        if credentials is None:
            return NO_CREDENTIALS  # no guess made: the challenge, for unknown ids too
        user, password = credentials
        refusal = self._too_soon(station_id)
        if refusal is not None:
            return await self._answer_late(refusal, address)
        fingerprint = hashlib.sha256(password.encode()).digest()
        generation = admission.password_generation if admission is not None else -1
        if user == station_id and self._verified.get(station_id) == (generation, fingerprint):
            self._attempts.succeeded(station_id)
            return self._profile_refusal(station_id, admission)
        delay = self._attempts.address_delay(address)
        if delay > 0:
            if not await self._hold(address, delay):
                return await self._answer_late(ADDRESS_BUSY, address)
            refusal = self._too_soon(station_id)  # what came in meanwhile
            if refusal is not None:
                self._attempts.refused_from(address)
                return refusal
        # Every id is checked by the workers, known or not: an unknown one costs what a
        # wrong password costs.
        self._attempts.start_check(station_id)
        try:
            verdict = await self._checks.verify(station_id, user, password)
        except ChecksBusy:
            return CHECKS_BUSY
        finally:
            self._attempts.end_check(station_id)
        if verdict is Verdict.BUSY:
            return CHECKS_BUSY
        if verdict is Verdict.UNREACHABLE:
            return CHECKS_UNREACHABLE
        if verdict is Verdict.RIGHT and admission is not None:
            # The generation as read before the check: a promotion during it raises the
            # generation, and the next connection is checked again.
            self._verified[station_id] = (generation, fingerprint)
            self._attempts.succeeded(station_id)
            return self._profile_refusal(station_id, admission)
        self._failed(station_id, address, known=admission is not None)
        self._attempts.refused_from(address)
        # The same status and words for an unknown id: only the metric's reason differs.
        return Refusal(HTTPStatus.UNAUTHORIZED,
                       "bad_credentials" if admission is not None else "unknown_station",
                       WRONG_PASSWORD)

    def allowed_versions(self, station_id: str) -> list[OcppVersion] | None:
        admission = self._directory.get(station_id)
        return admission.versions if admission is not None else None

    def _profile_refusal(self, station_id: str,
                         admission: StationAdmission | None) -> Refusal | None:
        lowest = admission.security_profile if admission is not None else None
        if lowest is None or lowest <= self._profile:
            return None
        return Refusal(HTTPStatus.FORBIDDEN, "profile_too_low",
                       f"{station_id} connects with security profile {lowest} or higher; "
                       f"this endpoint runs profile {self._profile}")

    def certificate_matches(self, station_id: str, peer_certificate: dict | None) -> bool:
        """Profile 3: the verified client certificate names the station as subject CN."""
        if self._profile != 3:
            return True
        if not peer_certificate:
            return False
        names = [value for rdn in peer_certificate.get("subject", ())
                 for key, value in rdn if key == "commonName"]
        return names == [station_id]

    def _too_soon(self, station_id: str) -> Refusal | None:
        wait = self._attempts.wait(station_id)
        if wait <= 0:
            return None
        return Refusal(HTTPStatus.TOO_MANY_REQUESTS,
                       "locked_out" if self._attempts.locked_out(station_id) else "delayed",
                       f"too many failed passwords for {station_id}; try again later",
                       math.ceil(wait))

    def _failed(self, station_id: str, address: str, known: bool) -> None:
        locks_out = self._attempts.failed(station_id)
        log.warning("security: %s for station %s from %s (failure %d in a row)",
                    "wrong password" if known else "password of an unknown station",
                    station_id, address, self._attempts.failures(station_id))
        if locks_out:
            self._metrics.auth_lockouts.inc()
            log.warning("security: station %s locked out for %g s after %d failed passwords"
                        " (the last from %s)", station_id, self._attempts.limits.lockout_seconds,
                        self._attempts.failures(station_id), address)

    async def _hold(self, address: str, delay: float) -> bool:
        """Holds an attempt from an address that failed too often; False, at once,
        where enough of its attempts are held already."""
        key = address_key(address)
        held = self._held_from.get(key, 0)
        if held >= self._attempts.limits.address_checks:
            return False
        self._held_from[key] = held + 1
        try:
            await self._held_for(delay)
        finally:
            if self._held_from[key] == 1:
                del self._held_from[key]
            else:
                self._held_from[key] -= 1
        return True

    async def _answer_late(self, refusal: Refusal, address: str) -> Refusal:
        """A refusal made without a check, held as its address has earned."""
        delay = self._attempts.address_delay(address)
        self._attempts.refused_from(address)
        if delay > 0:
            await self._held_for(delay)
        return refusal

    async def _held_for(self, delay: float) -> None:
        if self._held >= MAX_HELD:
            return  # past what the edge holds, at once: file descriptors are bounded
        self._held += 1
        self._metrics.auth_held.inc()
        try:
            # Jittered: attempts held together would come back together, in waves.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        finally:
            self._held -= 1


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
