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


class PushKind(StrEnum):
    """What a push is for, and so which topic it goes to: an alert (``<bundle>``) or a PushKit VoIP push
    announcing a call (``<bundle>.voip``, push type ``voip``)."""

    ALERT = "alert"
    VOIP = "voip"


VOIP_TOPIC_SUFFIX = ".voip"
ALL_PUSH_KINDS = frozenset({PushKind.ALERT, PushKind.VOIP})


def topic_for(bundle_id: str, kind: PushKind) -> str:
    """The ``apns-topic`` of a push of ``kind`` for the app ``bundle_id``."""
    return bundle_id + VOIP_TOPIC_SUFFIX if kind is PushKind.VOIP else bundle_id


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
    push_kinds: frozenset[PushKind] = frozenset({PushKind.ALERT})  # the topics the certificate carries


@dataclass(frozen=True, slots=True)
class TokenCredential:
    """Token-based auth: an ES256 signing key (.p8) of a team; signs provider tokens (JWT) for any topic."""

    topic: str
    environment: ApnsEnvironment
    key_id: str
    team_id: str
    signing_key: ec.EllipticCurvePrivateKey = field(repr=False)
    cache_key: str = ""
    push_kinds: frozenset[PushKind] = ALL_PUSH_KINDS  # a team key signs for every topic of the app


ApnsCredential = CertificateCredential | TokenCredential
