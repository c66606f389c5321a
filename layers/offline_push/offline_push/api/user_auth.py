"""Who is calling the registration API: a user of an app, proven by a bearer JWT the app's server issued.

The token is a JWT (RFC 7519) with ``sub`` = the userId, ``aud`` = the sdkAppId (decimal string) and ``exp``,
signed with the app's key: HS256 with the app's secret (like Tencent's UserSig secret key), or RS256 / ES256
with a private key whose public half the operator configured. Flow:

1. ``Authorization: Bearer <jwt>`` is required (401 ``MissingToken``).
2. ``aud`` names the app whose key verifies the token; a token whose audience is not one configured app, or
   whose signature, algorithm, expiry or claims fail, is 401 ``InvalidToken`` / ``TokenExpired``.
3. Only then the path is compared: a verified user of another app, or another user of the same app, is 403.

The token never reaches a log, a response or an exception message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import jwt
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from offline_push.api.http import json_response
from offline_push.errors import (
    ExpiredUserToken,
    Forbidden,
    InvalidRequest,
    InvalidUserToken,
    MissingUserToken,
    Unauthorized,
)
from offline_push.logic.registrations import UserRef
from offline_push.models.app import VerificationKey, parse_sdk_app_id
from offline_push.models.registration import validate_user_id
from offline_push.untrusted import contain_panics

# Clock skew tolerated on exp / nbf / iat.
LEEWAY_SECONDS = 30
# Far above any real JWT; a bigger header is junk not worth parsing.
MAX_TOKEN_CHARS = 8192
REALM = "offline-push"

logger = Logger(child=True)

KeyLookup = Callable[[int], VerificationKey | None]


def bearer_token(event: BaseProxyEvent) -> str:
    header = event.headers.get("authorization") or event.headers.get("Authorization")
    if not header:
        raise MissingUserToken("this route needs an Authorization: Bearer <token> header")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise MissingUserToken("the Authorization header must be Bearer <token>")
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidUserToken("the bearer token is too long to be a user token")
    return token


def _audience_app(claims: dict[str, Any]) -> int:
    audience = claims.get("aud")
    if isinstance(audience, list) and len(audience) == 1:
        audience = audience[0]
    if not isinstance(audience, str):
        raise InvalidUserToken("the token's aud claim must be the sdkAppId, as a string")
    try:
        return parse_sdk_app_id(audience)
    except InvalidRequest:
        raise InvalidUserToken("the token's aud claim must be the sdkAppId, as a string") from None


def _check_numeric_dates(claims: dict[str, Any]) -> None:
    """RFC 7519: ``exp``, ``nbf`` and ``iat`` are NumericDates, JSON numbers. PyJWT would read
    ``"1700000000"`` as a number; a token that writes a date as a string is malformed, and refused."""
    for claim in ("exp", "nbf", "iat"):
        if claim not in claims:
            continue
        value = claims[claim]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidUserToken(f"the token's {claim} claim must be a number (a NumericDate, RFC 7519)")


def authenticate(token: str, keys: KeyLookup) -> UserRef:
    """The user the token proves, or :class:`Unauthorized` saying why not."""
    malformed = InvalidUserToken("the bearer token is not a well-formed JWT")
    try:
        with contain_panics(lambda: malformed):
            unverified = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError, OverflowError):
        # RecursionError: a payload of nested arrays; the others: what PyJWT lets through of odd JSON.
        raise malformed from None
    _check_numeric_dates(unverified)
    sdk_app_id = _audience_app(unverified)
    key = keys(sdk_app_id)
    if key is None:
        raise InvalidUserToken("the token's audience is not an app with a user-auth key")
    try:
        with contain_panics(lambda: InvalidUserToken("the token's signature could not be verified")):
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm.value],
                audience=str(sdk_app_id),
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "sub", "aud"], "enforce_minimum_key_length": True},
            )
    except jwt.ExpiredSignatureError:
        raise ExpiredUserToken("the token has expired: get a new one from the app's server") from None
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidUserToken(f"the token has no {exc.claim} claim") from None
    except jwt.InvalidAlgorithmError:
        raise InvalidUserToken(
            f"the token must be signed with {key.algorithm.value}, the app's algorithm"
        ) from None
    except jwt.InvalidSignatureError:
        raise InvalidUserToken("the token's signature does not verify with the app's key") from None
    except jwt.ImmatureSignatureError:
        raise InvalidUserToken("the token is not valid yet (nbf / iat in the future)") from None
    except jwt.InvalidAudienceError:
        raise InvalidUserToken("the token's audience is not the app") from None
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError, OverflowError):
        raise InvalidUserToken("the token is not valid") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidUserToken("the token's sub claim must be the userId")
    return UserRef(sdk_app_id=sdk_app_id, user_id=subject)


def authorize(user: UserRef, path_sdk_app_id: str, path_user_id: str) -> UserRef:
    """:class:`Forbidden` unless the path's app and user are the token's."""
    try:
        sdk_app_id = parse_sdk_app_id(path_sdk_app_id)
    except InvalidRequest:
        sdk_app_id = None
    if sdk_app_id != user.sdk_app_id:
        raise Forbidden(f"the token is for app {user.sdk_app_id}: it cannot act in another app")
    if unquote(path_user_id) != user.user_id:
        raise Forbidden("the token is for another user: a user can only change their own registrations")
    validate_user_id(user.user_id)
    return user


def require_user(event: BaseProxyEvent, path_sdk_app_id: str, path_user_id: str, keys: KeyLookup) -> UserRef:
    """Authenticate the request's bearer token and check it may act on the path's user."""
    return authorize(authenticate(bearer_token(event), keys), path_sdk_app_id, path_user_id)


def add_bearer_challenge(
    app: APIGatewayHttpResolver, on_reject: Callable[[Unauthorized], None] | None = None
) -> None:
    """401 answers carry ``WWW-Authenticate: Bearer`` (RFC 6750), with ``error="invalid_token"`` when a
    token was sent but refused. ``on_reject`` sees each refusal (to count them, say)."""

    @app.exception_handler(Unauthorized)
    def _unauthorized(exc: Unauthorized) -> Response[str]:
        logger.info("request rejected", extra={"code": exc.code, "error": exc.message})
        if on_reject is not None:
            on_reject(exc)
        challenge = f'Bearer realm="{REALM}"'
        if not isinstance(exc, MissingUserToken):
            challenge += ', error="invalid_token"'
        return json_response(
            HTTPStatus.UNAUTHORIZED,
            {"code": exc.code, "message": exc.message},
            headers={"WWW-Authenticate": challenge},
        )
