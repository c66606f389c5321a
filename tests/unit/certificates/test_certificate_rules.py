"""The certificate rules, pure: no storage involved."""

from __future__ import annotations

import datetime as dt
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local.apple_pki import PushCertificateKind
from offline_push.errors import (
    BundleIdMismatch,
    CertificateExpired,
    CertificateNotYetValid,
    CredentialFileMissing,
    CredentialTooLarge,
    EnvironmentChange,
    EnvironmentNotServable,
    InvalidBundleId,
    InvalidCertificateName,
    InvalidCredentialType,
    InvalidEnvironment,
    InvalidKeyId,
    InvalidRequest,
    InvalidTeamId,
    OfflinePushError,
    PasswordRequired,
)
from offline_push.logic.certificates import (
    MAX_CREDENTIAL_BYTES,
    CertificateUpload,
    check_bundle_id,
    check_content,
    check_environment,
    check_name,
    check_rotation,
    credential_type_of,
    verify_upload,
)
from offline_push.models.certificate import CertificateRecord, CredentialType, NewCredential
from offline_push.models.credential import ApnsEnvironment, PushKind
from tests.support.certificates import BUNDLE_ID, KEY_ID, PASSWORD, TEAM_ID, p8_key, pki, push_certificate

NOW = dt.datetime.now(dt.UTC)
NAME_CHARACTERS = string.ascii_letters + string.digits + " ._-"


def _p12(kind: PushCertificateKind, environment: str, **changes: object) -> CertificateUpload:
    values: dict[str, object] = {
        "name": "Chat",
        "environment": environment,
        "password": PASSWORD,
        "content": push_certificate(kind).p12(PASSWORD),
    }
    values.update(changes)
    return CertificateUpload(**values)  # type: ignore[arg-type]


# --- name ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("Chat", "Chat"),
        ("Chat push 2026", "Chat push 2026"),
        ("com.example.chat_dev-1", "com.example.chat_dev-1"),
        ("  padded  ", "padded"),
        ("a" * 64, "a" * 64),
    ],
)
def test_plain_english_names_are_accepted(name: str, stored: str) -> None:
    assert check_name(name) == stored


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (None, "name is required"),
        ("", "name is required"),
        ("   ", "name is required"),
        ("a" * 65, "name is longer than 64 characters"),
        ("Chat (dev)", None),
        ("Chat [dev]", None),
        ("Chat {dev}", None),
        ("Chat\uff08dev\uff09", None),  # full-width brackets, as a Chinese keyboard types them
        ("推送证书", None),
        ("Café", None),
        ("Chat/dev", None),
        ("Chat\tdev", None),
        ("Chat 🚀", None),
    ],
)
def test_names_that_are_not_plain_english_are_refused(name: str | None, message: str | None) -> None:
    with pytest.raises(InvalidCertificateName) as refused:
        check_name(name)

    if message is not None:
        assert refused.value.message == message
    else:
        assert refused.value.message.startswith("name may only contain English letters, digits, spaces")


@settings(max_examples=200)
@given(st.text(max_size=80))
def test_an_accepted_name_only_ever_holds_letters_digits_space_dash_underscore_dot(name: str) -> None:
    try:
        stored = check_name(name)
    except InvalidCertificateName:
        return
    assert stored
    assert set(stored) <= set(NAME_CHARACTERS)
    assert len(stored) <= 64


@settings(max_examples=100)
@given(st.text(alphabet=NAME_CHARACTERS, min_size=1, max_size=64).filter(str.strip))
def test_every_plain_english_name_is_accepted(name: str) -> None:
    assert check_name(name) == name.strip()


# --- environment, type, file --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "environment"),
    [
        ("development", ApnsEnvironment.DEVELOPMENT),
        ("production", ApnsEnvironment.PRODUCTION),
        (" Production ", ApnsEnvironment.PRODUCTION),
    ],
)
def test_environment_is_development_or_production(value: str, environment: ApnsEnvironment) -> None:
    assert check_environment(value) is environment


@pytest.mark.parametrize("value", [None, "", "sandbox", "prod", "dev"])
def test_any_other_environment_is_refused(value: str | None) -> None:
    with pytest.raises(InvalidEnvironment):
        check_environment(value)


@pytest.mark.parametrize(
    ("upload", "credential_type"),
    [
        (CertificateUpload(type="p12"), CredentialType.P12),
        (CertificateUpload(type="P8"), CredentialType.P8),
        (CertificateUpload(), CredentialType.P12),
        (CertificateUpload(key_id=KEY_ID), CredentialType.P8),
        (CertificateUpload(bundle_id=BUNDLE_ID), CredentialType.P8),
    ],
)
def test_type_is_declared_or_follows_from_the_token_fields(
    upload: CertificateUpload, credential_type: CredentialType
) -> None:
    assert credential_type_of(upload) is credential_type


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(InvalidCredentialType):
        credential_type_of(CertificateUpload(type="pfx"))


def test_file_size_limit_is_64_kib() -> None:
    assert check_content(b"x" * MAX_CREDENTIAL_BYTES) == b"x" * MAX_CREDENTIAL_BYTES
    with pytest.raises(CredentialTooLarge) as refused:
        check_content(b"x" * (MAX_CREDENTIAL_BYTES + 1))
    assert refused.value.status == 413
    with pytest.raises(CredentialFileMissing):
        check_content(b"")


# --- p12 ----------------------------------------------------------------------------------------------------

SERVABLE = [
    (PushCertificateKind.DEVELOPMENT, "development", True),
    (PushCertificateKind.DEVELOPMENT, "production", False),
    (PushCertificateKind.PRODUCTION, "development", False),
    (PushCertificateKind.PRODUCTION, "production", True),
    (PushCertificateKind.UNIVERSAL, "development", True),
    (PushCertificateKind.UNIVERSAL, "production", True),
    (PushCertificateKind.VOIP, "development", True),
    (PushCertificateKind.VOIP, "production", True),
]
# What each kind of certificate can push: the local PKI's universal certificates list <bundle>.voip.
PUSH_KINDS = {
    PushCertificateKind.DEVELOPMENT: (PushKind.ALERT,),
    PushCertificateKind.PRODUCTION: (PushKind.ALERT,),
    PushCertificateKind.UNIVERSAL: (PushKind.ALERT, PushKind.VOIP),
    PushCertificateKind.VOIP: (PushKind.VOIP,),
}


@pytest.mark.parametrize(("kind", "environment", "servable"), SERVABLE)
def test_declared_environment_must_be_one_the_certificate_serves(
    kind: PushCertificateKind, environment: str, servable: bool
) -> None:
    upload = _p12(kind, environment)

    if servable:
        credential = verify_upload(upload, now=NOW)
        assert credential == NewCredential(
            type=CredentialType.P12,
            name="Chat",
            environment=ApnsEnvironment(environment),
            bundle_id=BUNDLE_ID,
            content=upload.content or b"",
            password=PASSWORD,
            expires_at=push_certificate(kind).certificate.not_valid_after_utc,
            push_kinds=PUSH_KINDS[kind],
        )
    else:
        with pytest.raises(EnvironmentNotServable):
            verify_upload(upload, now=NOW)


@pytest.mark.parametrize("password", [None, ""])
def test_a_p12_needs_a_password(password: str | None) -> None:
    with pytest.raises(PasswordRequired):
        verify_upload(_p12(PushCertificateKind.DEVELOPMENT, "development", password=password), now=NOW)


def test_validity_is_checked_against_the_clock() -> None:
    certificate = push_certificate(PushCertificateKind.DEVELOPMENT).certificate
    upload = _p12(PushCertificateKind.DEVELOPMENT, "development")

    with pytest.raises(CertificateExpired):
        verify_upload(upload, now=certificate.not_valid_after_utc)
    with pytest.raises(CertificateNotYetValid):
        verify_upload(upload, now=certificate.not_valid_before_utc - dt.timedelta(seconds=1))
    assert verify_upload(upload, now=certificate.not_valid_after_utc - dt.timedelta(seconds=1))


def test_an_expired_non_apns_certificate_is_reported_as_not_apns() -> None:
    # The more fundamental problem first: renewing it would not help
    issued = pki().issue_push_certificate(
        BUNDLE_ID,
        PushCertificateKind.NOT_APNS,
        not_before=NOW - dt.timedelta(days=30),
        not_after=NOW - dt.timedelta(days=1),
    )
    upload = CertificateUpload(
        name="A", environment="development", password=PASSWORD, content=issued.p12(PASSWORD)
    )

    with pytest.raises(OfflinePushError) as refused:
        verify_upload(upload, now=NOW)

    assert refused.value.code == "NotApnsCertificate"


# --- p8 -----------------------------------------------------------------------------------------------------


def _p8(**changes: object) -> CertificateUpload:
    values: dict[str, object] = {
        "type": "p8",
        "name": "Token",
        "environment": "production",
        "content": p8_key(),
        "key_id": KEY_ID,
        "team_id": TEAM_ID,
        "bundle_id": BUNDLE_ID,
    }
    values.update(changes)
    return CertificateUpload(**values)  # type: ignore[arg-type]


def test_a_p8_upload_is_verified_into_a_token_credential() -> None:
    assert verify_upload(_p8(key_id=" abc123defg "), now=NOW) == NewCredential(
        type=CredentialType.P8,
        name="Token",
        environment=ApnsEnvironment.PRODUCTION,
        bundle_id=BUNDLE_ID,
        content=p8_key(),
        key_id="ABC123DEFG",
        team_id=TEAM_ID,
        push_kinds=(PushKind.ALERT, PushKind.VOIP),
    )


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"key_id": None}, InvalidKeyId),
        ({"key_id": "ABC123DEF"}, InvalidKeyId),
        ({"key_id": "ABC123DEFGH"}, InvalidKeyId),
        ({"key_id": "ABC 123 DE"}, InvalidKeyId),
        ({"team_id": None}, InvalidTeamId),
        ({"team_id": "TEAM"}, InvalidTeamId),
        ({"team_id": "DEF123GHI_"}, InvalidTeamId),
        ({"bundle_id": None}, InvalidBundleId),
        ({"bundle_id": "chat"}, InvalidBundleId),
        ({"bundle_id": "com.example..chat"}, InvalidBundleId),
        ({"bundle_id": "com.example.chat/"}, InvalidBundleId),
        ({"bundle_id": "com." + "a" * 152}, InvalidBundleId),
    ],
)
def test_p8_ids_must_be_apples(changes: dict[str, object], error: type[InvalidRequest]) -> None:
    with pytest.raises(error):
        verify_upload(_p8(**changes), now=NOW)


@pytest.mark.parametrize("bundle_id", ["com.example.chat", "io.chat-app.ios", "com.example.chat.voip", "A.B"])
def test_reverse_dns_bundle_ids_are_accepted(bundle_id: str) -> None:
    assert check_bundle_id(bundle_id) == bundle_id


# --- rotation -----------------------------------------------------------------------------------------------


def _record(environment: ApnsEnvironment = ApnsEnvironment.DEVELOPMENT) -> CertificateRecord:
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


def test_a_rotation_keeps_name_and_environment_when_omitted() -> None:
    current = _record(ApnsEnvironment.PRODUCTION)
    upload = CertificateUpload(
        password=PASSWORD, content=push_certificate(PushCertificateKind.UNIVERSAL).p12(PASSWORD)
    )

    credential = verify_upload(upload, now=NOW, current=current)

    assert (credential.name, credential.environment) == ("Chat", ApnsEnvironment.PRODUCTION)
    check_rotation(current, credential)


def test_a_rotation_must_keep_the_bundle_id_and_the_environment() -> None:
    current = _record(ApnsEnvironment.DEVELOPMENT)
    other_app = verify_upload(_p8(bundle_id="com.example.other", environment="development"), now=NOW)
    other_environment = verify_upload(_p8(environment="production"), now=NOW)

    with pytest.raises(BundleIdMismatch):
        check_rotation(current, other_app)
    with pytest.raises(EnvironmentChange):
        check_rotation(current, other_environment)


def test_upload_repr_hides_the_file_and_the_password() -> None:
    upload = _p12(PushCertificateKind.DEVELOPMENT, "development")
    credential = verify_upload(upload, now=NOW)

    for text in (repr(upload), repr(credential)):
        assert PASSWORD not in text
        assert "content" not in text
