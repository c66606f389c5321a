"""Apple's certificate authorities for push certificates: only a certificate Apple issued is accepted.

An APNs certificate is issued by one of Apple's "Worldwide Developer Relations" (WWDR) intermediates, which
Apple's root CAs issue. The intermediates and the roots that issue them ship in this folder (PEM files; where
each came from and its SHA-256 fingerprint: ``README.md`` beside them). An uploaded certificate is accepted
when it was issued (name and signature) by a WWDR intermediate that is valid now and was itself issued by
one of the shipped roots. Anything else, however Apple-like its names and extensions, is
:class:`~offline_push.errors.NotIssuedByApple`.

:data:`TEST_CA_ENVIRONMENT_VARIABLE` names a PEM file of extra CA certificates trusted as if they were WWDR
intermediates. Only the local stack and the tests set it, for certificates they issue themselves; it must
never be set in production (it would let anyone holding that CA's key upload certificates).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from offline_push.errors import ConfigurationError, NotIssuedByApple
from offline_push.untrusted import contain_panics

TEST_CA_ENVIRONMENT_VARIABLE: Final = "OFFLINE_PUSH_TEST_CA_FILE"

_FOLDER = Path(__file__).parent
ROOT_FILES: Final = ("AppleIncRootCertificate.pem", "AppleRootCA-G3.pem")
INTERMEDIATE_FILES: Final = (
    "AppleWWDRCAG2.pem",
    "AppleWWDRCAG3.pem",
    "AppleWWDRCAG4.pem",
    "AppleWWDRCAG5.pem",
    "AppleWWDRCAG6.pem",
)


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` issued ``certificate``: its name is the certificate's issuer and its key verifies
    the certificate's signature."""
    try:
        with contain_panics(lambda: ValueError("unverifiable")):
            certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    return constraints.ca


def _load_pem_file(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


@dataclass(frozen=True)
class AppleTrust:
    """The CAs allowed to issue a push certificate."""

    issuers: tuple[x509.Certificate, ...]

    def check_issued(self, certificate: x509.Certificate, *, now: dt.datetime) -> None:
        """:class:`NotIssuedByApple` unless one of the issuers, valid at ``now``, issued ``certificate``."""
        try:
            with contain_panics(lambda: ValueError("unreadable")):
                issuer_name = certificate.issuer
        except ValueError:  # a name the parser refuses: no CA issued that
            issuer_name = None
        for issuer in self.issuers:
            if issuer_name is None or issuer.subject != issuer_name:
                continue
            if not issuer.not_valid_before_utc <= now < issuer.not_valid_after_utc:
                continue
            if _issued_by(certificate, issuer):
                return
        raise NotIssuedByApple(
            "the certificate was not issued by Apple (its chain does not end at Apple's Worldwide Developer "
            "Relations intermediates and Apple's root): create the push certificate in the Apple developer "
            "account and export it from Keychain"
        )


@cache
def apple_intermediates() -> tuple[x509.Certificate, ...]:
    """The shipped WWDR intermediates, each checked to be issued by a shipped Apple root (fail closed)."""
    roots = [certificate for name in ROOT_FILES for certificate in _load_pem_file(_FOLDER / name)]
    intermediates: list[x509.Certificate] = []
    for name in INTERMEDIATE_FILES:
        for certificate in _load_pem_file(_FOLDER / name):
            if not _is_ca(certificate) or not any(_issued_by(certificate, root) for root in roots):
                raise ConfigurationError(
                    f"the shipped Apple CA file {name} is not issued by a shipped Apple root"
                )
            intermediates.append(certificate)
    return tuple(intermediates)


@lru_cache(maxsize=4)
def _test_cas(path: str, _mtime_ns: int, _size: int) -> tuple[x509.Certificate, ...]:
    try:
        certificates = _load_pem_file(Path(path))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"{TEST_CA_ENVIRONMENT_VARIABLE} must name a readable PEM file of CA certificates"
        ) from exc
    if not certificates or not all(_is_ca(certificate) for certificate in certificates):
        raise ConfigurationError(f"{TEST_CA_ENVIRONMENT_VARIABLE} must name a PEM file of CA certificates")
    return tuple(certificates)


def configured_test_cas() -> tuple[x509.Certificate, ...]:
    """The extra CAs of :data:`TEST_CA_ENVIRONMENT_VARIABLE` (none unless set): re-read when the file
    changes."""
    path = os.environ.get(TEST_CA_ENVIRONMENT_VARIABLE, "")
    if not path:
        return ()
    try:
        status = os.stat(path)
    except OSError as exc:
        raise ConfigurationError(f"{TEST_CA_ENVIRONMENT_VARIABLE} names a file that cannot be read") from exc
    return _test_cas(path, status.st_mtime_ns, status.st_size)


def apple_trust() -> AppleTrust:
    """Apple's WWDR intermediates, plus the test CAs when the test setting is present."""
    return AppleTrust(apple_intermediates() + configured_test_cas())
