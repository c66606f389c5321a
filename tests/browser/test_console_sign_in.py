"""The deployed console's sign-in, as far as this machine allows: the page's own Cognito flow (user pool
password sign-in, the invited user's new password, identity pool credentials) against moto's Cognito, and
every admin API call it then makes signed with those credentials, verified by recomputing the signature with
botocore before the local API (which checks its admin key in place of SigV4) answers it.

The browser reaches Cognito's AWS hostnames only through Playwright's routing to moto's server on 127.0.0.1:
nothing leaves this machine."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from playwright.sync_api import Browser, Page, Request, Route, expect

from tests.browser.conftest import SDK_APP_ID, ConsoleWorld, screenshot

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

REGION = "us-east-1"
EMAIL = "ops@example.com"
TEMPORARY_PASSWORD = "Temporary-Password-1"
NEW_PASSWORD = "Chosen-Password-12345"


@dataclass
class Cognito:
    user_pool_id: str
    client_id: str
    identity_pool_id: str
    issued: list[dict[str, Any]] = field(default_factory=list)  # credentials moto handed to the page
    calls: list[str] = field(default_factory=list)  # the page's calls to Cognito, in order
    verified: list[str] = field(default_factory=list)  # API calls whose signature botocore reproduced
    refused: list[str] = field(default_factory=list)


@pytest.fixture
def cognito(world: ConsoleWorld) -> Cognito:
    """A user pool with an invited admin (temporary password), its client and an identity pool, in moto."""
    idp = world.stack.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="offline-push-console", UsernameAttributes=["email"])["UserPool"][
        "Id"
    ]
    client = idp.create_user_pool_client(
        UserPoolId=pool,
        ClientName="console",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    idp.create_group(GroupName="admins", UserPoolId=pool)
    idp.admin_create_user(
        UserPoolId=pool,
        Username=EMAIL,
        TemporaryPassword=TEMPORARY_PASSWORD,
        UserAttributes=[{"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}],
    )
    idp.admin_add_user_to_group(UserPoolId=pool, Username=EMAIL, GroupName="admins")
    identity_pool = world.stack.client("cognito-identity").create_identity_pool(
        IdentityPoolName="offline_push_console",
        AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[
            {"ProviderName": f"cognito-idp.{REGION}.amazonaws.com/{pool}", "ClientId": client}
        ],
    )["IdentityPoolId"]
    return Cognito(pool, client, identity_pool)


def signature_of(request: Request, credentials: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    """botocore's Authorization header for the request as the browser sent it, at the time it was signed."""
    headers = request.headers
    signed_at = dt.datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: signed_at)
    body = request.post_data_buffer or b""
    copied = {"content-type": headers["content-type"]} if "content-type" in headers else {}
    aws_request = AWSRequest(method=request.method, url=request.url, data=body, headers=copied)
    botocore.auth.SigV4Auth(
        Credentials(credentials["AccessKeyId"], credentials["SecretKey"], credentials["SessionToken"]),
        "execute-api",
        REGION,
    ).add_auth(aws_request)
    return str(aws_request.headers["Authorization"])


@pytest.fixture
def signed_page(
    browser: Browser, world: ConsoleWorld, cognito: Cognito, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Page]:
    # The deployed page's CSP allows Cognito's hosts, the local one only itself: CSP is bypassed, not routing.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    config = {
        "signIn": "cognito",
        "region": REGION,
        "userPoolId": cognito.user_pool_id,
        "userPoolClientId": cognito.client_id,
        "identityPoolId": cognito.identity_pool_id,
    }

    def serve_config(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(config))

    def to_moto(route: Route) -> None:
        answer = route.fetch(url=world.stack.aws.endpoint_url + "/")
        body = answer.body()
        target = route.request.headers.get("x-amz-target", "").rsplit(".", 1)[-1]
        flow = json.loads(route.request.post_data or "{}").get("AuthFlow")
        cognito.calls.append(f"{target} {flow}" if flow else target)
        if route.request.headers.get("x-amz-target", "").endswith("GetCredentialsForIdentity") and answer.ok:
            cognito.issued.append(json.loads(body)["Credentials"])
        route.fulfill(
            status=answer.status,
            body=body,
            headers={
                "content-type": answer.headers.get("content-type", "application/json"),
                "access-control-allow-origin": "*",
            },
        )

    def as_api_gateway(route: Route) -> None:
        request = route.request
        presented = request.headers.get("authorization", "")
        name = f"{request.method} {urllib.parse.urlsplit(request.url).path}"
        if any(presented == signature_of(request, issued, monkeypatch) for issued in cognito.issued):
            cognito.verified.append(name)
            headers = {
                key: value
                for key, value in request.headers.items()
                if key not in ("authorization", "x-amz-date", "x-amz-security-token")
            }
            route.continue_(headers={**headers, "x-admin-key": world.stack.admin_key})
        else:
            cognito.refused.append(name)
            route.fulfill(status=403, content_type="application/json", body='{"message":"Forbidden"}')

    page.route(f"{world.console_url}/config.json", serve_config)
    page.route(f"https://cognito-idp.{REGION}.amazonaws.com/", to_moto)
    page.route(f"https://cognito-identity.{REGION}.amazonaws.com/", to_moto)
    page.route(f"{world.stack.api_url}/v1/**", as_api_gateway)
    yield page
    context.close()


def test_an_invited_admin_signs_in_chooses_a_password_and_every_call_is_signed(
    signed_page: Page, world: ConsoleWorld, cognito: Cognito
) -> None:
    page = signed_page
    # Given the deployed console's sign-in form
    page.goto(world.console_url)
    expect(page.get_by_label("Admin key")).to_be_hidden()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(TEMPORARY_PASSWORD)
    screenshot(page, "20-cognito-sign-in")

    # When the invited admin signs in with the temporary password, then chooses their own
    page.get_by_role("button", name="Sign in").click()
    new_password = page.get_by_label("New password")
    expect(new_password).to_be_focused()
    screenshot(page, "21-cognito-new-password")
    new_password.fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Then the apps page loads through signed calls, and adding a certificate is signed too (body included)
    page.get_by_role("heading", name="Apps", exact=True).wait_for()
    page.get_by_label("Open app").fill(str(SDK_APP_ID))
    page.get_by_role("button", name="Open app").click()
    page.get_by_role("heading", name=f"App {SDK_APP_ID}").wait_for()
    page.get_by_label("Algorithm").select_option("HS256")
    page.get_by_label("HS256 secret (at least 32 bytes)").fill("console-sign-in-test-secret-0123456789abcdef")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_have_text("Settings saved.")
    assert cognito.refused == []
    assert cognito.calls[:4] == [
        "InitiateAuth USER_PASSWORD_AUTH",
        "RespondToAuthChallenge",
        "GetId",
        "GetCredentialsForIdentity",
    ]
    # moto's credentials come already expired: each later call renewed them with the refresh token
    assert "InitiateAuth REFRESH_TOKEN_AUTH" in cognito.calls[4:]
    assert set(cognito.verified) >= {
        "GET /v1/apps",
        f"GET /v1/apps/{SDK_APP_ID}/certificates",
        f"GET /v1/apps/{SDK_APP_ID}/settings",
        f"PUT /v1/apps/{SDK_APP_ID}/settings",
    }

    # And no credential is kept where it would outlive the tab
    stored = page.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    for issued in cognito.issued:
        for secret in (issued["SecretKey"], issued["SessionToken"], NEW_PASSWORD, TEMPORARY_PASSWORD):
            assert secret not in stored
    assert page.get_by_label("Password", exact=True).input_value() == ""


def test_a_wrong_password_is_refused_at_sign_in(
    signed_page: Page, world: ConsoleWorld, cognito: Cognito
) -> None:
    page = signed_page
    page.goto(world.console_url)
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill("Not-The-Password-1")
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator("#signin-error")).to_contain_text("Sign-in failed:")
    assert (cognito.calls, cognito.issued, cognito.verified) == (["InitiateAuth USER_PASSWORD_AUTH"], [], [])
