"""Bearer JWT checks of the registration API, without AWS: who a token proves, and which path it opens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import jwt
import pytest

from offline_push.api.user_auth import MAX_TOKEN_CHARS, authenticate, authorize
from offline_push.errors import Forbidden, InvalidUserToken, OfflinePushError
from offline_push.logic.apps import verification_key
from offline_push.logic.registrations import UserRef
from offline_push.models.app import UserAuthAlgorithm, UserAuthKey, VerificationKey
from tests.support.user_tokens import SAMPLE_SECRET, ec_key, hmac_key, user_token

APP = 1400000001
# Tokens of the parameters are made at collection: valid however long the rest of the run takes before them.
DAY = 86_400
KEYS = {
    APP: verification_key(APP, UserAuthKey(UserAuthAlgorithm.HS256, SAMPLE_SECRET)),
    1400000002: verification_key(
        1400000002, UserAuthKey(UserAuthAlgorithm.ES256, ec_key().user_auth["publicKey"])
    ),
}


def keys(sdk_app_id: int) -> VerificationKey | None:
    return KEYS.get(sdk_app_id)


def test_a_valid_token_proves_its_subject_in_its_audience() -> None:
    assert authenticate(user_token(hmac_key(), sub="vinson"), keys) == UserRef(APP, "vinson")
    assert authenticate(user_token(ec_key(), aud="1400000002"), keys) == UserRef(1400000002, "vinson")


def test_an_audience_list_of_one_app_is_accepted() -> None:
    assert authenticate(user_token(hmac_key(), aud=[str(APP)]), keys) == UserRef(APP, "vinson")


def test_expiry_tolerates_a_little_clock_skew() -> None:
    assert authenticate(user_token(hmac_key(), expires_in=-10), keys) == UserRef(APP, "vinson")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        pytest.param(
            user_token(hmac_key(), aud=[str(APP), "1400000002"], expires_in=DAY),
            "the token's aud claim must be the sdkAppId, as a string",
            id="audience naming two apps",
        ),
        pytest.param(
            user_token(hmac_key(), aud=APP, expires_in=DAY),
            "the token's aud claim must be the sdkAppId, as a string",
            id="numeric audience",
        ),
        pytest.param(
            user_token(hmac_key(), aud="01400000001", expires_in=DAY),
            "the token's aud claim must be the sdkAppId, as a string",
            id="non-canonical audience",
        ),
        pytest.param(
            user_token(hmac_key(), sub="", expires_in=DAY),
            "the token's sub claim must be the userId",
            id="empty subject",
        ),
        pytest.param(
            user_token(hmac_key(), aud="1400000002", expires_in=DAY),
            "the token must be signed with ES256, the app's algorithm",
            id="HS256 token for an ES256 app",
        ),
        pytest.param(
            user_token(hmac_key(SAMPLE_SECRET[:-1] + "X"), expires_in=DAY),
            "the token's signature does not verify with the app's key",
            id="signed with a near copy of the secret",
        ),
    ],
)
def test_invalid_tokens_are_refused_saying_why(token: str, message: str) -> None:
    with pytest.raises(InvalidUserToken) as raised:
        authenticate(token, keys)

    assert (raised.value.status, raised.value.code, raised.value.message) == (401, "InvalidToken", message)
    assert token not in raised.value.message


def _signed(payload: dict[str, Any]) -> str:
    return jwt.encode(payload, SAMPLE_SECRET, algorithm="HS256")


def _signed_raw(payload_json: str) -> str:
    """An HS256 JWT whose payload is exactly ``payload_json`` (which PyJWT's encoder could not produce)."""
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(payload_json.encode()).rstrip(b"=")
    signature = hmac.new(SAMPLE_SECRET.encode(), header + b"." + body, hashlib.sha256).digest()
    return b".".join((header, body, base64.urlsafe_b64encode(signature).rstrip(b"="))).decode()


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ["4102444800", "1e10", True, None, [4102444800]])
def test_numeric_dates_written_as_anything_but_a_number_are_refused(claim: str, value: Any) -> None:
    # Given a token signed with the app's key whose date claim is not a JSON number (RFC 7519 NumericDate)
    payload = {"sub": "vinson", "aud": str(APP), "exp": int(time.time()) + 600, claim: value}
    token = _signed(payload)

    # Then it is refused, naming the claim
    with pytest.raises(InvalidUserToken) as raised:
        authenticate(token, keys)
    assert raised.value.message == f"the token's {claim} claim must be a number (a NumericDate, RFC 7519)"


@pytest.mark.parametrize(
    "payload_json",
    [
        '{"sub": "vinson", "aud": "1400000001", "exp": NaN}',
        '{"sub": "vinson", "aud": "1400000001", "exp": Infinity}',
        '{"sub": "vinson", "aud": "1400000001", "exp": 1e999}',
    ],
)
def test_numeric_dates_that_are_no_finite_number_are_refused(payload_json: str) -> None:
    with pytest.raises(InvalidUserToken) as raised:
        authenticate(_signed_raw(payload_json), keys)
    assert raised.value.message == "the token's exp claim must be a number (a NumericDate, RFC 7519)"


def test_a_payload_nested_deeper_than_a_parser_recurses_is_a_malformed_token() -> None:
    # Given a token (under the length limit) whose payload is 2,000 nested arrays
    token = _signed_raw("[" * 2000 + "]" * 2000)

    # Then it is refused as malformed, not an error of the service
    with pytest.raises(InvalidUserToken) as raised:
        authenticate(token, keys)
    assert raised.value.message == "the bearer token is not a well-formed JWT"


@pytest.mark.parametrize(
    ("path_app", "path_user", "message"),
    [
        pytest.param(
            "1400000002", "vinson", "the token is for app 1400000001: it cannot act in another app", id="app"
        ),
        pytest.param(
            "01400000001",
            "vinson",
            "the token is for app 1400000001: it cannot act in another app",
            id="app, padded",
        ),
        pytest.param(
            "apps", "vinson", "the token is for app 1400000001: it cannot act in another app", id="not an id"
        ),
        pytest.param(
            "1400000001",
            "Vinson",
            "the token is for another user: a user can only change their own registrations",
            id="user ids are case-sensitive",
        ),
        pytest.param(
            "1400000001",
            "vinson%2Fdenny",
            "the token is for another user: a user can only change their own registrations",
            id="encoded slash",
        ),
    ],
)
def test_a_token_only_opens_its_own_path(path_app: str, path_user: str, message: str) -> None:
    with pytest.raises(Forbidden) as raised:
        authorize(UserRef(APP, "vinson"), path_app, path_user)

    assert (raised.value.status, raised.value.code, raised.value.message) == (403, "Forbidden", message)


def test_a_subject_too_long_to_store_is_refused() -> None:
    user = UserRef(APP, "u" * 129)

    with pytest.raises(OfflinePushError) as raised:
        authorize(user, str(APP), user.user_id)

    assert (raised.value.status, raised.value.message) == (400, "userId is longer than 128 bytes")


def test_the_token_limit_is_far_above_real_tokens() -> None:
    assert len(user_token(ec_key(), aud="1400000002", name="x" * 2000)) < MAX_TOKEN_CHARS
