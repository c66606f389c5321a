"""The user-auth key rules at their edges: secret length in bytes, the material's size, the key types."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError

from offline_push.api.apps import AppSettingsRequest
from offline_push.errors import InvalidRequest
from offline_push.logic.apps import CheckedKey, check_user_auth_key, verification_key
from offline_push.models.app import UserAuthAlgorithm, UserAuthKey, VerificationKey
from tests.support.user_tokens import ec_key, rsa_key

HS256, RS256, ES256 = UserAuthAlgorithm.HS256, UserAuthAlgorithm.RS256, UserAuthAlgorithm.ES256


def refused(algorithm: UserAuthAlgorithm, material: str) -> str:
    with pytest.raises(InvalidRequest) as caught:
        check_user_auth_key(algorithm, material)
    return caught.value.message


@pytest.mark.parametrize(
    "secret",
    ["s" * 32, "密" * 10 + "ab", "s" * 8192],
    ids=["32 ASCII bytes", "32 bytes in 12 characters", "8192 bytes"],
)
def test_an_hs256_secret_of_32_to_8192_bytes_is_accepted_as_its_own_bytes(secret: str) -> None:
    # Given an HS256 secret of at least 32 bytes (RFC 7518 3.2) and at most 8192, counted in UTF-8
    # When it is checked
    checked = check_user_auth_key(HS256, secret)

    # Then it is kept as sent, verifies with its UTF-8 bytes, and has no public-key fingerprint
    assert checked == CheckedKey(UserAuthKey(HS256, secret), secret.encode(), None)


@pytest.mark.parametrize(
    "secret", ["s" * 31, "密" * 10 + "a"], ids=["31 ASCII bytes", "31 bytes in 11 characters"]
)
def test_an_hs256_secret_of_31_bytes_is_refused(secret: str) -> None:
    # Given an HS256 secret one byte short of the hash's length
    # When it is checked
    # Then it is refused with the minimum and where it comes from
    assert refused(HS256, secret) == "userAuth.secret must be at least 32 bytes for HS256 (RFC 7518 3.2)"


@pytest.mark.parametrize("algorithm", [HS256, RS256, ES256])
def test_key_material_of_8193_bytes_is_refused_whatever_the_algorithm(algorithm: UserAuthAlgorithm) -> None:
    # Given key material one byte over 8192 bytes (the last character takes two)
    material = "s" * 8191 + "é"

    # When it is checked
    # Then it is refused for its size, before any parsing
    assert refused(algorithm, material) == "userAuth key material is longer than 8192 bytes"


def test_key_material_with_a_lone_surrogate_is_refused_without_echoing_it() -> None:
    # Given a secret holding a lone surrogate (UTF-8 cannot carry it)
    # When it is checked
    # Then it is refused for what it is
    assert refused(HS256, "s" * 40 + "\ud800") == (
        "userAuth key material is not Unicode text (it has a lone surrogate)"
    )


def _spki(public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> tuple[str, str]:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode(), hashlib.sha256(der).hexdigest()


@pytest.mark.parametrize(
    ("algorithm", "signing"), [(RS256, rsa_key), (ES256, ec_key)], ids=["RS256", "ES256"]
)
def test_a_public_key_is_kept_in_canonical_pem_with_the_sha256_of_its_der(
    algorithm: UserAuthAlgorithm, signing: object
) -> None:
    # Given a 2048-bit RSA or a P-256 public key, sent with CRLF line ends and surrounding blank lines
    public_key = signing().signing.public_key()  # type: ignore[operator]
    pem, fingerprint = _spki(public_key)
    sent = "\r\n" + pem.replace("\n", "\r\n") + "\r\n"

    # When it is checked
    checked = check_user_auth_key(algorithm, sent)

    # Then the stored material is the canonical PEM, and the fingerprint is the SHA-256 of the key's DER
    assert checked.key == UserAuthKey(algorithm, pem)
    assert checked.public_key_sha256 == fingerprint
    assert _spki(checked.verification) == (pem, fingerprint)  # type: ignore[arg-type]


def test_a_verification_key_carries_the_app_the_algorithm_and_the_secrets_bytes() -> None:
    # Given an app's stored HS256 key
    stored = UserAuthKey(HS256, "s" * 32)

    # When it is made ready to verify tokens
    # Then it names the app and the algorithm, and holds the secret's bytes
    assert verification_key(1400000001, stored) == VerificationKey(1400000001, HS256, b"s" * 32)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_a_public_key_algorithm_sent_with_both_a_public_key_and_a_secret_is_refused(algorithm: str) -> None:
    # Given settings for a public-key algorithm that carry a secret as well as the public key
    body = {
        "userAuth": {"algorithm": algorithm, "publicKey": ec_key().user_auth["publicKey"], "secret": "s" * 32}
    }

    # When they are read
    with pytest.raises(ValidationError) as caught:
        AppSettingsRequest.model_validate(body)

    # Then they are refused: a public-key app holds no secret
    assert [(error["loc"], error["msg"]) for error in caught.value.errors()] == [
        (("userAuth",), f"Value error, {algorithm} takes a publicKey in PEM (and no secret)")
    ]
