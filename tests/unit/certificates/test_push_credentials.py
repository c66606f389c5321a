"""Reading .p12 and .p8 files: Apple's markers, and a distinct error for every way a file can be wrong."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from local.apple_pki import PushCertificateKind as IssuedKind
from local.apple_pki import new_rsa_key
from offline_push.errors import (
    InvalidP8Key,
    NotApnsCertificate,
    NotPkcs12,
    OfflinePushError,
    P8KeyNotP256,
    P12NotPasswordProtected,
    P12WithoutCertificate,
    P12WithoutPrivateKey,
    PrivateKeyMismatch,
    WrongPassword,
)
from offline_push.models.credential import ApnsEnvironment
from offline_push.push_credentials import (
    PushCertificateKind,
    bundle_id_of,
    load_p8_key,
    looks_like_pkcs12,
    open_p12,
    push_certificate_kind,
)
from tests.support.certificates import BUNDLE_ID, PASSWORD, p8_key, pki, push_certificate


def _certificate_with_common_name(common_name: str, *, uid: str | None = BUNDLE_ID) -> x509.Certificate:
    """A certificate with no Apple extension: only its subject says what it is (older certificates)."""
    key = new_rsa_key()
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if uid:
        attributes.insert(0, x509.NameAttribute(NameOID.USER_ID, uid))
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(pki().ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(pki().ca_key, hashes.SHA256())
    )


# --- open_p12 -----------------------------------------------------------------------------------------------


def test_open_p12_returns_the_certificate_and_its_key() -> None:
    issued = push_certificate(IssuedKind.DEVELOPMENT)

    certificate, key = open_p12(issued.p12(PASSWORD), PASSWORD)

    assert certificate == issued.certificate
    assert key.private_numbers() == issued.private_key.private_numbers()


def test_open_p12_accepts_an_ec_push_key() -> None:
    issued = pki().issue_push_certificate(BUNDLE_ID, key=ec.generate_private_key(ec.SECP256R1()))

    certificate, _ = open_p12(issued.p12(PASSWORD), PASSWORD)

    assert certificate == issued.certificate


def test_open_p12_accepts_a_non_ascii_password() -> None:
    issued = push_certificate(IssuedKind.DEVELOPMENT)

    certificate, _ = open_p12(issued.p12("密码-пароль"), "密码-пароль")

    assert certificate == issued.certificate


@pytest.mark.parametrize(
    ("description", "content", "password", "error"),
    [
        ("empty file", lambda: b"", PASSWORD, NotPkcs12),
        ("text", lambda: b"hello, world", PASSWORD, NotPkcs12),
        ("PEM certificate", lambda: push_certificate().certificate_pem(), PASSWORD, NotPkcs12),
        (
            "DER certificate",
            lambda: push_certificate().certificate.public_bytes(serialization.Encoding.DER),
            PASSWORD,
            NotPkcs12,
        ),
        ("truncated", lambda: push_certificate().p12(PASSWORD)[:100], PASSWORD, NotPkcs12),
        ("wrong password", lambda: push_certificate().p12(PASSWORD), "guess", WrongPassword),
        ("no password on the file", lambda: push_certificate().p12(None), "guess", P12NotPasswordProtected),
        (
            "no private key",
            lambda: push_certificate().p12(PASSWORD, include_key=False),
            PASSWORD,
            P12WithoutPrivateKey,
        ),
        (
            "key of another certificate",
            lambda: push_certificate().p12(PASSWORD, key=new_rsa_key(shared_slot=4)),
            PASSWORD,
            PrivateKeyMismatch,
        ),
        (
            "key only",
            lambda: pkcs12.serialize_key_and_certificates(
                b"k", new_rsa_key(), None, None, serialization.BestAvailableEncryption(PASSWORD.encode())
            ),
            PASSWORD,
            P12WithoutCertificate,
        ),
    ],
)
def test_open_p12_tells_each_problem_apart(
    description: str, content: object, password: str, error: type[OfflinePushError]
) -> None:
    with pytest.raises(error) as refused:
        open_p12(content(), password)  # type: ignore[operator]

    assert refused.value.code == error.code
    assert password not in refused.value.message


def test_a_p12_with_its_certificate_among_unlinked_ones_is_matched_by_key() -> None:
    # Given a .p12 whose certificate is not linked to the key (other tools than Keychain do this)
    issued = push_certificate(IssuedKind.DEVELOPMENT)
    other = pki().issue_push_certificate("com.example.other", key=new_rsa_key(shared_slot=6))
    content = pkcs12.serialize_key_and_certificates(
        b"push",
        issued.private_key,
        None,
        [other.certificate, issued.certificate],
        serialization.BestAvailableEncryption(PASSWORD.encode()),
    )

    certificate, _ = open_p12(content, PASSWORD)

    assert certificate == issued.certificate


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_either_open_or_raise_a_product_error(content: bytes) -> None:
    with contextlib.suppress(OfflinePushError):
        open_p12(content, PASSWORD)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=2000))
def test_every_truncation_of_a_p12_is_not_pkcs12(cut: int) -> None:
    content = push_certificate().p12(PASSWORD)

    assert looks_like_pkcs12(content)
    assert not looks_like_pkcs12(content[: len(content) - cut])


# --- what the certificate says ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("issued_kind", "kind"),
    [
        (IssuedKind.DEVELOPMENT, PushCertificateKind.DEVELOPMENT),
        (IssuedKind.PRODUCTION, PushCertificateKind.PRODUCTION),
        (IssuedKind.UNIVERSAL, PushCertificateKind.UNIVERSAL),
    ],
)
def test_kind_comes_from_apples_extensions(issued_kind: IssuedKind, kind: PushCertificateKind) -> None:
    assert push_certificate_kind(push_certificate(issued_kind).certificate) is kind


@pytest.mark.parametrize(
    ("common_name", "kind"),
    [
        ("Apple Development IOS Push Services: com.example.chat", PushCertificateKind.DEVELOPMENT),
        ("Apple Production IOS Push Services: com.example.chat", PushCertificateKind.PRODUCTION),
        ("Apple Push Services: com.example.chat", PushCertificateKind.UNIVERSAL),
        ("Apple Sandbox Push Services: com.example.chat", PushCertificateKind.DEVELOPMENT),
        ("Apple Development Mac Push Services: com.example.chat", PushCertificateKind.DEVELOPMENT),
    ],
)
def test_without_extensions_the_kind_comes_from_the_common_name(
    common_name: str, kind: PushCertificateKind
) -> None:
    assert push_certificate_kind(_certificate_with_common_name(common_name)) is kind


@pytest.mark.parametrize(
    "common_name", ["Apple Development: John Appleseed", "www.example.com", "Push Services"]
)
def test_a_certificate_without_apns_markers_is_not_an_apns_certificate(common_name: str) -> None:
    with pytest.raises(NotApnsCertificate):
        push_certificate_kind(_certificate_with_common_name(common_name))


def test_apples_code_signing_look_alike_is_not_an_apns_certificate() -> None:
    with pytest.raises(NotApnsCertificate):
        push_certificate_kind(pki().issue_push_certificate(BUNDLE_ID, IssuedKind.NOT_APNS).certificate)


def test_bundle_id_is_the_subject_uid() -> None:
    issued = pki().issue_push_certificate("com.example.Chat-App", IssuedKind.UNIVERSAL)

    assert bundle_id_of(issued.certificate) == "com.example.Chat-App"


def test_a_certificate_without_uid_has_no_bundle_id() -> None:
    issued = pki().issue_push_certificate(BUNDLE_ID, IssuedKind.UNIVERSAL, include_uid=False)

    with pytest.raises(NotApnsCertificate, match="no bundle ID"):
        bundle_id_of(issued.certificate)


@pytest.mark.parametrize(
    ("kind", "serves"),
    [
        (PushCertificateKind.DEVELOPMENT, {ApnsEnvironment.DEVELOPMENT}),
        (PushCertificateKind.PRODUCTION, {ApnsEnvironment.PRODUCTION}),
        (PushCertificateKind.UNIVERSAL, {ApnsEnvironment.DEVELOPMENT, ApnsEnvironment.PRODUCTION}),
    ],
)
def test_which_environments_each_kind_serves(kind: PushCertificateKind, serves: set[ApnsEnvironment]) -> None:
    assert {environment for environment in ApnsEnvironment if kind.serves(environment)} == serves


# --- load_p8_key --------------------------------------------------------------------------------------------


def _pkcs8(key: object, encoding: serialization.Encoding = serialization.Encoding.PEM) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined, no-any-return]
        encoding, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_p8_pem_as_apple_issues_it_loads() -> None:
    key = load_p8_key(p8_key())

    assert isinstance(key.curve, ec.SECP256R1)


def test_p8_in_der_loads() -> None:
    key = ec.generate_private_key(ec.SECP256R1())

    assert load_p8_key(_pkcs8(key, serialization.Encoding.DER)).private_numbers() == key.private_numbers()


@pytest.mark.parametrize(
    ("description", "content", "error", "message"),
    [
        (
            "RSA key",
            lambda: _pkcs8(new_rsa_key()),
            P8KeyNotP256,
            "the .p8 key is not an elliptic-curve key: APNs token keys are EC P-256 (ES256)",
        ),
        (
            "P-384 key",
            lambda: _pkcs8(ec.generate_private_key(ec.SECP384R1())),
            P8KeyNotP256,
            "the .p8 key is on curve secp384r1: APNs token keys are P-256 (ES256)",
        ),
        (
            "a certificate",
            lambda: push_certificate().certificate_pem(),
            InvalidP8Key,
            "file is not a .p8 private key (PKCS#8 PEM as downloaded from Apple)",
        ),
        (
            "random bytes",
            lambda: bytes(range(200)),
            InvalidP8Key,
            "file is not a .p8 private key (PKCS#8 PEM as downloaded from Apple)",
        ),
        (
            "encrypted key",
            lambda: ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"passphrase"),
            ),
            InvalidP8Key,
            "the .p8 key is encrypted: upload the key file exactly as Apple issued it",
        ),
    ],
)
def test_p8_that_is_not_a_p256_key_is_refused(
    description: str, content: object, error: type[OfflinePushError], message: str
) -> None:
    with pytest.raises(error) as refused:
        load_p8_key(content())  # type: ignore[operator]

    assert refused.value.message == message


def test_a_ber_indefinite_length_pfx_is_shaped_like_pkcs12() -> None:
    # Some exporters write the outer PFX with BER's indefinite length: it must reach the password check
    assert looks_like_pkcs12(b"\x30\x80\x02\x01\x03\x30\x00\x00\x00")
    assert not looks_like_pkcs12(b"\x30\x80\x02\x01\x02\x30\x00\x00\x00")  # version 2: not a PFX


def test_a_pfx_shell_with_nothing_inside_is_a_damaged_p12_not_a_wrong_password() -> None:
    with pytest.raises(NotPkcs12) as refused:
        open_p12(b"\x30\x03\x02\x01\x03", PASSWORD)

    assert refused.value.message == "file is a damaged PKCS#12 (.p12) archive: export it again from Keychain"
