"""Fixtures and builders for the APNs client's tests: the Apple-like PKI and the APNs sandbox on 127.0.0.1.

Registered as a pytest plugin in tests/conftest.py, so ``sandbox``, ``apns_settings``, ``pki`` and
``ca_bundle`` are available to every test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from local.apns_sandbox import ApnsSandbox
from local.apple_pki import ApplePki, PushCertificateKind
from offline_push.apns import ApnsSettings
from offline_push.models.credential import ApnsEnvironment, CertificateCredential, TokenCredential
from offline_push.models.notification import ApnsRequest, Notification, PushType

TOPIC = "com.example.chat"
TEAM_ID = "ABCDE12345"
KEY_ID = "KEY1234567"
PAYLOAD = b'{"aps":{"alert":{"title":"Denny","body":"hello"},"sound":"default"},"ext":"jump to denny"}'


@pytest.fixture(scope="session")
def pki() -> ApplePki:
    return ApplePki()


@pytest.fixture(scope="session")
def ca_bundle(pki: ApplePki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pki.write_ca(tmp_path_factory.mktemp("apns-ca") / "ca.pem")


@pytest.fixture
async def sandbox(pki: ApplePki) -> AsyncIterator[ApnsSandbox]:
    async with ApnsSandbox(pki) as running:
        yield running


@pytest.fixture
def apns_settings(sandbox: ApnsSandbox, ca_bundle: Path) -> ApnsSettings:
    """Settings pointing at the sandbox, with timeouts and backoff short enough for tests."""
    return sandbox_settings(sandbox, ca_bundle)


def sandbox_settings(sandbox: ApnsSandbox, ca_bundle: Path, **overrides: object) -> ApnsSettings:
    values: dict[str, object] = {
        "apns_production_url": sandbox.production_url,
        "apns_sandbox_url": sandbox.development_url,
        "apns_extra_ca_bundle": str(ca_bundle),
        "apns_connect_timeout": 2.0,
        "apns_read_timeout": 2.0,
        "apns_pool_timeout": 2.0,
        "apns_backoff_base": 0.01,
        "apns_backoff_max": 0.05,
        **overrides,
    }
    return ApnsSettings.model_validate(values)


def certificate_credential(
    pki: ApplePki,
    *,
    topic: str = TOPIC,
    kind: PushCertificateKind = PushCertificateKind.UNIVERSAL,
    environment: ApnsEnvironment = ApnsEnvironment.DEVELOPMENT,
    cache_key: str | None = None,
) -> CertificateCredential:
    issued = pki.issue_push_certificate(topic, kind)
    return CertificateCredential(
        topic,
        environment,
        issued.certificate,
        issued.private_key,
        cache_key or f"1400000001:1:{uuid.uuid4()}",
    )


def token_credential(
    signing_key: ec.EllipticCurvePrivateKey,
    *,
    topic: str = TOPIC,
    environment: ApnsEnvironment = ApnsEnvironment.DEVELOPMENT,
    key_id: str = KEY_ID,
    team_id: str = TEAM_ID,
    cache_key: str | None = None,
) -> TokenCredential:
    return TokenCredential(
        topic, environment, key_id, team_id, signing_key, cache_key or f"1400000001:2:{uuid.uuid4()}"
    )


def new_signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def new_device_token() -> str:
    return os.urandom(32).hex()


def push(
    device_token: str,
    *,
    topic: str = TOPIC,
    payload: bytes = PAYLOAD,
    apns_id: str | None = None,
    push_type: PushType = PushType.ALERT,
    priority: int = 10,
    expiration: int | None = None,
    collapse_id: str | None = None,
) -> ApnsRequest:
    return ApnsRequest(
        device_token,
        topic,
        Notification(payload, push_type, priority, expiration, collapse_id),
        apns_id or str(uuid.uuid4()),
    )


def live_devices(
    sandbox: ApnsSandbox,
    count: int,
    *,
    topic: str = TOPIC,
    environment: ApnsEnvironment = ApnsEnvironment.DEVELOPMENT,
) -> list[str]:
    tokens = [new_device_token() for _ in range(count)]
    for token in tokens:
        sandbox.state.register_device(token, topic, environment)
    return tokens
