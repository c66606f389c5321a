"""The Apple CA certificates shipped in the layer: exactly the files the notes list, with the fingerprints
they record, every WWDR intermediate issued by a shipped Apple root; and the trust decision on a
certificate."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from local.apple_pki import ApplePki, PushCertificateKind
from offline_push.apple_ca import (
    INTERMEDIATE_FILES,
    ROOT_FILES,
    TEST_CA_ENVIRONMENT_VARIABLE,
    AppleTrust,
    apple_intermediates,
    apple_trust,
)
from offline_push.errors import NotIssuedByApple

FOLDER = Path(__file__).parents[3] / "layers" / "offline_push" / "offline_push" / "apple_ca"
NOW = dt.datetime.now(dt.UTC)


def _documented_fingerprints() -> dict[str, str]:
    rows = re.findall(
        r"^\| `([^`]+\.pem)` \|.*\| `([0-9a-f]{64})` \|$", (FOLDER / "README.md").read_text(), re.M
    )
    return dict(rows)


def test_the_shipped_files_are_those_the_notes_list_with_the_same_fingerprints() -> None:
    # Given the PEM files in the layer and the table of the notes beside them
    shipped = {path.name: hashlib.sha256(_der(path)).hexdigest() for path in sorted(FOLDER.glob("*.pem"))}

    # Then they agree file for file, fingerprint for fingerprint
    assert shipped == _documented_fingerprints()
    assert set(shipped) == {*ROOT_FILES, *INTERMEDIATE_FILES}


def _der(path: Path) -> bytes:
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(serialization.Encoding.DER)


def test_every_shipped_intermediate_is_an_apple_wwdr_ca_issued_by_a_shipped_root() -> None:
    # When the shipped intermediates are loaded (each checked against the roots, or loading fails)
    intermediates = apple_intermediates()

    # Then all five WWDR generations in use are there
    assert len(intermediates) == len(INTERMEDIATE_FILES) == 5
    for certificate in intermediates:
        assert "Apple Worldwide Developer Relations" in certificate.subject.rfc4514_string()


def test_a_certificate_from_an_apple_look_alike_ca_is_not_apples(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given only Apple's CAs, and a push certificate from a CA named like Apple's WWDR
    monkeypatch.delenv(TEST_CA_ENVIRONMENT_VARIABLE, raising=False)
    issued = ApplePki().issue_push_certificate("com.example.chat", PushCertificateKind.UNIVERSAL)

    # Then it is refused
    with pytest.raises(NotIssuedByApple):
        apple_trust().check_issued(issued.certificate, now=NOW)


def test_a_test_ca_is_trusted_only_for_its_own_certificates_and_only_while_valid() -> None:
    # Given a trust of one test CA
    pki, other = ApplePki(), ApplePki()
    trust = AppleTrust((pki.ca_certificate,))
    issued = pki.issue_push_certificate("com.example.chat")

    # Then its certificates pass, another CA's (same names, another key) do not, nor its own once it expired
    trust.check_issued(issued.certificate, now=NOW)
    with pytest.raises(NotIssuedByApple):
        trust.check_issued(other.issue_push_certificate("com.example.chat").certificate, now=NOW)
    with pytest.raises(NotIssuedByApple):
        trust.check_issued(issued.certificate, now=pki.ca_certificate.not_valid_after_utc)
