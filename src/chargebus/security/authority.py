"""Who signs station certificates: chargebus's own CA, or an external one over NATS.

Internal (CHARGEBUS_CA_MODE=internal, the default): the operator's CA certificate and
key (CHARGEBUS_CA_CERTIFICATE, CHARGEBUS_CA_KEY), or one chargebus makes on first start
in <data_dir>/ca (folder 0700, key 0600), by the supervisor or the workers, whichever
starts first; an edge under profile 3 reads its certificate but never makes one (it
would hold a key it has no use for). It is made in a folder of its own and renamed into
place, so processes that start together end with one CA. Workers on several hosts need
the operator's CA, one for all: each would make its own.

External (CHARGEBUS_CA_MODE=external): the workers send each CSR they accepted as a
request on subjects.certificate_signing() (cb.ca.sign), JSON
``{"stationId", "csr", "certificateType"}``; an integration with the operator's CA
answers ``{"certificateChain": "<PEM, leaf first>"}`` or ``{"error": "<why>"}``. The
chain's leaf must certify the CSR's key for the station, or it is not sent.
"""
import datetime
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from chargebus.bus import subjects
from chargebus.ocpp.clock import utc_now
from chargebus.runtime.config import Settings
from chargebus.state.records import CertificateFacts

CA_VALIDITY = datetime.timedelta(days=10 * 365)
# Issued certificates start a little before now: a station whose clock is behind would
# otherwise refuse one that is not valid yet.
BACKDATE = datetime.timedelta(minutes=5)


class SigningFailed(Exception):
    """No certificate came of an accepted CSR; the words go to the log and the record."""


class Authority(Protocol):
    async def sign(self, csr: x509.CertificateSigningRequest, station_id: str,
                   certificate_type: str) -> str:
        """The PEM chain for the CSR, leaf first; SigningFailed if none comes."""


CaKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class LocalAuthority:
    def __init__(self, certificate_pem: bytes, key: CaKey, validity_days: int,
                 clock: Callable[[], datetime.datetime] = utc_now):
        self._chain_tail = certificate_pem.decode().strip() + "\n"
        self._certificate = x509.load_pem_x509_certificate(certificate_pem)
        self._key = key
        self._validity = datetime.timedelta(days=validity_days)
        self._clock = clock

    @property
    def certificate(self) -> x509.Certificate:
        return self._certificate

    async def sign(self, csr: x509.CertificateSigningRequest, station_id: str,
                   certificate_type: str) -> str:
        """The CSR's key certified for client authentication under its CN and O (the
        checks made them the station's), then this CA's certificate file."""
        now = self._clock()
        not_after = min(now + self._validity, self._certificate.not_valid_after_utc)
        key = csr.public_key()
        subject = x509.Name([attribute for attribute in csr.subject
                             if attribute.oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME)])
        certificate = (
            x509.CertificateBuilder().subject_name(subject)
            .issuer_name(self._certificate.subject).public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_encipherment=isinstance(key, rsa.RSAPublicKey),
                content_commitment=False, data_encipherment=False, key_agreement=False,
                key_cert_sign=False, crl_sign=False, encipher_only=False,
                decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256()))
        return certificate.public_bytes(serialization.Encoding.PEM).decode() + self._chain_tail


class ExternalAuthority:
    def __init__(self, nc: Client, timeout: float):
        self._nc = nc
        self._timeout = timeout

    async def sign(self, csr: x509.CertificateSigningRequest, station_id: str,
                   certificate_type: str) -> str:
        request = {"stationId": station_id, "certificateType": certificate_type,
                   "csr": csr.public_bytes(serialization.Encoding.PEM).decode()}
        try:
            reply = await self._nc.request(subjects.certificate_signing(),
                                           orjson.dumps(request), timeout=self._timeout)
        except NoRespondersError:
            raise SigningFailed("no external CA integration answers on "
                                f"{subjects.certificate_signing()}") from None
        except NatsTimeoutError:
            raise SigningFailed(f"the external CA did not answer in {self._timeout:g} s") from None
        try:
            answer = orjson.loads(reply.data)
            chain = answer.get("certificateChain")
        except (orjson.JSONDecodeError, AttributeError):
            raise SigningFailed("the external CA's answer is not a JSON object") from None
        if not isinstance(chain, str):
            raise SigningFailed(f"the external CA refused: {answer.get('error', 'no chain')}")
        _check_leaf(chain, csr, station_id)
        return chain


def _check_leaf(chain: str, csr: x509.CertificateSigningRequest, station_id: str) -> None:
    try:
        leaf = chain_leaf(chain)
    except ValueError:
        raise SigningFailed("the external CA's chain is not PEM certificates") from None
    if leaf.public_key() != csr.public_key():
        raise SigningFailed("the external CA's certificate is for another key")
    names = [name.value for name in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [station_id]:
        raise SigningFailed(f"the external CA's certificate names {names}, not {station_id!r}")


def chain_leaf(chain: str) -> x509.Certificate:
    """The first certificate of a PEM chain; ValueError where there is none."""
    certificates = x509.load_pem_x509_certificates(chain.encode())
    return certificates[0]


def facts_of(certificate: x509.Certificate) -> CertificateFacts:
    return CertificateFacts(
        serial=f"{certificate.serial_number:x}",
        fingerprint=hashlib.sha256(
            certificate.public_bytes(serialization.Encoding.DER)).hexdigest(),
        not_after=certificate.not_valid_after_utc)


class CaUnusable(Exception):
    """chargebus's CA cannot sign: files missing or unreadable, a key of another kind or
    not the certificate's."""


def authority_of(settings: Settings, nc: Client) -> Authority:
    """The workers' signer; SystemExit with the reason where the CA cannot be used."""
    if settings.ca_mode == "external":
        return ExternalAuthority(nc, settings.ca_sign_timeout_seconds)
    try:
        ensure_own_ca(settings)
        return own_authority(settings)
    except (OSError, CaUnusable) as error:
        raise SystemExit(f"chargebus's CA: {error}") from None


def own_authority(settings: Settings) -> LocalAuthority:
    """chargebus's CA, the operator's or the one it made; CaUnusable if it cannot sign."""
    certificate_path, key_path = settings.ca_certificate_path, settings.ca_key_path
    try:
        certificate_pem = certificate_path.read_bytes()
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        # Any key: the check below refuses one of another kind, once the certificate is read.
        authority = LocalAuthority(certificate_pem, key,  # type: ignore[arg-type]
                                   settings.certificate_validity_days)
    except (OSError, ValueError, TypeError) as error:
        raise CaUnusable(f"{certificate_path} and {key_path} cannot be used: {error}") from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise CaUnusable(f"{key_path}: the CA key must be RSA or elliptic curve")
    if authority.certificate.public_key() != key.public_key():
        raise CaUnusable(f"{key_path} is not the key of {certificate_path}")
    return authority


def ensure_own_ca(settings: Settings) -> None:
    """Make chargebus's CA in <data_dir>/ca unless the operator gives one, or an
    external CA signs, or it is there."""
    if settings.ca_mode == "external" or settings.ca_certificate is not None:
        return
    folder = settings.ca_folder
    if folder.exists():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    making = Path(tempfile.mkdtemp(prefix=".ca-", dir=folder.parent))  # mode 0700
    try:
        key = ec.generate_private_key(ec.SECP384R1())
        _write(making / settings.ca_key_path.name, key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()), 0o600)
        _write(making / settings.ca_certificate_path.name,
               _ca_certificate(key, settings.certificate_organization)
               .public_bytes(serialization.Encoding.PEM), 0o644)
        try:
            os.rename(making, folder)
        except OSError:  # another process made it first: theirs counts
            if not folder.exists():
                raise
    finally:
        shutil.rmtree(making, ignore_errors=True)


def _ca_certificate(key: CaKey, organization: str) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"{organization} station CA")])
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE).not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, key_encipherment=False, content_commitment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA384()))


def _write(path: Path, data: bytes, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
