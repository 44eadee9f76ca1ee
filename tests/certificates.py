"""A small PKI for the TLS tests, made with `cryptography`: CAs, the edge's server
certificate for 127.0.0.1, station client certificates, and stations' keys and CSRs."""
import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass
class Issued:
    certificate: Path
    key: Path


class Authority:
    def __init__(self, folder: Path, name: str):
        self.folder = folder
        self.name = name
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self._certificate = (
            _builder(subject, subject, self._key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self._key, hashes.SHA256()))
        self.certificate = folder / f"{name}.pem"
        self.certificate.write_bytes(self._certificate.public_bytes(serialization.Encoding.PEM))
        self.key = folder / f"{name}.key"
        self.key.write_bytes(_key_pem(self._key))

    @property
    def x509(self) -> x509.Certificate:
        return self._certificate

    def issue(self, common_name: str, *, server: bool = False, days: float = 1) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        builder = _builder(subject, self._certificate.subject, key.public_key(), days)
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False).add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        else:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        certificate = builder.sign(self._key, hashes.SHA256())
        stem = self.folder / f"{self.name}-{common_name}"
        issued = Issued(stem.with_suffix(".crt"), stem.with_suffix(".key"))
        issued.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        issued.key.write_bytes(_key_pem(key))
        return issued

    def sign_csr(self, csr_pem: str) -> str:
        """What an external CA answers: the CSR's subject and key certified, then this CA."""
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        certificate = (_builder(csr.subject, self._certificate.subject, csr.public_key(), 30)
                       .sign(self._key, hashes.SHA256()))
        return "".join(item.public_bytes(serialization.Encoding.PEM).decode()
                       for item in (certificate, self._certificate))


@dataclass
class StationKey:
    key_pem: bytes
    csr_pem: str


def station_csr(common_name: str, organization: str | None, key=None) -> StationKey:
    """A station's new key (P-256 unless given) and its CSR naming it."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization is not None:
        names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
           .sign(key, hashes.SHA256()))
    return StationKey(_key_pem(key), csr.public_bytes(serialization.Encoding.PEM).decode())


def weak_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _builder(subject, issuer, public_key, days: float = 1) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days)))
