"""What the APNs client needs to authenticate as one app: a client certificate, or a token signing key.

The certificates component loads these from storage (:mod:`offline_push.dal.credentials`); the APNs client
(:mod:`offline_push.apns`) turns them into a TLS context or provider tokens. Key objects stay in memory: they
are never written to a file, a log, or an exception message (``repr`` hides them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the key types only annotate: a function that never loads a credential never loads them
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa


class ApnsEnvironment(StrEnum):
    """Which APNs a credential is used with: ``development`` is Apple's sandbox host."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


@dataclass(frozen=True, slots=True)
class CertificateCredential:
    """Certificate-based auth: TLS client certificate issued by Apple for one bundle ID (the topic)."""

    topic: str
    environment: ApnsEnvironment
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = field(repr=False)
    # Identifies this exact credential (sdkAppId, businessId, version): clients and caches key on it, so a
    # rotated certificate gets a new connection instead of reusing one made with the old key.
    cache_key: str = ""


@dataclass(frozen=True, slots=True)
class TokenCredential:
    """Token-based auth: an ES256 signing key (.p8) of a team; signs provider tokens (JWT) for any topic."""

    topic: str
    environment: ApnsEnvironment
    key_id: str
    team_id: str
    signing_key: ec.EllipticCurvePrivateKey = field(repr=False)
    cache_key: str = ""


ApnsCredential = CertificateCredential | TokenCredential
