"""VoIP (PushKit) certificates: which push kinds a credential serves, and what a rotation must keep."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from local.apple_pki import PushCertificateKind
from offline_push.errors import NotApnsCertificate, PushKindsNarrowed
from offline_push.logic.certificates import CertificateUpload, check_rotation, verify_upload
from offline_push.models.credential import PushKind, topic_for
from offline_push.push_credentials import PushCertificateKind as Kind
from offline_push.push_credentials import listed_topics, push_certificate_kind, push_identity
from tests.support.certificate_records import certificate_record, replacement_credential
from tests.support.certificates import BUNDLE_ID, KEY_ID, PASSWORD, TEAM_ID, p8_key, pki, push_certificate

NOW = dt.datetime.now(dt.UTC)
ALERT = (PushKind.ALERT,)
VOIP = (PushKind.VOIP,)
BOTH = (PushKind.ALERT, PushKind.VOIP)


def _p12(content: bytes, environment: str = "production") -> CertificateUpload:
    return CertificateUpload(
        type="p12", name="Calls", environment=environment, password=PASSWORD, content=content
    )


def _p8(bundle_id: str) -> CertificateUpload:
    return CertificateUpload(
        type="p8",
        name="Token",
        environment="production",
        content=p8_key(),
        key_id=KEY_ID,
        team_id=TEAM_ID,
        bundle_id=bundle_id,
    )


def test_a_voip_services_certificate_serves_voip_only_for_its_bundle() -> None:
    # Given Apple's "VoIP Services" certificate (UID <bundle>.voip); When it is uploaded for production
    credential = verify_upload(_p12(push_certificate(PushCertificateKind.VOIP).p12(PASSWORD)), now=NOW)

    # Then the bundle ID is the app's, and it serves VoIP pushes only
    assert (credential.bundle_id, credential.push_kinds) == (BUNDLE_ID, VOIP)


def test_a_universal_certificate_listing_the_voip_topic_serves_both() -> None:
    # Given an "Apple Push Services" certificate whose topics include <bundle>.voip
    credential = verify_upload(_p12(push_certificate(PushCertificateKind.UNIVERSAL).p12(PASSWORD)), now=NOW)

    # Then it serves alerts and VoIP pushes
    assert (credential.bundle_id, credential.push_kinds) == (BUNDLE_ID, BOTH)


def test_a_universal_certificate_without_the_voip_topic_serves_alerts_only() -> None:
    # Given a universal certificate whose topics leave out <bundle>.voip
    issued = pki().issue_push_certificate(BUNDLE_ID, PushCertificateKind.UNIVERSAL, voip_topic=False)

    # When it is uploaded
    credential = verify_upload(_p12(issued.p12(PASSWORD)), now=NOW)

    # Then it serves alerts only
    assert credential.push_kinds == ALERT


@pytest.mark.parametrize("kind", [PushCertificateKind.DEVELOPMENT, PushCertificateKind.PRODUCTION])
def test_a_single_topic_push_certificate_serves_alerts_only(kind: PushCertificateKind) -> None:
    credential = verify_upload(_p12(push_certificate(kind).p12(PASSWORD), kind.value), now=NOW)

    assert credential.push_kinds == ALERT


@pytest.mark.parametrize(
    ("bundle_id", "stored", "kinds"),
    [(BUNDLE_ID, BUNDLE_ID, BOTH), (f"{BUNDLE_ID}.voip", BUNDLE_ID, VOIP)],
    ids=["app bundle", "voip topic"],
)
def test_a_p8_key_serves_both_kinds_unless_given_the_voip_topic(
    bundle_id: str, stored: str, kinds: tuple[PushKind, ...]
) -> None:
    # Given a token key uploaded with a bundle ID; When it is verified
    credential = verify_upload(_p8(bundle_id), now=NOW)

    # Then the app's bundle ID is stored, with the kinds the key serves
    assert (credential.bundle_id, credential.push_kinds) == (stored, kinds)


def test_a_voip_only_certificate_whose_uid_is_only_the_suffix_is_not_an_apns_certificate() -> None:
    issued = pki().issue_push_certificate(".voip", PushCertificateKind.DEVELOPMENT)

    with pytest.raises(NotApnsCertificate):
        push_identity(issued.certificate)


@pytest.mark.parametrize(
    ("current", "replacement", "allowed"),
    [
        (ALERT, ALERT, True),
        (ALERT, BOTH, True),
        (VOIP, BOTH, True),
        (BOTH, BOTH, True),
        (BOTH, ALERT, False),
        (BOTH, VOIP, False),
        (ALERT, VOIP, False),
        (VOIP, ALERT, False),
    ],
)
def test_a_rotation_keeps_every_push_kind_the_certificate_served(
    current: tuple[PushKind, ...], replacement: tuple[PushKind, ...], allowed: bool
) -> None:
    if allowed:
        check_rotation(certificate_record(current), replacement_credential(replacement))
        return
    with pytest.raises(PushKindsNarrowed) as refused:
        check_rotation(certificate_record(current), replacement_credential(replacement))
    assert (refused.value.status, refused.value.code) == (409, "PushKindsNarrowed")


def test_the_topics_extension_is_read_leniently() -> None:
    # Given Apple's topics list: SEQUENCE { UTF8String topic, SEQUENCE { UTF8String kind } ... }
    value = bytes.fromhex("300f") + b"\x0c\x05a.b.c" + b"\x30\x06\x0c\x04voip"

    # Then the topics are read; truncated or malformed values give what could be read, never an error
    assert listed_topics(value) == frozenset({"a.b.c"})
    assert listed_topics(value[:5]) == frozenset()
    assert listed_topics(b"\x04\x00") == frozenset()
    assert listed_topics(b"") == frozenset()
    assert listed_topics(b"\x30\x04\x0c\x02\xff\xfe") == frozenset()


@pytest.mark.parametrize(
    ("kind", "topic"), [(PushKind.ALERT, BUNDLE_ID), (PushKind.VOIP, f"{BUNDLE_ID}.voip")]
)
def test_a_push_kind_has_its_topic(kind: PushKind, topic: str) -> None:
    assert topic_for(BUNDLE_ID, kind) == topic


def test_an_element_of_indefinite_length_ends_the_topics_read() -> None:
    value = bytes.fromhex("300b") + b"\x0c\x03a.b" + b"\x0c\x80" + b"\x0c\x02cd"

    assert listed_topics(value) == frozenset({"a.b"})


def test_a_voip_services_certificate_without_environment_markers_is_read_by_its_name() -> None:
    # Given a "VoIP Services" certificate carrying neither of Apple's environment extensions
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, f"{BUNDLE_ID}.voip"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"VoIP Services: {BUNDLE_ID}"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )

    # Then its name makes it a certificate for both environments, for VoIP only
    assert (push_certificate_kind(certificate), push_identity(certificate)) == (
        Kind.UNIVERSAL,
        (BUNDLE_ID, frozenset({PushKind.VOIP})),
    )
