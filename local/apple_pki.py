"""An Apple-like public-key infrastructure for tests, demos and the APNs sandbox.

Real APNs certificates are issued by Apple's "Worldwide Developer Relations" CA to one app (the bundle ID is
the subject's UID) and carry Apple's extensions that say which APNs environment they serve:

- 1.2.840.113635.100.6.3.1  APNs development (sandbox)
- 1.2.840.113635.100.6.3.2  APNs production
- 1.2.840.113635.100.6.3.6  the topics the certificate may push to (bundle ID, VoIP, complication...)

"Apple Development IOS Push Services: <bundle>" certificates carry only the first; the older "Apple
Production IOS Push Services" only the second; today's "Apple Push Services" (universal) all three. This
module issues look-alikes from a throwaway CA of its own, so the certificate API can be exercised with every
kind of good and bad upload, and the APNs sandbox can require client certificates the way Apple does.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

APNS_DEVELOPMENT_OID = ObjectIdentifier("1.2.840.113635.100.6.3.1")
APNS_PRODUCTION_OID = ObjectIdentifier("1.2.840.113635.100.6.3.2")
APNS_TOPICS_OID = ObjectIdentifier("1.2.840.113635.100.6.3.6")

DEFAULT_TEAM_ID = "ABCDE12345"
_DER_NULL = b"\x05\x00"


class PushCertificateKind(StrEnum):
    DEVELOPMENT = "development"  # "Apple Development IOS Push Services": sandbox only
    PRODUCTION = "production"  # "Apple Production IOS Push Services": production only
    UNIVERSAL = "universal"  # "Apple Push Services": sandbox and production
    VOIP = "voip"  # "VoIP Services": PushKit only, sandbox and production
    NOT_APNS = "not-apns"  # a code-signing style certificate with no APNs extension


_COMMON_NAME_PREFIX = {
    PushCertificateKind.DEVELOPMENT: "Apple Development IOS Push Services",
    PushCertificateKind.PRODUCTION: "Apple Production IOS Push Services",
    PushCertificateKind.UNIVERSAL: "Apple Push Services",
    PushCertificateKind.VOIP: "VoIP Services",
    PushCertificateKind.NOT_APNS: "Apple Development",
}


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def _der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def _topics_extension_value(bundle_id: str, *, kind: PushCertificateKind, voip_topic: bool) -> bytes:
    """DER of Apple's topics list: each topic followed by the sequence of its kinds."""
    utf8 = 0x0C
    sequence = 0x30
    entries = [(f"{bundle_id}.voip", "voip")]
    if kind is not PushCertificateKind.VOIP:
        entries = [
            (bundle_id, "app"),
            *(entries if voip_topic else []),
            (f"{bundle_id}.complication", "complication"),
        ]
    content = b"".join(
        _der(utf8, topic.encode()) + _der(sequence, _der(utf8, kind.encode())) for topic, kind in entries
    )
    return _der(sequence, content)


@cache
def _shared_rsa_key(slot: int) -> rsa.RSAPrivateKey:
    # RSA generation costs ~50 ms; tests issue many certificates, most of which may share a key.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def new_rsa_key(*, shared_slot: int | None = 0) -> rsa.RSAPrivateKey:
    """An RSA-2048 key like the ones Keychain makes for a push certificate signing request."""
    if shared_slot is None:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _shared_rsa_key(shared_slot)


def new_p8_key(curve: ec.EllipticCurve | None = None) -> bytes:
    """A token-auth signing key as Apple hands it out: an unencrypted PKCS#8 PEM of a P-256 key."""
    key = ec.generate_private_key(curve or ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_der(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True)
class IssuedCertificate:
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    def p12(
        self,
        password: str | None,
        *,
        include_key: bool = True,
        name: bytes = b"push",
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
    ) -> bytes:
        """Export like Keychain Access does. ``key`` replaces the certificate's own key (a mismatch).

        cryptography refuses to link a certificate to a key that is not its own, so a mismatched export
        carries the key and the certificate as two unlinked bags: a .p12 holding a key and a certificate
        that do not belong together.
        """
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password.encode())
            if password
            else serialization.NoEncryption()
        )
        mismatched = key is not None and include_key and _public_der(key) != _public_der(self.private_key)
        return pkcs12.serialize_key_and_certificates(
            name=name,
            key=(key or self.private_key) if include_key else None,
            cert=None if mismatched else self.certificate,
            cas=[self.certificate] if mismatched else None,
            encryption_algorithm=encryption,
        )

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def private_key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


@dataclass
class ApplePki:
    """A certificate authority named like Apple's WWDR CA. Not Apple's: for tests and the local stack only."""

    ca_key: CertificateIssuerPrivateKeyTypes = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    ca_certificate: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        now = dt.datetime.now(dt.UTC)
        name = x509.Name(
            [
                x509.NameAttribute(
                    NameOID.COMMON_NAME, "Apple Worldwide Developer Relations Certification Authority"
                ),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "G4 (offline-push local stack)"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "offline-push test CA"),
                x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            ]
        )
        self.ca_certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()), critical=False
            )
            .sign(self.ca_key, hashes.SHA256())
        )

    def _authority_key_identifier(self) -> x509.AuthorityKeyIdentifier:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key())

    def ca_pem(self) -> bytes:
        return self.ca_certificate.public_bytes(serialization.Encoding.PEM)

    def issue_push_certificate(
        self,
        bundle_id: str,
        kind: PushCertificateKind = PushCertificateKind.DEVELOPMENT,
        *,
        team_id: str = DEFAULT_TEAM_ID,
        team_name: str = "Offline Push Demo Team",
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
        include_uid: bool = True,
        voip_topic: bool = True,
    ) -> IssuedCertificate:
        """A push certificate for ``bundle_id`` as the Apple developer portal would issue it.
        ``voip_topic=False``: a universal certificate whose topics leave out ``<bundle>.voip``."""
        now = dt.datetime.now(dt.UTC)
        private_key = key or new_rsa_key()
        attributes = []
        if include_uid:
            uid = f"{bundle_id}.voip" if kind is PushCertificateKind.VOIP else bundle_id
            attributes.append(x509.NameAttribute(NameOID.USER_ID, uid))
        attributes += [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{_COMMON_NAME_PREFIX[kind]}: {bundle_id}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, team_name),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        ]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(self.ca_certificate.subject)
            .public_key(private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(hours=1))
            .not_valid_after(not_after or now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(self._authority_key_identifier(), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False
            )
        )
        both = (PushCertificateKind.UNIVERSAL, PushCertificateKind.VOIP)
        if kind in (PushCertificateKind.DEVELOPMENT, *both):
            builder = builder.add_extension(
                x509.UnrecognizedExtension(APNS_DEVELOPMENT_OID, _DER_NULL), critical=False
            )
        if kind in (PushCertificateKind.PRODUCTION, *both):
            builder = builder.add_extension(
                x509.UnrecognizedExtension(APNS_PRODUCTION_OID, _DER_NULL), critical=False
            )
        if kind in both:
            topics = _topics_extension_value(bundle_id, kind=kind, voip_topic=voip_topic)
            builder = builder.add_extension(
                x509.UnrecognizedExtension(APNS_TOPICS_OID, topics),
                critical=False,
            )
        return IssuedCertificate(builder.sign(self.ca_key, hashes.SHA256()), private_key)

    def issue_server_certificate(
        self, hostnames: tuple[str, ...] = ("localhost", "api.push.apple.com", "api.sandbox.push.apple.com")
    ) -> IssuedCertificate:
        """A TLS server certificate for the APNs sandbox, valid for 127.0.0.1 and the given names."""
        now = dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.DNSName(host) for host in hostnames]
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
            .issuer_name(self.ca_certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            # Python 3.13's default context verifies strictly (VERIFY_X509_STRICT): leaves must name their CA.
            .add_extension(self._authority_key_identifier(), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )
        return IssuedCertificate(certificate, key)

    def write_ca(self, path: Path) -> Path:
        path.write_bytes(self.ca_pem())
        return path

    # Out-of-process use: the APNs sandbox runs as its own process (benchmarks, the local stack) and the
    # processes that issue certificates for it load the same CA from its state directory.
    CA_CERTIFICATE_FILE = "ca.pem"
    CA_KEY_FILE = "ca-key.pem"

    def save(self, directory: Path) -> Path:
        """Write the CA certificate and its key (a throwaway test CA: owner-only, unencrypted)."""
        directory.mkdir(parents=True, exist_ok=True)
        key_path = directory / self.CA_KEY_FILE
        key_path.touch(mode=0o600, exist_ok=True)
        key_path.write_bytes(
            self.ca_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return self.write_ca(directory / self.CA_CERTIFICATE_FILE)

    @classmethod
    def load(cls, directory: Path) -> ApplePki:
        """The CA :meth:`save` wrote to ``directory``."""
        key = serialization.load_pem_private_key((directory / cls.CA_KEY_FILE).read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError(f"{directory / cls.CA_KEY_FILE} is not an EC or RSA key")
        pki = cls(ca_key=key)
        pki.ca_certificate = x509.load_pem_x509_certificate(
            (directory / cls.CA_CERTIFICATE_FILE).read_bytes()
        )
        return pki

    @classmethod
    def load_or_create(cls, directory: Path) -> ApplePki:
        if (directory / cls.CA_KEY_FILE).is_file() and (directory / cls.CA_CERTIFICATE_FILE).is_file():
            return cls.load(directory)
        pki = cls()
        pki.save(directory)
        return pki
