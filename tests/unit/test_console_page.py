"""The console's page as the stack serves it: its files, its sign-in configuration, its security headers,
and nothing else under /console."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import pytest

from functions.console import app as console_function
from offline_push.api.console import ASSETS, ConsoleConfig, SignIn, console_response
from tests.support.events import LambdaContext, http_event

DEPLOYED = ConsoleConfig(
    sign_in=SignIn.COGNITO,
    region="eu-west-1",
    user_pool_id="eu-west-1_AbCdEf123",
    user_pool_client_id="4l1ent1d0123456789abcdefgh",
    identity_pool_id="eu-west-1:0f1e2d3c-aaaa-bbbb-cccc-0123456789ab",
)
LOCAL = ConsoleConfig(sign_in=SignIn.ADMIN_KEY)
COGNITO_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' https://cognito-idp.eu-west-1.amazonaws.com "
    "https://cognito-identity.eu-west-1.amazonaws.com; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)


@pytest.mark.parametrize("path", ["/console", "/console/", "/console/index.html"])
def test_the_page_is_served_with_headers_that_allow_only_its_own_scripts(path: str) -> None:
    # When a browser opens the console
    answer = console_response("GET", path, DEPLOYED)

    # Then it gets the page, with a policy allowing its own files and Cognito's endpoints only
    assert (answer.status, answer.body) == (
        HTTPStatus.OK,
        (ASSETS / "index.html").read_text(encoding="utf-8"),
    )
    assert answer.headers == {
        "content-security-policy": COGNITO_CSP,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-cache",
        "content-type": "text/html; charset=utf-8",
    }


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("console.js", "text/javascript; charset=utf-8"),
        ("sigv4.js", "text/javascript; charset=utf-8"),
        ("signin.js", "text/javascript; charset=utf-8"),
        ("i18n.js", "text/javascript; charset=utf-8"),
        ("console.css", "text/css; charset=utf-8"),
    ],
)
def test_each_file_of_the_page_is_served_with_its_type(name: str, content_type: str) -> None:
    answer = console_response("GET", f"/console/{name}", LOCAL)

    assert (answer.status, answer.headers["content-type"], answer.body) == (
        HTTPStatus.OK,
        content_type,
        (ASSETS / name).read_text(encoding="utf-8"),
    )


def test_the_deployed_configuration_names_the_pools_and_no_secret() -> None:
    answer = console_response("GET", "/console/config.json", DEPLOYED)

    assert (answer.status, json.loads(answer.body)) == (
        HTTPStatus.OK,
        {
            "signIn": "cognito",
            "region": "eu-west-1",
            "userPoolId": "eu-west-1_AbCdEf123",
            "userPoolClientId": "4l1ent1d0123456789abcdefgh",
            "identityPoolId": "eu-west-1:0f1e2d3c-aaaa-bbbb-cccc-0123456789ab",
        },
    )


def test_the_local_configuration_signs_in_with_the_admin_key_and_connects_only_to_itself() -> None:
    answer = console_response("GET", "/console/config.json", LOCAL)

    assert json.loads(answer.body) == {"signIn": "admin-key"}
    assert "connect-src 'self';" in answer.headers["content-security-policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/console/../template.yaml",
        "/console/..%2Fapi%2Fconsole.py",
        "/console/console.py",
        "/console/sub/console.js",
        "/consolex",
        "/console/.env",
    ],
)
def test_nothing_but_the_pages_files_is_served(path: str) -> None:
    answer = console_response("GET", path, LOCAL)

    assert (answer.status, json.loads(answer.body)) == (
        HTTPStatus.NOT_FOUND,
        {"code": "NotFound", "message": "no such console page"},
    )


def test_the_page_is_only_read() -> None:
    answer = console_response("POST", "/console", LOCAL)

    assert (answer.status, answer.headers["allow"], json.loads(answer.body)) == (
        HTTPStatus.METHOD_NOT_ALLOWED,
        "GET, HEAD",
        {"code": "MethodNotAllowed", "message": "the console is read with GET"},
    )


def test_the_function_serves_the_configuration_from_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the variables template.yaml sets for ConsoleFunction (AWS_REGION is Lambda's own)
    console_function.config.cache_clear()
    for name, value in {
        "AWS_REGION": "eu-west-1",
        "CONSOLE_USER_POOL_ID": DEPLOYED.user_pool_id,
        "CONSOLE_USER_POOL_CLIENT_ID": DEPLOYED.user_pool_client_id,
        "CONSOLE_IDENTITY_POOL_ID": DEPLOYED.identity_pool_id,
    }.items():
        monkeypatch.setenv(name, value)

    # When API Gateway passes GET /console/config.json
    context: Any = LambdaContext()  # the fields Lambda's context has, not its class
    answer = console_function.lambda_handler(http_event("GET", "/console/config.json"), context)
    console_function.config.cache_clear()

    # Then the answer is the deployed configuration, in payload 2.0 form
    assert answer == {
        "statusCode": 200,
        "headers": {
            "content-security-policy": COGNITO_CSP,
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            "cache-control": "no-cache",
            "content-type": "application/json",
        },
        "body": json.dumps(DEPLOYED.public_view()),
    }
