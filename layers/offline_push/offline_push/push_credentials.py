"""Reading Apple push credentials: a .p12 (push certificate + its private key) and a .p8 (token signing key).

Pure functions, no I/O: the certificate rules (:mod:`offline_push.logic.certificates`) use them on uploads,
the credential loader (:mod:`offline_push.dal.credentials`) on stored files. Every failure is a distinct
product error whose message names the problem and never carries the password or any key material; the
underlying library exception is dropped (``from None``) because it adds nothing a caller can act on.

What Apple puts in a push certificate:

- subject ``UID``: the bundle ID (the APNs topic);
- subject ``CN``: ``Apple Development IOS Push Services: <bundle>`` (sandbox only),
  ``Apple Production IOS Push Services: <bundle>`` (production only) or ``Apple Push Services: <bundle>``
  (both, "universal");
- extensions ``1.2.840.113635.100.6.3.1`` (sandbox) and ``...6.3.2`` (production): the authoritative say on
  which APNs environments the certificate serves; the CN is only consulted when neither is present;
- extension ``...6.3.6`` (universal certificates): the topics the certificate may push to, ``<bundle>``,
  ``<bundle>.voip`` (PushKit), ``<bundle>.complication``.

A "VoIP Services" certificate is issued for PushKit alone: its UID is ``<bundle>.voip`` and its CN
``VoIP Services: <bundle>``. :func:`push_identity` turns all of this into the bundle ID and the push kinds
(alert, voip) the certificate can serve.
"""

from __future__ import annotations

import contextlib
import re
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID, ObjectIdentifier

from offline_push.errors import (
    InvalidP8Key,
    InvalidPassword,
    NotApnsCertificate,
    NotPkcs12,
    P8KeyNotP256,
    P12NotPasswordProtected,
    P12WithoutCertificate,
    P12WithoutPrivateKey,
    PrivateKeyMismatch,
    WrongPassword,
)
from offline_push.models.credential import VOIP_TOPIC_SUFFIX, ApnsEnvironment, PushKind
from offline_push.untrusted import contain_panics

APNS_DEVELOPMENT_OID = ObjectIdentifier("1.2.840.113635.100.6.3.1")
APNS_PRODUCTION_OID = ObjectIdentifier("1.2.840.113635.100.6.3.2")
APNS_TOPICS_OID = ObjectIdentifier("1.2.840.113635.100.6.3.6")

PushPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_COMMON_NAME = re.compile(
    r"^(?:Apple (?:(?P<stage>Development|Sandbox|Production) )?"
    r"(?:(?:iOS|Mac|OS X|watchOS|tvOS) )?Push Services|VoIP Services):",
    re.IGNORECASE,
)


class PushCertificateKind(StrEnum):
    """Which APNs environments a push certificate serves."""

    DEVELOPMENT = "development"  # sandbox only
    PRODUCTION = "production"  # production only
    UNIVERSAL = "universal"  # both

    def serves(self, environment: ApnsEnvironment) -> bool:
        if self is PushCertificateKind.UNIVERSAL:
            return True
        return self.value == environment.value


def _der_header(data: bytes, offset: int) -> tuple[int, int, int | None] | None:
    """(tag, content offset, content length) of the BER/DER element at ``offset``, or None if malformed.
    The length is None for BER's indefinite form, which some exporters use for the outer PFX."""
    if offset + 2 > len(data):
        return None
    tag, first = data[offset], data[offset + 1]
    offset += 2
    length: int | None
    if first < 0x80:
        length = first
    elif first == 0x80:
        length = None
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            return None
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    return tag, offset, length


def looks_like_pkcs12(data: bytes) -> bool:
    """Whether ``data`` is shaped like a PKCS#12 PFX: one complete DER SEQUENCE starting with version 3.

    A structural check, so that "not a .p12 at all" (a PEM, a .cer, a truncated download) is told apart from
    "a .p12 this password does not open" without depending on the wording of the library's error messages.
    """
    outer = _der_header(data, 0)
    if outer is None or outer[0] != 0x30:
        return False
    if outer[2] is not None and outer[1] + outer[2] != len(data):
        return False
    version = _der_header(data, outer[1])
    return (
        version is not None and version[0] == 0x02 and version[2] == 1 and data[version[1] :][:1] == b"\x03"
    )


def _public_key_der(key: PushPrivateKey | x509.Certificate) -> bytes:
    public = key.public_key()
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def open_p12(content: bytes, password: str) -> tuple[x509.Certificate, PushPrivateKey]:
    """The push certificate and its private key from a password-protected .p12.

    Raises, in this order: :class:`NotPkcs12`, :class:`P12NotPasswordProtected` (it opens without any
    password: the seed requires one), :class:`WrongPassword`, :class:`P12WithoutPrivateKey`,
    :class:`P12WithoutCertificate`, :class:`PrivateKeyMismatch`.
    """
    if not looks_like_pkcs12(content):
        raise NotPkcs12(
            "file is not a PKCS#12 (.p12) archive: export the push certificate from Keychain as .p12"
        )
    secret = p12_password_bytes(password)
    damaged = NotPkcs12("file is a damaged PKCS#12 (.p12) archive: export it again from Keychain")
    try:
        with contain_panics(lambda: damaged):
            key, certificate, others = pkcs12.load_key_and_certificates(content, secret)
    except ValueError as exc:
        if "deserialize" in str(exc):  # cryptography's wording for data that is not PKCS#12 after all
            raise NotPkcs12(
                "file is a damaged PKCS#12 (.p12) archive: export it again from Keychain"
            ) from None
        if _opens_without_password(content):
            raise P12NotPasswordProtected(
                "the .p12 has no password: export it again from Keychain with a password"
            ) from None
        raise WrongPassword("the password does not open this .p12 (or the file is damaged)") from None
    except UnsupportedAlgorithm:
        raise NotPkcs12("the .p12 uses an encryption algorithm that is not supported") from None
    if key is None:
        if certificate is None and not others:
            raise P12WithoutCertificate("the .p12 is empty: it holds neither a certificate nor a key")
        raise P12WithoutPrivateKey(
            "the .p12 holds the certificate but not its private key: export the certificate together with "
            "its key from Keychain"
        )
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise NotApnsCertificate(
            "the .p12's private key is neither RSA nor EC, so it is not an APNs certificate"
        )
    if certificate is None:
        if not others:
            raise P12WithoutCertificate("the .p12 holds a private key but no certificate")
        # No certificate is linked to the key (no shared localKeyId): the push certificate is the one whose
        # public key is the key's, if any.
        key_der = _public_key_der(key)
        matching = [other for other in others if _public_key_der(other) == key_der]
        if not matching:
            raise PrivateKeyMismatch("the private key in the .p12 does not belong to its certificate")
        certificate = matching[0]
    if _public_key_der(key) != _public_key_der(certificate):
        raise PrivateKeyMismatch("the private key in the .p12 does not belong to its certificate")
    return certificate, key


def p12_password_bytes(password: str) -> bytes:
    """The password as the bytes PKCS#12 takes; :class:`InvalidPassword` for one no .p12 can have. The
    message never repeats it (the library's own error for a NUL byte would)."""
    if "\x00" in password:
        raise InvalidPassword("the password contains a NUL character, which no .p12 password can contain")
    try:
        return password.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidPassword("the password is not Unicode text (it has a lone surrogate)") from None


def _opens_without_password(content: bytes) -> bool:
    try:
        with contain_panics(lambda: ValueError("unreadable")):
            pkcs12.load_key_and_certificates(content, None)
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


def bundle_id_of(certificate: x509.Certificate) -> str:
    """The bundle ID (APNs topic) Apple writes as the subject's UID."""
    values = certificate.subject.get_attributes_for_oid(NameOID.USER_ID)
    bundle_id = str(values[0].value).strip() if values else ""
    if not bundle_id:
        raise NotApnsCertificate(
            "the certificate has no bundle ID (subject UID): it is not an APNs certificate"
        )
    return bundle_id


def listed_topics(value: bytes) -> frozenset[str]:
    """The topics of Apple's topics extension (a SEQUENCE of UTF8String topic, SEQUENCE of its kinds);
    whatever cannot be read is left out (the value comes from an uploaded file)."""
    outer = _der_header(value, 0)
    if outer is None or outer[0] != 0x30 or outer[2] is None:
        return frozenset()
    index, end = outer[1], min(outer[1] + outer[2], len(value))
    topics: set[str] = set()
    while index < end:
        element = _der_header(value, index)
        if element is None:
            break
        tag, start, length = element
        if length is None or start + length > end:
            break
        if tag == 0x0C:
            with contextlib.suppress(UnicodeDecodeError):  # not a topic Apple would write
                topics.add(value[start : start + length].decode())
        index = start + length
    return frozenset(topics)


def certificate_topics(certificate: x509.Certificate) -> frozenset[str]:
    """The topics Apple's topics extension lists; empty for certificates without one."""
    for extension in certificate.extensions:
        if extension.oid == APNS_TOPICS_OID and isinstance(extension.value, x509.UnrecognizedExtension):
            return listed_topics(extension.value.value)
    return frozenset()


def push_identity(certificate: x509.Certificate) -> tuple[str, frozenset[PushKind]]:
    """The app's bundle ID and the push kinds the certificate serves: a VoIP Services certificate (UID
    ``<bundle>.voip``) only VoIP; a universal one alerts, and VoIP when it lists ``<bundle>.voip``; the
    older single-topic push certificates alerts only."""
    uid = bundle_id_of(certificate)
    if uid.endswith(VOIP_TOPIC_SUFFIX):
        bundle_id = uid.removesuffix(VOIP_TOPIC_SUFFIX)
        if not bundle_id:
            raise NotApnsCertificate("the certificate's bundle ID (subject UID) is only '.voip'")
        return bundle_id, frozenset({PushKind.VOIP})
    if uid + VOIP_TOPIC_SUFFIX in certificate_topics(certificate):
        return uid, frozenset({PushKind.ALERT, PushKind.VOIP})
    return uid, frozenset({PushKind.ALERT})


def push_certificate_kind(certificate: x509.Certificate) -> PushCertificateKind:
    """Development, production or universal, from Apple's extensions, else from the subject's CN."""
    oids = {extension.oid for extension in certificate.extensions}
    development = APNS_DEVELOPMENT_OID in oids
    production = APNS_PRODUCTION_OID in oids
    if development and production:
        return PushCertificateKind.UNIVERSAL
    if development:
        return PushCertificateKind.DEVELOPMENT
    if production:
        return PushCertificateKind.PRODUCTION
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    match = _COMMON_NAME.match(str(names[0].value)) if names else None
    if match is None:
        raise NotApnsCertificate(
            "the certificate is not an APNs push certificate (no Apple push extension, and its common "
            "name is not 'Apple ... Push Services: <bundle ID>')"
        )
    stage = (match.group("stage") or "").lower()
    if stage in ("development", "sandbox"):
        return PushCertificateKind.DEVELOPMENT
    if stage == "production":
        return PushCertificateKind.PRODUCTION
    return PushCertificateKind.UNIVERSAL


def load_p8_key(content: bytes) -> ec.EllipticCurvePrivateKey:
    """The ES256 signing key of a .p8: an unencrypted PKCS#8 P-256 private key, PEM (as Apple issues it) or
    DER."""
    try:
        with contain_panics(lambda: ValueError("unreadable")):
            if content.lstrip().startswith(b"-----BEGIN"):
                key = serialization.load_pem_private_key(content, password=None)
            else:
                key = serialization.load_der_private_key(content, password=None)
    except TypeError:
        raise InvalidP8Key(
            "the .p8 key is encrypted: upload the key file exactly as Apple issued it"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidP8Key("file is not a .p8 private key (PKCS#8 PEM as downloaded from Apple)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise P8KeyNotP256("the .p8 key is not an elliptic-curve key: APNs token keys are EC P-256 (ES256)")
    if not isinstance(key.curve, ec.SECP256R1):
        raise P8KeyNotP256(f"the .p8 key is on curve {key.curve.name}: APNs token keys are P-256 (ES256)")
    return key
