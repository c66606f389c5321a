"""The certificate rules' limits, pinned at their boundaries, with the exact error each answers."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest

from local.apple_pki import PushCertificateKind
from offline_push.errors import OfflinePushError
from offline_push.logic.certificates import (
    CertificateUpload,
    check_bundle_id,
    check_content,
    check_rotation,
    verify_upload,
)
from offline_push.models.certificate import CertificateRecord, CredentialType, NewCredential
from offline_push.models.credential import ApnsEnvironment
from tests.support.certificates import BUNDLE_ID, KEY_ID, PASSWORD, TEAM_ID, p8_key, push_certificate

NOW = dt.datetime.now(dt.UTC)


def refusal(error: pytest.ExceptionInfo[OfflinePushError]) -> tuple[int, str, str]:
    return error.value.status, error.value.code, str(error.value)


def p12(password: str, kind: PushCertificateKind = PushCertificateKind.DEVELOPMENT) -> CertificateUpload:
    return CertificateUpload(
        name="Chat",
        environment="development",
        password=password,
        content=push_certificate(kind).p12(password),
    )


# --- password -----------------------------------------------------------------------------------------------


def test_a_password_of_1024_characters_is_accepted() -> None:
    # Given a .p12 protected by a 1024-character password
    password = "p" * 1024

    # When it is verified
    credential = verify_upload(p12(password), now=NOW)

    # Then it is accepted with that password
    assert credential.password == password


def test_a_password_of_1025_characters_is_refused_before_opening_the_file() -> None:
    # Given a 1025-character password (and a file it does not open)
    upload = CertificateUpload(
        name="Chat", environment="development", password="p" * 1025, content=b"not a p12"
    )

    # When it is verified, then it is refused for its length, without echoing it
    with pytest.raises(OfflinePushError) as refused:
        verify_upload(upload, now=NOW)
    assert refusal(refused) == (
        HTTPStatus.BAD_REQUEST,
        "InvalidRequest",
        "password is longer than 1024 characters",
    )


# --- file size ----------------------------------------------------------------------------------------------


def test_a_file_of_exactly_65536_bytes_is_accepted_and_one_byte_more_refused() -> None:
    assert check_content(b"x" * 65536) == b"x" * 65536
    with pytest.raises(OfflinePushError) as refused:
        check_content(b"x" * 65537)
    assert refusal(refused) == (
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "CredentialTooLarge",
        "file is 65537 bytes; the limit is 65536 bytes (a push certificate or key is a few KiB)",
    )


# --- bundle id ----------------------------------------------------------------------------------------------


def test_a_bundle_id_of_155_characters_is_accepted_and_156_refused() -> None:
    longest = "com." + "a" * 151
    assert len(longest) == 155
    assert check_bundle_id(longest) == longest
    with pytest.raises(OfflinePushError) as refused:
        check_bundle_id(longest + "a")
    assert refusal(refused) == (
        HTTPStatus.BAD_REQUEST,
        "InvalidBundleId",
        "bundleId must be a reverse-DNS bundle ID such as com.example.app (letters, digits, '-', separated "
        "by '.'; at most 155 characters)",
    )


def test_a_missing_bundle_id_names_what_it_is_for() -> None:
    with pytest.raises(OfflinePushError) as refused:
        check_bundle_id("  ")
    assert refusal(refused) == (
        HTTPStatus.BAD_REQUEST,
        "InvalidBundleId",
        "bundleId is required for a .p8 key: the app's bundle ID (the APNs topic)",
    )


# --- validity -----------------------------------------------------------------------------------------------


def test_a_certificate_is_valid_from_the_exact_moment_it_starts() -> None:
    # Given the clock at the certificate's notBefore, to the microsecond
    certificate = push_certificate(PushCertificateKind.DEVELOPMENT).certificate
    upload = p12(PASSWORD)

    # When it is verified, then it is accepted, expiring when the certificate does
    credential = verify_upload(upload, now=certificate.not_valid_before_utc)
    assert credential.expires_at == certificate.not_valid_after_utc


def test_validity_errors_name_the_certificates_dates() -> None:
    certificate = push_certificate(PushCertificateKind.DEVELOPMENT).certificate
    starts = certificate.not_valid_before_utc.isoformat().replace("+00:00", "Z")
    ends = certificate.not_valid_after_utc.isoformat().replace("+00:00", "Z")

    with pytest.raises(OfflinePushError) as early:
        verify_upload(p12(PASSWORD), now=certificate.not_valid_before_utc - dt.timedelta(microseconds=1))
    with pytest.raises(OfflinePushError) as late:
        verify_upload(p12(PASSWORD), now=certificate.not_valid_after_utc)

    assert refusal(early) == (
        HTTPStatus.BAD_REQUEST,
        "CertificateNotYetValid",
        f"the certificate is not valid before {starts}",
    )
    assert refusal(late) == (
        HTTPStatus.BAD_REQUEST,
        "CertificateExpired",
        f"the certificate expired on {ends}: create a new one in the Apple developer account",
    )


# --- environment --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "declared", "message"),
    [
        (
            PushCertificateKind.DEVELOPMENT,
            "production",
            "this is a development (sandbox) push certificate and cannot be used for production: App Store "
            "and TestFlight builds need a production or 'Apple Push Services' certificate",
        ),
        (
            PushCertificateKind.PRODUCTION,
            "development",
            "this is a production-only push certificate and cannot be used for development (the APNs "
            "sandbox): use a development or 'Apple Push Services' certificate",
        ),
    ],
)
def test_a_certificate_declared_for_an_environment_it_cannot_serve_says_which_it_needs(
    kind: PushCertificateKind, declared: str, message: str
) -> None:
    upload = CertificateUpload(
        name="Chat", environment=declared, password=PASSWORD, content=push_certificate(kind).p12(PASSWORD)
    )

    with pytest.raises(OfflinePushError) as refused:
        verify_upload(upload, now=NOW)

    assert refusal(refused) == (HTTPStatus.BAD_REQUEST, "EnvironmentNotServable", message)


@pytest.mark.parametrize(
    ("upload", "code", "message"),
    [
        (
            CertificateUpload(environment="development", password=PASSWORD, content=b"x"),
            "InvalidCertificateName",
            "name is required",
        ),
        (
            CertificateUpload(name="Chat", password=PASSWORD, content=b"x"),
            "InvalidEnvironment",
            "environment is required: 'development' or 'production'",
        ),
        (
            CertificateUpload(name="Chat", environment="staging", password=PASSWORD, content=b"x"),
            "InvalidEnvironment",
            "environment must be 'development' or 'production'",
        ),
    ],
)
def test_a_create_without_a_name_or_an_environment_is_a_400_naming_the_field(
    upload: CertificateUpload, code: str, message: str
) -> None:
    with pytest.raises(OfflinePushError) as refused:
        verify_upload(upload, now=NOW)

    assert refusal(refused) == (HTTPStatus.BAD_REQUEST, code, message)


# --- rotation -----------------------------------------------------------------------------------------------


def record(environment: ApnsEnvironment) -> CertificateRecord:
    return CertificateRecord(
        sdk_app_id=1400000001,
        business_id=3,
        name="Chat",
        type=CredentialType.P12,
        bundle_id=BUNDLE_ID,
        environment=environment,
        created_at=NOW,
        updated_at=NOW,
        object_key="credentials/1400000001/x.p12",
    )


def token_key(environment: str, bundle_id: str = BUNDLE_ID, name: str | None = None) -> NewCredential:
    upload = CertificateUpload(
        type="p8",
        name=name,
        environment=environment,
        content=p8_key(),
        key_id=KEY_ID,
        team_id=TEAM_ID,
        bundle_id=bundle_id,
    )
    return verify_upload(upload, now=NOW, current=record(ApnsEnvironment(environment)))


def test_a_rotation_keeps_the_old_name_and_environment_unless_restated() -> None:
    # Given a production certificate named Chat, rotated with and without restating its name
    kept = token_key("production")
    renamed = token_key("production", name="Chat 2027")

    # Then the name is the old one unless a new one is given
    assert (kept.name, kept.environment) == ("Chat", ApnsEnvironment.PRODUCTION)
    assert (renamed.name, renamed.environment) == ("Chat 2027", ApnsEnvironment.PRODUCTION)


def test_a_rotation_to_another_app_or_environment_is_refused_naming_both() -> None:
    current = record(ApnsEnvironment.DEVELOPMENT)

    with pytest.raises(OfflinePushError) as other_app:
        check_rotation(current, token_key("development", bundle_id="com.example.other"))
    with pytest.raises(OfflinePushError) as other_environment:
        check_rotation(current, token_key("production"))

    assert refusal(other_app) == (
        HTTPStatus.CONFLICT,
        "BundleIdMismatch",
        "certificate 3 is for bundle ID com.example.chat; the new file is for com.example.other: upload it "
        "as a new certificate instead",
    )
    assert refusal(other_environment) == (
        HTTPStatus.CONFLICT,
        "EnvironmentChange",
        "certificate 3 is a development certificate and stays one: devices registered under it hold "
        "development tokens; upload a new certificate for the other environment",
    )
    check_rotation(current, token_key("development"))
