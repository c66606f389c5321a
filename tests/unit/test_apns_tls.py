"""The TLS context of a certificate credential: built from the in-memory key, leaving no file behind."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest

from local.apple_pki import ApplePki
from offline_push.apns.tls import certificate_context, client_context
from tests.support.apns import certificate_credential


def _open_descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_the_certificate_context_offers_h2_and_leaves_no_descriptor_or_file(
    pki: ApplePki, ca_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a credential whose key exists only as an object in memory, and an empty temporary directory
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    credential = certificate_credential(pki)
    before = _open_descriptors()

    # When its TLS context is built
    context = certificate_context(credential, str(ca_bundle))

    # Then it is a verifying client context with ALPN h2, and no descriptor or file was left behind
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert _open_descriptors() == before
    assert list(tmp_path.iterdir()) == []


def test_a_context_without_extra_ca_trusts_only_the_system_store() -> None:
    context = client_context(None)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert all("offline-push" not in str(ca.get("issuer")) for ca in context.get_ca_certs())
