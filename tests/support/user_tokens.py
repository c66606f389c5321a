"""User JWTs as an app's server would issue them, and the keys to sign them with."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

# What the sample events in events/ are signed with (and the README's local example): a sample, not a secret.
SAMPLE_SECRET = "offline-push-sample-secret-0123456789abcdef"
SAMPLE_SDK_APP_ID = 1400000001
SAMPLE_USER_ID = "vinson"


@dataclass(frozen=True)
class SigningKey:
    """A private key (or HMAC secret) and the configuration the apps API takes for it."""

    algorithm: str
    signing: Any = field(repr=False)
    user_auth: dict[str, str] = field(repr=False)


def hmac_key(secret: str = SAMPLE_SECRET) -> SigningKey:
    return SigningKey("HS256", secret, {"algorithm": "HS256", "secret": secret})


def _public_pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@cache
def rsa_key() -> SigningKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey("RS256", private_key, {"algorithm": "RS256", "publicKey": _public_pem(private_key)})


@cache
def ec_key() -> SigningKey:
    private_key = ec.generate_private_key(ec.SECP256R1())
    return SigningKey("ES256", private_key, {"algorithm": "ES256", "publicKey": _public_pem(private_key)})


def user_token(
    key: SigningKey,
    *,
    sub: Any = SAMPLE_USER_ID,
    aud: Any = str(SAMPLE_SDK_APP_ID),
    # Parametrized tests build their tokens at collection time: a valid one must outlive the whole run.
    expires_in: int | None = 6 * 3600,
    algorithm: str | None = None,
    **claims: Any,
) -> str:
    """A JWT for ``sub`` of app ``aud``; pass None to leave a claim out."""
    payload: dict[str, Any] = {"iat": int(time.time()), **claims}
    if sub is not None:
        payload["sub"] = sub
    if aud is not None:
        payload["aud"] = aud
    if expires_in is not None:
        payload["exp"] = int(time.time()) + expires_in
    return jwt.encode(payload, key.signing, algorithm=algorithm or key.algorithm)
