"""A station's certificate signing request, checked before anything signs it.

OCPP 2.0.1 A02/A03 and the 1.6 security whitepaper (same use cases): the station makes
a key pair and sends its public key as a PEM CSR (RFC 2986) whose subject names it (CN:
its identity) and its operator (O: OrganizationName, 1.6 CpoName); the CSMS answers
Rejected where it will not have it signed. Beyond the subject, chargebus holds the key
to the whitepaper's sizes (RSA of 2048 bits or more; elliptic curves P-256 and P-384,
which TLS 1.2 stations and the edge both offer) and the CSR's own signature to a SHA-2
hash: a CSR signed with SHA-1 or MD5 proves too little about who holds the key.
"""
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID

MIN_RSA_BITS = 2048
CURVES = (ec.SECP256R1, ec.SECP384R1)
SIGNATURE_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)


class CsrRefused(Exception):
    """Why a CSR is answered Rejected; words for the security log and the record."""


def checked_csr(pem: str, station_id: str, organization: str) -> x509.CertificateSigningRequest:
    """The CSR, if chargebus may have it signed for ``station_id``; CsrRefused if not."""
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError:
        raise CsrRefused("not a PEM certificate signing request") from None
    try:
        signed = csr.is_signature_valid
        hashed = csr.signature_hash_algorithm
    except UnsupportedAlgorithm:
        raise CsrRefused("its signature uses an algorithm chargebus does not take") from None
    if not signed:
        raise CsrRefused("its signature does not verify with its own key")
    if not isinstance(hashed, SIGNATURE_HASHES):
        raise CsrRefused(f"signed with {hashed.name if hashed else 'no hash'}, not SHA-2")
    _check_key(csr.public_key())
    _check_subject(csr.subject, station_id, organization)
    return csr


def _check_key(key: CertificatePublicKeyTypes) -> None:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise CsrRefused(f"an RSA key of {key.key_size} bits (at least {MIN_RSA_BITS})")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, CURVES):
            raise CsrRefused(f"an elliptic curve key on {key.curve.name} "
                             "(secp256r1 or secp384r1)")
    else:
        raise CsrRefused(f"a {type(key).__name__} (RSA or elliptic curve keys only)")


def _check_subject(subject: x509.Name, station_id: str, organization: str) -> None:
    names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if [name.value for name in names] != [station_id]:
        shown = ", ".join(repr(name.value) for name in names) or "none"
        raise CsrRefused(f"its subject CN is {shown}, not the station's id {station_id!r}")
    organizations = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if [name.value for name in organizations] != [organization]:
        shown = ", ".join(repr(name.value) for name in organizations) or "none"
        raise CsrRefused(f"its subject O is {shown}, not {organization!r}")
