"""Malformed requests to the registration, settings and deliveries routes: each a 4xx naming the problem,
nothing changed. A misspelt query parameter is refused rather than ignored (``?Token=`` must not log the user
out of every device), JSON routes take only ``application/json``, and text that is not Unicode is refused at
the edge."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import pytest

from functions.apps import app as apps_function
from functions.deliveries import app as deliveries_function
from functions.registrations import app as registrations_function
from tests.support.events import LambdaContext, http_event, response_json
from tests.support.user_tokens import SAMPLE_SDK_APP_ID, SAMPLE_USER_ID, hmac_key, user_token

from .conftest import Stack

TOKEN = "a1" * 32
APNS = f"/v1/apps/{SAMPLE_SDK_APP_ID}/users/{SAMPLE_USER_ID}/apns"
BADGE = f"/v1/apps/{SAMPLE_SDK_APP_ID}/users/{SAMPLE_USER_ID}/badge"
SETTINGS = f"/v1/apps/{SAMPLE_SDK_APP_ID}/settings"
DELIVERIES = f"/v1/apps/{SAMPLE_SDK_APP_ID}/users/{SAMPLE_USER_ID}/deliveries"


def _send(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    method: str,
    path: str,
    *,
    raw_query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    admin: bool = False,
    user: bool = False,
) -> tuple[int, Any]:
    all_headers = dict(headers or {})
    if user:
        all_headers["authorization"] = f"Bearer {user_token(hmac_key(), sub=SAMPLE_USER_ID)}"
    event = http_event(method, path, headers=all_headers, body=body, admin=admin)
    event["rawQueryString"] = raw_query
    # API Gateway's own reading of the query: values decoded, repeated ones joined with commas.
    parameters: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
    if parameters:
        event["queryStringParameters"] = parameters
    raw = handler(event, LambdaContext())
    return raw["statusCode"], response_json(raw)


def _register(stack: Stack) -> None:
    status, _ = _send(
        registrations_function.lambda_handler,
        "PUT",
        APNS,
        headers={"content-type": "application/json"},
        body=json.dumps({"businessId": 1, "token": TOKEN}).encode(),
        user=True,
    )
    assert status == HTTPStatus.OK


@pytest.mark.parametrize(
    ("raw_query", "message"),
    [
        (f"Token={TOKEN}", "unknown query parameter(s) 'Token'; this route takes: token"),
        ("token[]=1", "unknown query parameter(s) 'token[]'; this route takes: token"),
        ("&&&", "the query string is malformed"),
        (f"token={TOKEN}&token={TOKEN}", "a query parameter is given more than once"),
        ("token=%ff", "the query string is malformed"),
    ],
)
def test_a_logout_with_a_malformed_query_is_refused_and_removes_nothing(
    stack: Stack, raw_query: str, message: str
) -> None:
    # Given vinson's device
    _register(stack)
    before = stack.stored_state()

    # When the app logs out with a misspelt or malformed query
    status, body = _send(
        registrations_function.lambda_handler, "DELETE", APNS, raw_query=raw_query, user=True
    )

    # Then it is refused, and the device is still registered
    assert (status, body) == (HTTPStatus.BAD_REQUEST, {"code": "InvalidRequest", "message": message})
    assert stack.stored_state() == before


@pytest.mark.parametrize(
    ("handler", "method", "path", "body", "user"),
    [
        (registrations_function.lambda_handler, "PUT", APNS, {"businessId": 1, "token": TOKEN}, True),
        (registrations_function.lambda_handler, "PUT", BADGE, {"unread": 1}, True),
        (apps_function.lambda_handler, "PUT", SETTINGS, {"kickPolicy": "multi"}, False),
    ],
)
@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_json_routes_refuse_other_content_types_with_415(  # noqa: PLR0917 - one case per route
    stack: Stack,
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    method: str,
    path: str,
    body: dict[str, Any],
    user: bool,
    content_type: str | None,
) -> None:
    before = stack.stored_state()
    headers = {"content-type": content_type} if content_type else {}

    status, answer = _send(
        handler, method, path, headers=headers, body=json.dumps(body).encode(), user=user, admin=not user
    )

    assert (status, answer) == (
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        {
            "code": "UnsupportedMediaType",
            "message": "send the body as Content-Type: application/json (optionally; charset=utf-8)",
        },
    )
    assert stack.stored_state() == before


def test_json_with_a_utf8_charset_is_accepted(stack: Stack) -> None:
    status, _ = _send(
        registrations_function.lambda_handler,
        "PUT",
        BADGE,
        headers={"content-type": "Application/JSON; charset=UTF-8"},
        body=b'{"unread": 2}',
        user=True,
    )
    assert status == HTTPStatus.OK


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"businessId": 1, "token": "\xff\xfe"}', "the request body is not valid UTF-8"),
        (b"[" * 10_000 + b"]" * 10_000, "the request body is nested deeper than 32 levels"),
        (
            b'{"businessId": 1, "token": "\\ud800"}',
            "the request body has a string with a lone surrogate (not Unicode text)",
        ),
        (b'{"businessId": ' + b"9" * 10_000 + b"}", "the request body is not valid JSON"),
    ],
)
def test_unreadable_registration_bodies_are_400s(stack: Stack, body: bytes, message: str) -> None:
    before = stack.stored_state()

    status, answer = _send(
        registrations_function.lambda_handler,
        "PUT",
        APNS,
        headers={"content-type": "application/json"},
        body=body,
        user=True,
    )

    assert (status, answer) == (HTTPStatus.BAD_REQUEST, {"code": "InvalidRequest", "message": message})
    assert stack.stored_state() == before


def test_an_hs256_secret_with_a_lone_surrogate_is_refused_and_the_key_kept(stack: Stack) -> None:
    # Given the app's settings with its key
    before = stack.stored_state()

    # When an admin sets a secret holding a lone surrogate (as some JavaScript clients produce)
    body = b'{"userAuth": {"algorithm": "HS256", "secret": "0123456789abcdef0123456789abcdef\\udc00"}}'
    status, answer = _send(
        apps_function.lambda_handler,
        "PUT",
        SETTINGS,
        headers={"content-type": "application/json"},
        body=body,
        admin=True,
    )

    # Then it is a 400 and nothing changed
    assert (status, answer) == (
        HTTPStatus.BAD_REQUEST,
        {
            "code": "InvalidRequest",
            "message": "the request body has a string with a lone surrogate (not Unicode text)",
        },
    )
    assert stack.stored_state() == before


@pytest.mark.parametrize(
    ("raw_query", "message"),
    [
        ("limit=%C2%B2", "limit must be a whole number from 1 to 100"),  # ²
        ("limit=%E2%91%A0", "limit must be a whole number from 1 to 100"),  # ①
        ("limit=" + "9" * 5_000, "limit must be a whole number from 1 to 100"),
        ("limit=%EF%BC%95", "limit must be a whole number from 1 to 100"),
        ("Limit=5", "unknown query parameter(s) 'Limit'; this route takes: cursor, limit"),
    ],
)
def test_the_deliveries_page_size_takes_ascii_digits_only(stack: Stack, raw_query: str, message: str) -> None:
    deliveries_function.reports.cache_clear()

    status, answer = _send(
        deliveries_function.lambda_handler, "GET", DELIVERIES, raw_query=raw_query, admin=True
    )

    assert (status, answer) == (HTTPStatus.BAD_REQUEST, {"code": "InvalidRequest", "message": message})
