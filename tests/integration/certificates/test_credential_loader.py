"""The credential loader the dispatcher uses: stored certificate -> CertificateCredential / TokenCredential,
cached per warm container, refreshed after a rotation."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest
from cryptography.hazmat.primitives import serialization

from local.apple_pki import PushCertificateKind, new_rsa_key
from offline_push.dal.credentials import CredentialLoader
from offline_push.errors import CertificateNotFound, CredentialUnusable, StorageError
from offline_push.logic.certificates import CertificateService, CertificateUpload
from offline_push.models.credential import ApnsEnvironment, CertificateCredential, TokenCredential
from tests.support.certificates import (
    BUNDLE_ID,
    KEY_ID,
    PASSWORD,
    SDK_APP_ID,
    TEAM_ID,
    CertificateApi,
    b64,
    counting_calls,
    failing,
    p8_key,
    p8_upload,
    p12_upload,
    pki,
    push_certificate,
)

from .conftest import Storage

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def loader(service: CertificateService, clock: Clock) -> CredentialLoader:
    """A loader sharing the function's clients (so the tests can count and fail their calls)."""
    return CredentialLoader(service.repository, revalidate_after=60, monotonic=clock)


def _public_der(key: object) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_p12_loads_as_a_certificate_credential_with_its_topic_environment_and_key(
    api: CertificateApi, loader: CredentialLoader
) -> None:
    # Given an uploaded universal certificate declared for production
    issued = push_certificate(PushCertificateKind.UNIVERSAL)
    api.create(p12_upload(PushCertificateKind.UNIVERSAL, environment="production"))

    # When the dispatcher loads certificate 1
    credential = loader.load(SDK_APP_ID, 1)

    # Then it has what the APNs client needs: the certificate, its private key, the topic and the environment
    assert isinstance(credential, CertificateCredential)
    assert credential.topic == BUNDLE_ID
    assert credential.environment is ApnsEnvironment.PRODUCTION
    assert credential.certificate == issued.certificate
    assert _public_der(credential.private_key) == _public_der(issued.private_key)
    assert credential.cache_key == f"{SDK_APP_ID}/1/v1"


def test_p8_loads_as_a_token_credential(api: CertificateApi, loader: CredentialLoader) -> None:
    api.create(p8_upload(environment="development"))

    credential = loader.load(SDK_APP_ID, 1)

    expected_key = serialization.load_pem_private_key(p8_key(), password=None)
    assert isinstance(credential, TokenCredential)
    assert (credential.topic, credential.environment, credential.key_id, credential.team_id) == (
        BUNDLE_ID,
        ApnsEnvironment.DEVELOPMENT,
        KEY_ID,
        TEAM_ID,
    )
    assert _public_der(credential.signing_key) == _public_der(expected_key)
    assert credential.cache_key == f"{SDK_APP_ID}/1/v1"


def test_a_loaded_credential_is_served_from_the_cache_without_calling_aws(
    api: CertificateApi, loader: CredentialLoader, storage: Storage, clock: Clock
) -> None:
    # Given a credential loaded once
    api.create(p12_upload())
    first = loader.load(SDK_APP_ID, 1)

    # When it is loaded again within the revalidation period
    clock.now += 59
    with counting_calls(storage.dynamodb, storage.s3, storage.kms) as calls:
        again = loader.load(SDK_APP_ID, 1)

    # Then it is the same object, and AWS was not called
    assert again is first
    assert calls == []


def test_after_the_period_an_unchanged_credential_costs_one_metadata_read(
    api: CertificateApi, loader: CredentialLoader, storage: Storage, clock: Clock
) -> None:
    api.create(p12_upload())
    first = loader.load(SDK_APP_ID, 1)

    clock.now += 61
    with counting_calls(storage.dynamodb, storage.s3, storage.kms) as calls:
        again = loader.load(SDK_APP_ID, 1)

    assert again is first
    assert calls == ["GetItem"]


def test_a_rotation_reaches_a_warm_loader_within_the_revalidation_period(
    api: CertificateApi, loader: CredentialLoader, clock: Clock
) -> None:
    # Given a warm loader holding version 1
    api.create(p12_upload())
    old = loader.load(SDK_APP_ID, 1)
    renewed = pki().issue_push_certificate(BUNDLE_ID, key=new_rsa_key(shared_slot=9))

    # When the certificate is rotated
    api.rotate(1, {**p12_upload(), "file": b64(renewed.p12(PASSWORD))})

    # Then the loader keeps the old one until the period ends, then serves the new one under a new cache key
    assert loader.load(SDK_APP_ID, 1) is old
    clock.now += 60
    new = loader.load(SDK_APP_ID, 1)
    assert isinstance(new, CertificateCredential)
    assert new.certificate == renewed.certificate
    assert (old.cache_key, new.cache_key) == (f"{SDK_APP_ID}/1/v1", f"{SDK_APP_ID}/1/v2")


def test_invalidate_makes_the_next_load_check_for_a_rotation(
    api: CertificateApi, loader: CredentialLoader
) -> None:
    # Given a warm loader, and a rotation it has not seen
    api.create(p12_upload())
    loader.load(SDK_APP_ID, 1)
    api.rotate(1, p8_upload(environment="development"))

    # When the dispatcher invalidates the entry (e.g. APNs refused the certificate)
    loader.invalidate(SDK_APP_ID, 1)

    # Then the next load sees the rotation at once
    credential = loader.load(SDK_APP_ID, 1)
    assert isinstance(credential, TokenCredential)
    assert credential.cache_key == f"{SDK_APP_ID}/1/v2"


def test_a_deleted_certificate_is_not_found_from_the_next_revalidation(
    api: CertificateApi, loader: CredentialLoader, clock: Clock
) -> None:
    api.create(p12_upload())
    loader.load(SDK_APP_ID, 1)

    api.delete(1)
    clock.now += 60

    with pytest.raises(CertificateNotFound, match=f"^no certificate 1 in app {SDK_APP_ID}$"):
        loader.load(SDK_APP_ID, 1)


def test_an_unknown_certificate_is_not_found(loader: CredentialLoader, api: CertificateApi) -> None:
    with pytest.raises(CertificateNotFound, match=f"^no certificate 4 in app {SDK_APP_ID}$"):
        loader.load(SDK_APP_ID, 4)


def test_an_expired_certificate_is_refused_with_a_readable_reason(
    service: CertificateService, loader: CredentialLoader
) -> None:
    # Given a certificate stored while valid, that has expired since
    not_after = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    issued = pki().issue_push_certificate(BUNDLE_ID, not_after=not_after)
    upload = CertificateUpload(
        name="Chat", environment="development", password=PASSWORD, content=issued.p12(PASSWORD)
    )
    service.create(SDK_APP_ID, upload)
    loader_after_expiry = CredentialLoader(
        service.repository, clock=lambda: not_after + dt.timedelta(seconds=1)
    )

    # When the dispatcher loads it
    with pytest.raises(CredentialUnusable) as refused:
        loader_after_expiry.load(SDK_APP_ID, 1)

    # Then the reason says which certificate expired when, and what to do
    expiry = issued.certificate.not_valid_after_utc.isoformat().replace("+00:00", "Z")
    assert refused.value.message == (
        f"certificate 1 of app {SDK_APP_ID} expired on {expiry}: upload a new one under the same id (PUT)"
    )
    assert refused.value.code == "CredentialUnusable"


def test_a_cached_credential_keeps_serving_while_the_metadata_is_unreadable(
    api: CertificateApi, loader: CredentialLoader, storage: Storage, clock: Clock
) -> None:
    # Given a warm loader
    api.create(p12_upload())
    cached = loader.load(SDK_APP_ID, 1)

    # When DynamoDB fails during a revalidation
    clock.now += 61
    with failing(storage.dynamodb, "GetItem"):
        during_outage = loader.load(SDK_APP_ID, 1)

    # Then pushes go on with the cached credential, and the next load checks again
    assert during_outage is cached
    with counting_calls(storage.dynamodb) as calls:
        loader.load(SDK_APP_ID, 1)
    assert calls == ["GetItem"]


def test_a_cold_loader_reports_an_outage(
    api: CertificateApi, loader: CredentialLoader, storage: Storage
) -> None:
    api.create(p12_upload())

    with failing(storage.s3, "GetObject"), pytest.raises(StorageError, match="could not be read"):
        loader.load(SDK_APP_ID, 1)


def test_the_loader_is_configured_from_the_environment(api: CertificateApi) -> None:
    # Given the function environment of template.yaml (set by the aws fixture)
    assert api.create(p12_upload()).status == HTTPStatus.CREATED

    # When a loader is built the way the dispatcher builds it at cold start
    loader = CredentialLoader.from_environ()

    # Then it reads the stored credential, checking its metadata on every load (once per invocation)
    assert loader.revalidate_after == 0
    assert loader.load(SDK_APP_ID, 1).topic == BUNDLE_ID
